/* The message writer: a message out of the spool the way Exim 4.96's transports write it.
 *
 * One pull-form generator does the work (tp_reader); tp_write_fd drives it into a descriptor and
 * tp_reader_measure counts what it would produce. The output is made in stages: the prefix (as
 * given), the header section (built in memory by tp_write_headers.c: headers are bounded by
 * header_maxsize), the body streamed from the -D file in 64 KB pieces, and the suffix. With a
 * transport_filter the header section and body go raw into the filter (tp_write_filter.c) and
 * the line rules apply to what it writes back, as Exim does. Memory stays constant whatever
 * the body's size.
 */
#include "core/tp_write.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/tp_write_internal.h"
#include "core/transport.h"

#define TPW_CHUNK 65536
#define BODY_START (MSG_ID_LEN + 3)   /* "<id>-D\n" */

/* ---- the line rules ---- */

void tpw_xform_init(tpw_xform *x, const tp_write_opts *o, bool crlf, bool dot)
{
	memset(x, 0, sizeof *x);
	x->crlf = crlf;
	x->dot = dot;
	if (o->check_string.len && o->escape_string.p) {
		x->check = o->check_string.p;
		x->check_len = o->check_string.len;
		x->escape = o->escape_string.p;
		x->escape_len = o->escape_string.len;
	}
	x->bol = true;
}

void tpw_xform_section(tpw_xform *x, bool check_on)
{
	x->bol = true;
	x->partial = 0;
	x->check_on = check_on && x->check_len > 0;
}

void tpw_xform_feed(tpw_xform *x, const char *p, size_t n, xbuf *out)
{
	size_t i = 0;
	xbuf_reserve(out, n + n / 8 + 16);
	while (i < n) {
		if (x->bol && x->check_on) {
			/* Match check_string at the start of the line, possibly continuing a partial
			 * match from the previous chunk. */
			size_t want = x->check_len - x->partial;
			size_t have = n - i < want ? n - i : want;
			if (memcmp(p + i, x->check + x->partial, have) == 0) {
				if (have < want) {       /* the chunk ends inside the check string */
					x->partial += have;
					return;
				}
				xbuf_put(out, x->escape, x->escape_len);
				i += have;
				x->partial = 0;
				x->bol = false;
				continue;
			}
			/* No match: what was held back is ordinary text. */
			if (x->partial) {
				xbuf_put(out, x->check, x->partial);
				x->partial = 0;
				x->bol = false;
				if (x->dot && x->check[0] == '.')
					xbuf_putc(out, '.');
			}
		}
		/* Copy up to the end of the line in one piece. */
		if (x->bol && x->dot && p[i] == '.')
			xbuf_putc(out, '.');
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n;
		xbuf_put(out, p + i, end - i);
		i = end;
		if (nl) {
			if (x->crlf)
				xbuf_putc(out, '\r');
			xbuf_putc(out, '\n');
			i++;
			x->bol = true;
		} else {
			x->bol = false;
		}
	}
}

void tpw_xform_flush(tpw_xform *x, xbuf *out)
{
	if (x->partial) {
		if (x->dot && x->check[0] == '.')
			xbuf_putc(out, '.');
		xbuf_put(out, x->check, x->partial);
		x->partial = 0;
		x->bol = false;
	}
}

void tpw_error(const tp_write_opts *o, xbuf *err, const char *head, const char *tail)
{
	xbuf_puts(err, head);
	if (o->dest_name) {
		xbuf_puts(err, " while writing to ");
		xbuf_puts(err, o->dest_name);
	}
	if (tail && *tail) {
		xbuf_puts(err, ": ");
		xbuf_puts(err, tail);
	}
}

/* ---- message_size_limit ---- */

static bool parse_size(sv v, long long *out)
{
	v = sv_trim(v);
	if (!v.len)
		return false;
	long long mult = 1;
	char last = v.p[v.len - 1];
	if (last == 'k' || last == 'K')
		mult = 1024;
	else if (last == 'm' || last == 'M')
		mult = 1024 * 1024;
	else if (last == 'g' || last == 'G')
		mult = 1024LL * 1024 * 1024;
	if (mult != 1)
		v.len--;
	long long n;
	if (!sv_to_long(v, &n) || n < 0 || n > (1LL << 50))
		return false;
	*out = n * mult;
	return true;
}

