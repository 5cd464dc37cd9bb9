/* A filter_result in bytes, so that a filter can run in a child process under another uid (the
 * system filter runs as system_filter_user, by default the Exim user, as Exim runs it) and hand
 * its actions back. The format is private to one binary talking to itself over a pipe: fixed
 * width integers in host order, strings as length + bytes. Decoding is bounded and checked:
 * a short or inconsistent record makes it fail, never read past the end. */
#include <stdint.h>
#include <string.h>

#include "core/filter.h"

enum { WIRE_MAX_ACTIONS = 100000 };

static void put_u32(xbuf *b, uint32_t v)
{
	xbuf_put(b, &v, sizeof v);
}

static void put_i64(xbuf *b, int64_t v)
{
	xbuf_put(b, &v, sizeof v);
}

/* A string: its length + 1 (0 for a null view), its taint, its bytes. */
static void put_sv(xbuf *b, sv v)
{
	put_u32(b, v.p ? (uint32_t)v.len + 1 : 0);
	if (!v.p)
		return;
	xbuf_putc(b, v.taint ? 1 : 0);
	xbuf_put(b, v.p, v.len);
}

void filter_result_encode(const filter_result *res, xbuf *out)
{
	put_u32(out, (uint32_t)res->outcome);
	put_u32(out, res->significant);
	for (int i = 0; i < 10; i++)
		put_i64(out, res->n[i]);
	put_sv(out, res->error);
	uint32_t n = 0;
	for (const filter_action *a = res->actions; a; a = a->next)
		n++;
	put_u32(out, n);
	for (const filter_action *a = res->actions; a; a = a->next) {
		put_u32(out, (uint32_t)a->kind);
		put_u32(out, (uint32_t)(a->significant | a->unseen << 1 | a->seen << 2 | a->noerror << 3));
		put_u32(out, (uint32_t)a->mode);
		put_u32(out, (uint32_t)a->var);
		put_i64(out, a->amount);
		put_sv(out, a->arg);
		put_sv(out, a->errors_to);
		put_u32(out, a->mail != NULL);
		if (a->mail) {
			const filter_mail *m = a->mail;
			const sv f[] = { m->to, m->cc, m->bcc, m->from, m->reply_to, m->subject, m->extra_headers,
				m->text, m->file, m->log, m->once, m->once_repeat };
			for (size_t i = 0; i < sizeof f / sizeof *f; i++)
				put_sv(out, f[i]);
			put_u32(out, (uint32_t)(m->vacation | m->expand_file << 1 | m->return_message << 2 | m->notify << 3));
		}
	}
}

typedef struct reader {
	const char *p, *end;
	arena *a;
	bool bad;
} reader;

static uint32_t get_u32(reader *r)
{
	uint32_t v = 0;
	if (r->end - r->p < (ptrdiff_t)sizeof v) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p, sizeof v);
	r->p += sizeof v;
	return v;
}

static int64_t get_i64(reader *r)
{
	int64_t v = 0;
	if (r->end - r->p < (ptrdiff_t)sizeof v) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p, sizeof v);
	r->p += sizeof v;
	return v;
}

static sv get_sv(reader *r)
{
	uint32_t n = get_u32(r);
	if (n == 0 || r->bad)
		return SV_NULL;
	size_t len = n - 1;
	if ((size_t)(r->end - r->p) < len + 1) {
		r->bad = true;
		return SV_NULL;
	}
	bool taint = *r->p++ != 0;
	char *s = arena_alloc(r->a, len + 1);
	memcpy(s, r->p, len);
	s[len] = 0;
	r->p += len;
	sv v = sv_make(s, len);
	v.taint = taint;
	return v;
}

bool filter_result_decode(sv in, arena *a, filter_result *res)
{
	memset(res, 0, sizeof *res);
	reader r = { .p = in.p, .end = in.p + in.len, .a = a };
	uint32_t outcome = get_u32(&r);
	if (outcome > FILTER_ERROR)
		return false;
	res->outcome = (filter_outcome)outcome;
	res->significant = get_u32(&r) != 0;
	for (int i = 0; i < 10; i++)
		res->n[i] = get_i64(&r);
	res->error = get_sv(&r);
	uint32_t n = get_u32(&r);
	if (r.bad || n > WIRE_MAX_ACTIONS)
		return false;
	for (uint32_t k = 0; k < n && !r.bad; k++) {
		filter_action *act = arena_calloc(a, 1, sizeof *act);
		uint32_t kind = get_u32(&r);
		if (kind > FA_DEFER)
			return false;
		act->kind = (filter_action_kind)kind;
		uint32_t flags = get_u32(&r);
		act->significant = flags & 1;
		act->unseen = flags & 2;
		act->seen = flags & 4;
		act->noerror = flags & 8;
		act->mode = (int)get_u32(&r);
		act->var = (int)get_u32(&r);
		act->amount = get_i64(&r);
		act->arg = get_sv(&r);
		act->errors_to = get_sv(&r);
		if (get_u32(&r)) {
			filter_mail *m = arena_calloc(a, 1, sizeof *m);
			sv *f[] = { &m->to, &m->cc, &m->bcc, &m->from, &m->reply_to, &m->subject, &m->extra_headers,
				&m->text, &m->file, &m->log, &m->once, &m->once_repeat };
			for (size_t i = 0; i < sizeof f / sizeof *f; i++)
				*f[i] = get_sv(&r);
			uint32_t mf = get_u32(&r);
			m->vacation = mf & 1;
			m->expand_file = mf & 2;
			m->return_message = mf & 4;
			m->notify = mf & 8;
			act->mail = m;
		}
		if (res->tail)
			res->tail->next = act;
		else
			res->actions = act;
		res->tail = act;
	}
	return !r.bad && r.p == r.end;
}
