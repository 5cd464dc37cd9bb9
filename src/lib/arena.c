/* Arena allocator: a chain of mmap'd blocks, newest first; see arena.h for the lifetimes. */
#include "lib/arena.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALIGN 16

/* Under AddressSanitizer, arena memory is made visible to it: a new block is poisoned, each
 * allocation unpoisons exactly its bytes and is followed by a poisoned red zone, and memory
 * released by a reset is poisoned again. Otherwise an overflow from one arena allocation into
 * the next (or a use after arena_reset) goes unseen by the sanitizer builds and fuzz targets. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define REDZONE ALIGN
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define REDZONE 0
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif
#define BLOCK_MIN (64 * 1024)

typedef struct block {
	struct block *prev;
	size_t size;   /* usable bytes after the header */
	size_t used;
	size_t mapped; /* total bytes of the mapping, header included */
} block;

#define HDR ((sizeof(block) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

struct arena {
	block *top;
	const char *name;
	void *last;       /* most recent allocation, for in-place growth */
	int protected_;
};

arena *pool_perm, *pool_config, *pool_conn, *pool_msg, *pool_scratch, *pool_search;

static void die_oom(const char *what, size_t n)
{
	fprintf(stderr, "postern: out of memory in arena %s (%zu bytes)\n", what, n);
	abort();
}

/* Blocks freed by a reset, kept for the next block_new: a session's scratch arenas take and
 * give back a block or two per SMTP command, and a queue run's worker grows its message arena
 * past the first block for every message (a 128 KB and a 256 KB block: the -H read buffer and
 * what follows it); a fresh mapping costs an mmap, an munmap and a page fault (zeroed page) for
 * every page touched again. Blocks up to CACHE_BLOCK_MAX are kept, CACHE_MAX of them (a worker
 * frees five per message); a new
 * block takes the smallest cached one that is large enough. Process-wide, like the arenas
 * themselves, which only the main thread uses (a CLONE_VM delivery child runs while its parent
 * waits). */
#define CACHE_MAX 8
#define CACHE_BLOCK_MAX (1024 * 1024)
static block *cache[CACHE_MAX];
static size_t cached;

static void block_release(block *b, bool cacheable)
{
	if (cacheable && b->mapped <= CACHE_BLOCK_MAX && cached < CACHE_MAX) {
		POISON((char *)b + HDR, b->size);
		cache[cached++] = b;
		return;
	}
	UNPOISON((char *)b + HDR, b->size); /* the address range may be reused */
	munmap(b, b->mapped);
}

/* The smallest cached block of at least total bytes, taken out of the cache; NULL if none. */
static block *cache_take(size_t total)
{
	size_t best = cached;
	for (size_t i = 0; i < cached; i++)
		if (cache[i]->mapped >= total && (best == cached || cache[i]->mapped < cache[best]->mapped))
			best = i;
	if (best == cached)
		return NULL;
	block *b = cache[best];
	cache[best] = cache[--cached];
	return b;
}

static block *block_new(arena *a, size_t want)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (want > SIZE_MAX / 2)
		die_oom(a->name, want);
	size_t total = want + HDR;
	if (total < BLOCK_MIN)
		total = BLOCK_MIN;
	total = (total + page - 1) & ~(page - 1);
	block *b = total <= CACHE_BLOCK_MAX ? cache_take(total) : NULL;
	if (b) {
		total = b->mapped; /* all of it usable: it may be larger than asked for */
	} else {
		void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die_oom(a->name, want);
		b = p;
	}
	b->prev = a->top;
	b->size = total - HDR;
	b->used = 0;
	b->mapped = total;
	a->top = b;
	POISON((char *)b + HDR, b->size);
	return b;
}

arena *arena_new(const char *name)
{
	arena *a = calloc(1, sizeof *a);
	if (!a)
		die_oom(name, sizeof *a);
	a->name = name;
	return a;
}

void arena_free(arena *a)
{
	if (!a)
		return;
	arena_clear(a);
	free(a);
}