int tp_message_size_check(const driver_instance *t, xp_env *env, const message *m, xbuf *err)
{
	const char *opt = t ? tp_opt_str(t, "message_size_limit") : NULL;
	if (!opt || !*opt)
		return 0;
	xbuf v, e;
	xbuf_init(&v, NULL);
	xbuf_init(&e, NULL);
	int rc = 0;
	long long limit = 0;
	if (xp_expand(env, sv_cstr(opt), &v, &e) != XP_OK) {
		xbuf_printf(err, "failed to expand message_size_limit for %s transport: %s", t->name,
			xbuf_cstr(&e));
		rc = -1;
	} else if (!parse_size(xbuf_sv(&v), &limit)) {
		xbuf_printf(err, "invalid message_size_limit for %s transport: %s", t->name, xbuf_cstr(&v));
		rc = -1;
	} else if (limit > 0 && m->size > limit) {
		xbuf_printf(err, "message is too big (transport limit = %lld)", limit);
		rc = 1;
	}
	xbuf_free(&v);
	xbuf_free(&e);
	return rc;
}

/* ---- the reader ---- */

enum stage { ST_PREFIX, ST_HEADERS, ST_BODY, ST_FILTER, ST_SUFFIX, ST_DONE, ST_FAILED };

struct tp_reader {
	arena *a;
	tp_write_opts o;
	unsigned flags;                /* effective TPW_* */
	enum stage stage;
	xbuf headers;                  /* the raw header section (arena a) */
	xbuf out;                      /* produced, not yet handed out (malloc: reused) */
	size_t out_pos;
	char *in;                      /* body read buffer (malloc) */
	off_t body_off;
	bool cr_held;                  /* wire-format spool: a CR at the end of the last piece */
	tpw_xform x;
	long long produced;
	char **filter_argv;            /* NULL: no transport_filter */
	tpw_filter filter;
	bool filter_running;
	int err_errno;
	xbuf err;
};

/* The effective flags: what the caller asked plus what the transport's options ask. */
static unsigned effective_flags(const tp_write_opts *o)
{
	unsigned f = o->flags;
	if (o->t) {
		if (tp_opt_bool(o->t, "body_only"))
			f |= TPW_NO_HEADERS;
		if (tp_opt_bool(o->t, "headers_only"))
			f |= TPW_NO_BODY;
		if (tp_opt_bool(o->t, "return_path_add"))
			f |= TPW_RETURN_PATH;
		if (tp_opt_bool(o->t, "envelope_to_add"))
			f |= TPW_ENVELOPE_TO;
		if (tp_opt_bool(o->t, "delivery_date_add"))
			f |= TPW_DELIVERY_DATE;
	}
	return f;
}

static void reader_fail(tp_reader *r, int errnum)
{
	r->err_errno = errnum;
	r->stage = ST_FAILED;
	if (r->filter_running) {
		tpw_filter_abort(&r->filter);
		r->filter_running = false;
	}
}

static void reader_start(tp_reader *r)
{
	r->stage = ST_PREFIX;
	r->body_off = BODY_START;
	r->cr_held = false;
	r->produced = 0;
	xbuf_reset(&r->out);
	r->out_pos = 0;
	tpw_xform_init(&r->x, &r->o, r->flags & TPW_CRLF, r->flags & TPW_DOT_STUFF);
}

static tp_reader *reader_new(arena *a, const tp_write_opts *o, bool use_filter, xbuf *err, int *errnum)
{
	*errnum = 0;
	tp_reader *r = arena_calloc(a, 1, sizeof *r);
	r->a = a;
	r->o = *o;
	r->flags = effective_flags(o);
	xbuf_init(&r->err, a);
	xbuf_init(&r->out, NULL);
	xbuf_init(&r->headers, a);
	if (!(r->flags & TPW_NO_HEADERS) || use_filter) {
		if (!tpw_build_headers(a, o, r->flags, &r->headers, err, errnum))
			return NULL;
	}
	if (use_filter && !(r->flags & TPW_NO_FILTER)) {
		if (!tpw_filter_argv(a, o, &r->filter_argv, err, errnum))
			return NULL;
	}
	r->in = malloc(TPW_CHUNK);
	if (!r->in) {
		*errnum = ENOMEM;
		xbuf_puts(err, "out of memory");
		return NULL;
	}
	reader_start(r);
	return r;
}

/* The next piece of the -D file: > 0 bytes, 0 at its end, -1 error. */
static ssize_t read_body(tp_reader *r)
{
	for (;;) {
		ssize_t got = pread(r->o.data_fd, r->in, TPW_CHUNK, r->body_off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got > 0)
			r->body_off += got;
		return got;
	}
}

/* Feed a piece of body to the line rules. A wire-format spool (CHUNKING) keeps CRLF: undo it
 * first so the rules see what an ordinary spool holds; a CR at the end of a piece waits for the
 * next one to see whether an LF follows. */
