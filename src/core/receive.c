/* Message reception: the reader feeding the spool's -D file, the limits, and the commit.
 * Header fix-ups are in receive_headers.c, log lines in receive_log.c. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/receive_internal.h"
#include "core/spool_commit.h"
#include "lib/log.h"
#include "mail/header.h"

/* Bound on what receive_body reads into memory (regex ACL conditions, $message_body): Exim
 * itself only looks at message_body_visible bytes; this bound keeps a huge message from being
 * mapped whole. */
#define RECEIVE_BODY_MAX ((size_t)16 << 20)

static bool body_to_spool(void *ctx, const char *p, size_t n)
{
	receive_ctx *r = ctx;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (spool_write_body(r->txn, p, n, &err))
		return true;
	log_write(LOG_MAIN | LOG_PANIC, "spool write error while receiving message: %s", xbuf_cstr(&err));
	return false;
}

/* "50M" and the like; false when it is not a size. */
static bool parse_size(sv v, long long *out)
{
	v = sv_trim(v);
	if (!v.len || !isdigit((unsigned char)v.p[0]))
		return false;
	long long n = 0;
	size_t i = 0;
	while (i < v.len && isdigit((unsigned char)v.p[i])) {
		if (n > (1LL << 50))
			return false;
		n = n * 10 + (v.p[i++] - '0');
	}
	if (i < v.len) {
		switch (v.p[i]) {
		case 'k': case 'K': n <<= 10; i++; break;
		case 'm': case 'M': n <<= 20; i++; break;
		case 'g': case 'G': n <<= 30; i++; break;
		default: return false;
		}
	}
	if (i != v.len)
		return false;
	*out = n;
	return true;
}

/* message_size_limit is expanded for each message (it may depend on the sender host). */
static long long size_limit_in(const message *m)
{
	const char *src = conf_main.message_size_limit;
	if (!src || !*src)
		return 0;
	xp_env env;
	xp_env_init(&env, pool_scratch);
	message_vars mv;
	message_vars_init(&mv, m, m->origin);
	xp_env_push_provider(&env, &mv.p);
	xbuf out, err;
	xbuf_init(&out, pool_scratch);
	xbuf_init(&err, pool_scratch);
	long long n = 0;
	if (xp_expand(&env, sv_cstr(src), &out, &err) != XP_OK) {
		log_write(LOG_MAIN | LOG_PANIC, "failed to expand message_size_limit \"%s\": %s", src, xbuf_cstr(&err));
		return 0;
	}
	if (!parse_size(xbuf_sv(&out), &n)) {
		log_write(LOG_MAIN | LOG_PANIC, "invalid message_size_limit \"%s\"", xbuf_cstr(&out));
		return 0;
	}
	return n;
}

/* The expansion's work is dropped from the scratch arena (it would otherwise stay there for
 * every message of a session process). */
static long long size_limit(const message *m)
{
	arena_mark mk = arena_getmark(pool_scratch);
	long long n = size_limit_in(m);
	arena_reset(pool_scratch, mk);
	return n;
}

receive_ctx *receive_begin(message *m, const spool_config *sc, receive_input how, xbuf *err)
{
	/* Zeroed except the reader, which rx_init sets up below (its 8 KB buffer need not be). */
	receive_ctx *r = arena_alloc(m->a, sizeof *r);
	memset(r, 0, offsetof(receive_ctx, rd));
	memset((char *)r + offsetof(receive_ctx, rd) + sizeof r->rd, 0,
		sizeof *r - offsetof(receive_ctx, rd) - sizeof r->rd);
	r->m = m;
	r->a = m->a;
	r->sc = *sc;
	r->how = how;
	if (!m->id[0]) {
		/* A new id, its received time from the same clock reading, and the next id on a
		 * clash with a message already in the spool. */
		r->txn = spool_begin_message(&r->sc, m, err);
	} else {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		m->received_time = tv.tv_sec;
		m->received_usec = (int)tv.tv_usec;
		r->txn = spool_begin(&r->sc, m->id, err);
	}
	if (!r->txn)
		return NULL;
	rx_limits lim = {
		.size_limit = size_limit(m),
		.header_maxsize = conf_main.header_maxsize,
		.header_line_max = conf_main.header_line_maxsize,
	};
	/* Defaults until the caller says more (receive_set_opts): a message without a sending host
	 * (-bs, -bS) is locally originated, as Exim counts it, and gets the local fix-ups; the
	 * caller is taken as trusted (no Sender: checks) since only local submission knows. */
	r->opts.local = !(m->origin && m->origin->host_address.len);
	r->opts.trusted = true;
	if (m->origin)
		r->opts.login = m->origin->login;
	rx_init(&r->rd, m->a, how, &lim, body_to_spool, r);
	r->rd.wire = how == RECV_SMTP_BDAT && conf_main.spool_wireformat;
	return r;
}