void *arena_alloc(arena *a, size_t size)
{
	if (a->protected_) {
		fprintf(stderr, "postern: allocation from read-only arena %s\n", a->name);
		abort();
	}
	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - ALIGN - REDZONE)
		die_oom(a->name, size);
	size_t need = (size + REDZONE + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	block *b = a->top;
	if (!b || b->size - b->used < need) {
		/* Grow geometrically so a long-lived arena does not become a long chain. */
		size_t want = need;
		if (b && b->size * 2 > want && b->size < 16 * 1024 * 1024)
			want = b->size * 2;
		b = block_new(a, want);
	}
	void *p = (char *)b + HDR + b->used;
	b->used += need;
	a->last = p;
	UNPOISON(p, size);
	return p;
}

void *arena_calloc(arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		die_oom(a->name, SIZE_MAX);
	void *p = arena_alloc(a, n * size);
	memset(p, 0, n * size);
	return p;
}

void *arena_realloc(arena *a, void *old, size_t oldsize, size_t newsize)
{
	if (old && old == a->last && a->top) {
		block *b = a->top;
		char *start = (char *)b + HDR;
		size_t off = (size_t)((char *)old - start);
		size_t need = (newsize + REDZONE + ALIGN - 1) & ~(size_t)(ALIGN - 1);
		if (newsize <= SIZE_MAX - ALIGN - REDZONE && need <= b->size - off) {
			POISON((char *)old, b->used - off);
			b->used = off + need;
			UNPOISON(old, newsize ? newsize : 1);
			return old;
		}
	}
	void *p = arena_alloc(a, newsize);
	if (old)
		memcpy(p, old, oldsize < newsize ? oldsize : newsize);
	return p;
}

void *arena_memdup(arena *a, const void *p, size_t n)
{
	void *q = arena_alloc(a, n);
	if (n)
		memcpy(q, p, n);
	return q;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
	char *q = arena_alloc(a, n + 1);
	if (n)
		memcpy(q, s, n);
	q[n] = 0;
	return q;
}

char *arena_strdup(arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(arena *a, const char *fmt, va_list ap)
{
	/* Short texts (most: paths, names) are formatted once, on the stack, and copied; only a
	 * longer one is formatted a second time into its allocation. */
	char small[256];
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(small, sizeof small, fmt, aq);
	va_end(aq);
	if (n < 0) {
		n = 0;
		small[0] = 0;
	}
	char *p = arena_alloc(a, (size_t)n + 1);
	if ((size_t)n < sizeof small)
		memcpy(p, small, (size_t)n + 1);
	else
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

arena_mark arena_getmark(const arena *a)
{
	arena_mark m = { a->top, a->top ? a->top->used : 0 };
	return m;
}

void arena_reset(arena *a, arena_mark m)
{
	while (a->top && a->top != m.block) {
		block *prev = a->top->prev;
		block_release(a->top, !a->protected_); /* a read-only block would fault when reused */
		a->top = prev;
	}
	if (a->top) {
		a->top->used = m.used;
		POISON((char *)a->top + HDR + m.used, a->top->size - m.used);
	}
	a->last = NULL;
}

void arena_clear(arena *a)
{
	arena_mark none = { NULL, 0 };
	arena_unprotect(a);
	arena_reset(a, none);
}

static void set_prot(arena *a, int prot)
{
	for (block *b = a->top; b; b = b->prev)
		mprotect(b, b->mapped, prot);
}

void arena_protect(arena *a)
{
	/* The header stays readable (PROT_READ) so chains can still be walked and freed. */
	set_prot(a, PROT_READ);
	a->protected_ = 1;
}

void arena_unprotect(arena *a)
{
	if (a->protected_)
		set_prot(a, PROT_READ | PROT_WRITE);
	a->protected_ = 0;
}

size_t arena_bytes_in_use(const arena *a)
{
	size_t n = 0;
	for (const block *b = a->top; b; b = b->prev)
		n += b->used;
	return n;
}

const char *arena_name(const arena *a)
{
	return a->name;
}

void arena_init_pools(void)
{
	if (pool_perm)
		return;
	pool_perm = arena_new("perm");
	pool_config = arena_new("config");
	pool_conn = arena_new("connection");
	pool_msg = arena_new("message");
	pool_scratch = arena_new("scratch");
	pool_search = arena_new("search");
}