static void feed_body(tp_reader *r, const char *p, size_t n)
{
	if (!r->o.m->spool_wireformat) {
		tpw_xform_feed(&r->x, p, n, &r->out);
		return;
	}
	if (r->cr_held) {
		r->cr_held = false;
		if (n == 0 || p[0] != '\n')
			tpw_xform_feed(&r->x, "\r", 1, &r->out);
	}
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\r')
			continue;
		if (i + 1 == n) {
			tpw_xform_feed(&r->x, p + start, i - start, &r->out);
			r->cr_held = true;
			return;
		}
		if (p[i + 1] == '\n') {
			tpw_xform_feed(&r->x, p + start, i - start, &r->out);
			start = i + 1;
		}
	}
	tpw_xform_feed(&r->x, p + start, n - start, &r->out);
}

/* Produce the next piece into r->out. false: failed (r->err set). */
static bool generate(tp_reader *r)
{
	switch (r->stage) {
	case ST_PREFIX:
		if (r->o.prefix.len)
			xbuf_put(&r->out, r->o.prefix.p, r->o.prefix.len);
		if (r->filter_argv) {
			if (!tpw_filter_start(r->a, &r->o, r->filter_argv, xbuf_sv(&r->headers), r->flags, &r->filter, &r->err, &r->err_errno)) {
				reader_fail(r, r->err_errno);
				return false;
			}
			r->filter_running = true;
			tpw_xform_section(&r->x, true);
			r->stage = ST_FILTER;
		} else {
			r->stage = ST_HEADERS;
		}
		return true;
	case ST_HEADERS:
		if (!(r->flags & TPW_NO_HEADERS)) {
			tpw_xform_section(&r->x, false);
			tpw_xform_feed(&r->x, r->headers.p, r->headers.len, &r->out);
		}
		tpw_xform_section(&r->x, true);
		r->stage = ST_BODY;
		return true;
	case ST_BODY: {
		if (r->flags & TPW_NO_BODY) {
			r->stage = ST_SUFFIX;
			return true;
		}
		ssize_t got = read_body(r);
		if (got < 0) {
			int e = errno;
			tpw_error(&r->o, &r->err, "error reading the spool data file", strerror(e));
			reader_fail(r, e);
			return false;
		}
		if (got == 0) {
			feed_body(r, "", 0);          /* a CR held at the very end */
			tpw_xform_flush(&r->x, &r->out);
			r->stage = ST_SUFFIX;
			return true;
		}
		feed_body(r, r->in, (size_t)got);
		return true;
	}
	case ST_FILTER: {
		ssize_t got = tpw_filter_read(&r->filter, r->in, TPW_CHUNK);
		if (got < 0) {
			int e = errno;
			if (e == ETIMEDOUT)
				tpw_error(&r->o, &r->err, r->o.dest_name ? "error" : "transport filter timed out", NULL);
			else
				tpw_error(&r->o, &r->err, "error reading from transport filter", strerror(e));
			reader_fail(r, e);
			return false;
		}
		if (got == 0) {
			tpw_xform_flush(&r->x, &r->out);
			r->filter_running = false;
			if (!tpw_filter_finish(&r->filter, &r->o, &r->err, &r->err_errno)) {
				reader_fail(r, r->err_errno);
				return false;
			}
			r->stage = ST_SUFFIX;
			return true;
		}
		tpw_xform_feed(&r->x, r->in, (size_t)got, &r->out);
		return true;
	}
	case ST_SUFFIX:
		if (r->o.suffix.len)
			xbuf_put(&r->out, r->o.suffix.p, r->o.suffix.len);
		r->stage = ST_DONE;
		return true;
	case ST_DONE:
	case ST_FAILED:
		break;
	}
	return false;
}

tp_reader *tp_reader_open(arena *a, const tp_write_opts *o, xbuf *err)
{
	int errnum;
	xbuf e;
	xbuf_init(&e, a);
	if (o->t && tp_message_size_check(o->t, o->env, o->m, &e) != 0) {
		xbuf_putsv(err, xbuf_sv(&e));
		return NULL;
	}
	return reader_new(a, o, true, err, &errnum);
}