void receive_set_opts(receive_ctx *r, const receive_opts *o)
{
	r->opts = *o;
}

void receive_apply_controls(receive_ctx *r, const acl_controls *c)
{
	if (c->submission) {
		r->submission = true;
		if (c->submission_domain.p) {
			r->submission_domain = c->submission_domain;
			r->submission_domain_set = true;
		}
		if (c->submission_name.p)
			r->submission_name = c->submission_name;
		if (c->submission_sender_retain)
			r->submission_sender_retain = true;
	}
	if (c->suppress_local_fixups)
		r->suppress_local_fixups = true;
}

receive_status receive_feed(receive_ctx *r, const char *p, size_t n, size_t *consumed, bool last)
{
	receive_status st = rx_feed(&r->rd, p, n, consumed);
	if (st == RECV_MORE && last && *consumed == n)
		st = rx_finish(&r->rd);
	if (st != RECV_MORE)
		r->ended = true;
	if (st == RECV_END && r->txn)
		spool_data_sync_start(r->txn); /* overlaps -D's flush with the ACLs and -H */
	return st;
}

void receive_note_skipped_line(receive_ctx *r, size_t len, bool crlf)
{
	rx_skipped_first_line(&r->rd, len, crlf);
}

receive_status receive_eof(receive_ctx *r)
{
	receive_status st = rx_finish(&r->rd);
	r->ended = true;
	if (st == RECV_END && r->txn)
		spool_data_sync_start(r->txn);
	return st;
}

long long receive_size(const receive_ctx *r)
{
	return r->rd.size;
}

bool receive_in_body(const receive_ctx *r)
{
	return !r->rd.in_header;
}

long long receive_lines(const receive_ctx *r)
{
	return r->rd.lines;
}

long long receive_size_limit(const receive_ctx *r)
{
	return r->rd.lim.size_limit;
}

message *receive_message(receive_ctx *r)
{
	return r->m;
}

sv receive_header_text(const receive_ctx *r)
{
	return xbuf_sv(&r->rd.headers);
}

bool receive_header_section_too_big(const receive_ctx *r, long long *maxsize)
{
	*maxsize = r->rd.lim.header_maxsize;
	return r->rd.header_too_big && !r->rd.header_line_too_long;
}

bool receive_header_line_too_long(const receive_ctx *r, long long *max)
{
	*max = r->rd.lim.header_line_max;
	return r->rd.header_line_too_long;
}

void receive_reject_nosender_text(receive_ctx *r, receive_status st, xbuf *out)
{
	if (st == RECV_TOO_BIG)
		xbuf_printf(out, "message too big (limit set to %lld)", r->rd.lim.size_limit);
	else if (st == RECV_HEADER_TOO_BIG && r->rd.header_line_too_long)
		xbuf_printf(out, "excessively long message header line read (more than %lld characters)",
			r->rd.lim.header_line_max);
	else if (st == RECV_HEADER_TOO_BIG)
		xbuf_printf(out, "excessively long message header section read (more than %lld characters)",
			r->rd.lim.header_maxsize);
	else
		receive_reject_local_text(r, st, out);
}

/* The reject log's account of a message: the envelope and the header lines so far, each with
 * its type letter ("P Received: ...", "  Subject: ..."), as Exim writes it after the line. */
void receive_reject_details(receive_ctx *r, xbuf *out)
{
	const message *m = r->m;
	xbuf_printf(out, "Envelope-from: <" SV_FMT ">\n", SV_ARG(m->sender));
	for (size_t i = 0; i < m->nrcpt; i++)
		xbuf_printf(out, "%s<" SV_FMT ">\n", i == 0 ? "Envelope-to: " : "    ", SV_ARG(m->rcpt[i].address));
	if (m->headers) {
		for (const msg_header *h = m->headers; h; h = h->next)
			xbuf_printf(out, "%c " SV_FMT, h->type, SV_ARG(h->text));
	} else {
		sv block = xbuf_sv(&r->rd.headers);
		size_t pos = 0;
		sv f;
		while (hdr_next_field(block, &pos, &f)) {
			xbuf_printf(out, "%c ", rcv_header_type(hdr_field_name(f)));
			xbuf_putsv(out, f);
			if (f.len && f.p[f.len - 1] != '\n')
				xbuf_putc(out, '\n');
		}
	}
	if (out->len && out->p[out->len - 1] == '\n')
		xbuf_truncate(out, out->len - 1);
}

