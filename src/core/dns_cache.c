/* The per-process DNS cache: answers (positive and negative) keyed by name, type and whether the
 * DO bit was asked for, kept until their TTL runs out. Negative answers live for the SOA's
 * negative TTL (RFC 2308); answers with TTL 0 are not kept. Entries live in their own arena; when
 * the cache grows past its bound it is emptied at once (a stub resolver in front of a caching
 * server needs only to avoid repeating the same lookups within a connection or a delivery). */
#include <string.h>
#include <time.h>

#include "core/dns_internal.h"

#define DNS_CACHE_MAX 2048

typedef struct cache_entry {
	struct cache_entry *next;
	char *key;
	time_t expires;
	dns_answer ans;
} cache_entry;

static arena *cache_arena;
static cache_entry *buckets[256];
static size_t nentries;

static unsigned hash_key(const char *k)
{
	unsigned h = 5381;
	for (; *k; k++)
		h = h * 33 + (unsigned char)*k;
	return h & 255;
}

static char *make_key(arena *a, sv name, int type, bool dnssec)
{
	char *k = arena_printf(a, "%d%c%.*s", type, dnssec ? 'D' : '-', SV_ARG(name));
	for (char *p = k; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return k;
}

void dns_cache_flush(void)
{
	if (cache_arena)
		arena_clear(cache_arena);
	memset(buckets, 0, sizeof buckets);
	nentries = 0;
}

bool dns_cache_get(arena *a, sv name, int type, bool dnssec, dns_answer *out)
{
	if (!cache_arena)
		return false;
	arena_mark m = arena_getmark(pool_scratch);
	char *k = make_key(pool_scratch, name, type, dnssec);
	cache_entry *e = buckets[hash_key(k)];
	while (e && strcmp(e->key, k) != 0)
		e = e->next;
	arena_reset(pool_scratch, m);
	if (!e || e->expires <= time(NULL))
		return false;
	*out = e->ans;
	out->rrs = dns_rr_copy_list(a, e->ans.rrs);
	out->canonical = sv_copy(a, e->ans.canonical);
	out->min_ttl = (uint32_t)(e->expires - time(NULL));
	return true;
}

void dns_cache_put(sv name, int type, bool dnssec, const dns_answer *ans, uint32_t ttl)
{
	if (ttl == 0 || (ans->rc != DNS_SUCCEED && ans->rc != DNS_NOMATCH && ans->rc != DNS_NODATA))
		return;
	if (!cache_arena)
		cache_arena = arena_new("dns_cache");
	if (nentries >= DNS_CACHE_MAX)
		dns_cache_flush();
	cache_entry *e = arena_calloc(cache_arena, 1, sizeof *e);
	e->key = make_key(cache_arena, name, type, dnssec);
	e->expires = time(NULL) + (time_t)ttl;
	e->ans = *ans;
	e->ans.rrs = dns_rr_copy_list(cache_arena, ans->rrs);
	e->ans.canonical = sv_copy(cache_arena, ans->canonical);
	unsigned h = hash_key(e->key);
	e->next = buckets[h];
	buckets[h] = e;
	nentries++;
}