ssize_t tp_reader_read(void *reader, char *buf, size_t n)
{
	tp_reader *r = reader;
	for (;;) {
		if (r->out_pos < r->out.len) {
			size_t k = r->out.len - r->out_pos;
			if (k > n)
				k = n;
			if (r->o.size_limit > 0 && r->produced + (long long)k > r->o.size_limit) {
				xbuf_reset(&r->err);
				tpw_error(&r->o, &r->err, "message size limit exceeded", NULL);
				reader_fail(r, EFBIG);
				errno = EFBIG;
				return -1;
			}
			memcpy(buf, r->out.p + r->out_pos, k);
			r->out_pos += k;
			r->produced += (long long)k;
			return (ssize_t)k;
		}
		xbuf_reset(&r->out);
		r->out_pos = 0;
		if (r->stage == ST_DONE)
			return 0;
		if (r->stage == ST_FAILED) {
			errno = r->err_errno > 0 ? r->err_errno : EIO;
			return -1;
		}
		if (!generate(r)) {
			errno = r->err_errno > 0 ? r->err_errno : EIO;
			return -1;
		}
	}
}

bool tp_reader_rewind(void *reader)
{
	tp_reader *r = reader;
	if (r->filter_argv || r->stage == ST_FAILED)
		return false;
	reader_start(r);
	return true;
}

void tp_reader_close(tp_reader *r)
{
	if (!r)
		return;
	if (r->filter_running)
		tpw_filter_abort(&r->filter);
	r->filter_running = false;
	xbuf_free(&r->out);
	free(r->in);
	r->in = NULL;
}

/* The error of a failed reader, for callers of the pull form that want Exim's text. */
static void reader_error(const tp_reader *r, xbuf *err, int *errnum)
{
	xbuf_putsv(err, xbuf_sv(&r->err));
	*errnum = r->err_errno;
}

bool tp_reader_measure(const tp_write_opts *o, long long *bytes, long long *lines, xbuf *err)
{
	*bytes = *lines = 0;
	arena *a = arena_new("tp_measure");
	int errnum;
	tp_write_opts oo = *o;
	oo.size_limit = 0;
	tp_reader *r = reader_new(a, &oo, false, err, &errnum);
	bool ok = r != NULL;
	if (ok) {
		char *buf = malloc(TPW_CHUNK);
		ssize_t got;
		while (buf && (got = tp_reader_read(r, buf, TPW_CHUNK)) > 0) {
			*bytes += got;
			for (const char *p = buf, *end = buf + got; (p = memchr(p, '\n', (size_t)(end - p))); p++)
				(*lines)++;
		}
		if (!buf || got < 0) {
			reader_error(r, err, &errnum);
			ok = false;
		}
		free(buf);
		tp_reader_close(r);
	}
	arena_free(a);
	return ok;
}

/* ---- the push form ---- */

static bool write_all(int fd, const char *p, size_t n, int timeout)
{
	while (n) {
		if (timeout > 0) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			int pr = poll(&pf, 1, timeout * 1000);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0) {
				errno = ETIMEDOUT;
				return false;
			}
			if (pr < 0)
				return false;
		}
		/* With a timeout, write at most a pipe buffer at a time so a write cannot block
		 * long after poll said there was room. */
		size_t k = timeout > 0 && n > 4096 ? 4096 : n;
		ssize_t w = write(fd, p, k);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

bool tp_write_fd(const tp_write_opts *o, int fd, int timeout, xbuf *err, int *errnum)
{
	*errnum = 0;
	xbuf e;
	xbuf_init(&e, NULL);
	int sz = o->t ? tp_message_size_check(o->t, o->env, o->m, &e) : 0;
	if (sz != 0) {
		xbuf_putsv(err, xbuf_sv(&e));
		xbuf_free(&e);
		*errnum = sz > 0 ? EFBIG : ADDR_ERRNO_UNKNOWN;
		return false;
	}
	xbuf_free(&e);
	arena *a = arena_new("tp_write");
	tp_reader *r = reader_new(a, o, true, err, errnum);
	if (!r) {
		arena_free(a);
		return false;
	}
	/* A reader that goes away (a pipe command exiting early) must fail the write, not kill us. */
	struct sigaction sa = { .sa_handler = SIG_IGN }, old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, &old);
	char *buf = malloc(TPW_CHUNK);
	bool ok = buf != NULL;
	ssize_t got = 0;
	while (ok && (got = tp_reader_read(r, buf, TPW_CHUNK)) > 0) {
		if (!write_all(fd, buf, (size_t)got, timeout)) {
			*errnum = errno;
			tpw_error(o, err, "error", NULL);
			if (!o->dest_name) {
				xbuf_reset(err);
				xbuf_printf(err, "error while writing message: %s", strerror(*errnum));
			}
			ok = false;
		}
	}
	if (ok && got < 0) {
		reader_error(r, err, errnum);
		ok = false;
	}
	free(buf);
	tp_reader_close(r);
	sigaction(SIGPIPE, &old, NULL);
	arena_free(a);
	return ok;
}