/* Who sent it, for the header-size lines: the host without "H=", or the caller's login. */
static const char *from_whom(const receive_ctx *r, const char *host)
{
	if (host && *host)
		return strncmp(host, "H=", 2) == 0 ? host + 2 : host;
	const msg_origin *o = r->m->origin;
	if (o && o->ident.len)
		return sv_dup(pool_scratch, o->ident);
	return "local process";
}

int receive_reject(receive_ctx *r, receive_status st, const char *host, xbuf *reply)
{
	const message *m = r->m;
	const char *h = host && *host ? host : NULL;
	switch (st) {
	case RECV_TOO_BIG: {
		xbuf_puts(reply, "Message size exceeds maximum permitted");
		xbuf line;
		xbuf_init(&line, pool_scratch);
		xbuf_printf(&line, "rejected from <" SV_FMT ">%s%s", SV_ARG(m->sender), h ? " " : "", h ? h : "");
		if (m->origin && m->origin->ident.len)
			xbuf_printf(&line, " U=" SV_FMT, SV_ARG(m->origin->ident));
		xbuf_printf(&line, ": message too big: read=%lld max=%lld", r->rd.size, r->rd.lim.size_limit);
		log_set_id(m->id);
		log_write(LOG_MAIN, "%s", xbuf_cstr(&line));
		xbuf_putc(&line, '\n');
		receive_reject_details(r, &line);
		log_write(LOG_REJECT, "%s", xbuf_cstr(&line));
		log_set_id(NULL);
		return 552;
	}
	case RECV_HEADER_TOO_BIG:
		if (r->rd.header_line_too_long) {
			xbuf_puts(reply, "A message header line is too long");
			log_write(LOG_MAIN, "overlong message header line received from %s (more than %lld characters): message abandoned",
				from_whom(r, host), r->rd.lim.header_line_max);
		} else {
			xbuf_puts(reply, "Message header is ridiculously long");
			log_write(LOG_MAIN, "ridiculously long message header received from %s (more than %lld characters): message abandoned",
				from_whom(r, host), r->rd.lim.header_maxsize);
		}
		return 552;
	default:
		xbuf_puts(reply, "Temporary local problem - please try later");
		return 451;
	}
}

void receive_reject_local_text(receive_ctx *r, receive_status st, xbuf *out)
{
	switch (st) {
	case RECV_TOO_BIG:
		xbuf_printf(out, "message rejected: message too big (max=%lld)", r->rd.lim.size_limit);
		break;
	case RECV_HEADER_TOO_BIG:
		if (r->rd.header_line_too_long)
			xbuf_printf(out, "message header line longer than %lld characters received: message not accepted",
				r->rd.lim.header_line_max);
		else
			xbuf_printf(out, "message header longer than %lld characters received: message not accepted",
				r->rd.lim.header_maxsize);
		break;
	default:
		xbuf_puts(out, "temporary local problem: message not accepted");
		break;
	}
}

bool receive_prepare_headers(receive_ctx *r, xbuf *err)
{
	if (!r->ended) {
		xbuf_puts(err, "receive_prepare_headers called before the end of the message");
		return false;
	}
	if (r->prepared)
		return true;
	message *m = r->m;
	m->body_linecount = r->rd.body_linecount;
	m->body_zerocount = r->rd.body_zerocount;
	m->max_received_linelength = r->rd.max_linelength;
	m->spool_wireformat = r->rd.wire;
	if (!rcv_build_headers(r, err))
		return false;
	m->size = rcv_header_size(m) + 1 + r->rd.body_size;
	r->prepared = true;
	return true;
}

bool receive_sender_replaced(const receive_ctx *r)
{
	return r->submission_sender_set;
}

/* Whether a header's name is in a colon-separated list (remove_header). */
static bool name_in_list(sv text, sv list)
{
	const char *colon = memchr(text.p, ':', text.len);
	if (!colon)
		return false;
	sv name = sv_trim(sv_make(text.p, (size_t)(colon - text.p)));
	size_t i = 0;
	while (i <= list.len) {
		size_t j = i;
		while (j < list.len && list.p[j] != ':')
			j++;
		sv item = sv_trim(sv_make(list.p + i, j - i));
		/* Names may be written with their colon ("X-Foo:") in the list. */
		if (item.len && item.p[item.len - 1] == ':')
			item.len--;
		if (item.len && sv_eqi(item, name))
			return true;
		i = j + 1;
	}
	return false;
}

static bool is_received(const msg_header *h)
{
	return h->type == 'P';
}

static bool is_resent(const msg_header *h)
{
	return h->text.len > 7 && strncasecmp(h->text.p, "Resent-", 7) == 0;
}

static void add_acl_header(message *m, const acl_header *ah)
{
	sv text = sv_copy(m->a, ah->text);
	if (!text.len)
		return;
	if (text.p[text.len - 1] != '\n') {
		char *t = arena_alloc(m->a, text.len + 2);
		memcpy(t, text.p, text.len);
		t[text.len] = '\n';
		t[text.len + 1] = '\0';
		text = (sv){ t, text.len + 1, text.taint, 0 };
	}
	const char *colon = memchr(text.p, ':', text.len);
	char type = colon ? rcv_header_type(sv_trim(sv_make(text.p, (size_t)(colon - text.p)))) : ' ';
	msg_header *before = NULL;
	switch (ah->pos) {
	case ACL_HDR_APPEND:
		message_add_header(m, type, text);
		return;
	case ACL_HDR_AT_START:
		before = m->headers;
		break;
	case ACL_HDR_AFTER_RECEIVED: {
		/* After the first block of Received: lines, wherever it starts (observed: lines
		 * added :at_start: before it are passed over); at the end when there is none. */
		msg_header *h = m->headers;
		while (h && !is_received(h))
			h = h->next;
		while (h && is_received(h))
			h = h->next;
		before = h;
		if (!before) {
			message_add_header(m, type, text);
			return;
		}
		break;
	}
	case ACL_HDR_AT_START_RFC: {
		/* After the first line and the Received:/Resent- lines that directly follow it, as
		 * Exim does: the first line is passed over whatever it is (normally our Received:). */
		msg_header *h = m->headers;
		if (!h)
			break;
		while (h->next && (is_received(h->next) || is_resent(h->next)))
			h = h->next;
		before = h->next;
		if (!before) {
			message_add_header(m, type, text);
			return;
		}
		break;
	}
	}
	message_insert_header(m, before, type, text);
}

void receive_apply_acl_headers(receive_ctx *r, const acl_ctx *acl)
{
	message *m = r->m;
	if (acl->remove_headers.len)
		for (msg_header *h = m->headers; h; h = h->next)
			if (h->type != '*' && name_in_list(h->text, acl->remove_headers))
				h->type = '*';
	for (const acl_header *ah = acl->add_headers; ah; ah = ah->next)
		add_acl_header(m, ah);
	if (r->prepared)
		m->size = rcv_header_size(m) + 1 + r->rd.body_size;
}

bool receive_body(receive_ctx *r, sv *body)
{
	int fd = spool_data_fd(r->txn); /* flushes what the spool still buffers */
	if (fd < 0)
		return false;
	size_t want = r->rd.body_size > (long long)RECEIVE_BODY_MAX ? RECEIVE_BODY_MAX : (size_t)r->rd.body_size;
	char *buf = arena_alloc(r->a, want + 1);
	size_t got = 0;
	off_t off = MSG_ID_LEN + 3; /* after "<id>-D\n" */
	while (got < want) {
		ssize_t k = pread(fd, buf + got, want - got, off + (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	buf[got] = '\0';
	*body = (sv){ buf, got, 1, 0 };
	return got == want;
}

bool receive_commit(receive_ctx *r, xbuf *err)
{
	if (!r->prepared && !receive_prepare_headers(r, err))
		return false;
	message *m = r->m;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	m->received_complete = tv.tv_sec;
	m->received_complete_usec = (int)tv.tv_usec;
	rcv_redate_received(r, tv.tv_sec);
	m->size = rcv_header_size(m) + 1 + r->rd.body_size;
	if (!spool_commit(r->txn, m, err))
		return false;
	r->committed = true;
	return true;
}

void receive_discard(receive_ctx *r, const char *why)
{
	message *m = r->m;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	m->received_complete = tv.tv_sec;
	m->received_complete_usec = (int)tv.tv_usec;
	rcv_redate_received(r, tv.tv_sec);
	m->size = rcv_header_size(m) + 1 + r->rd.body_size;
	receive_log_discarded(r, why);
	receive_abort(r);
}

void receive_abort(receive_ctx *r)
{
	if (!r || r->aborted)
		return;
	r->aborted = true;
	if (r->txn && !r->committed)
		spool_abort(r->txn);
	else if (r->txn)
		spool_end(r->txn);
	r->txn = NULL;
}

void receive_end(receive_ctx *r)
{
	receive_abort(r);
}
