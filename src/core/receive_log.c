/* The "<=" main log line for a received message, with the fields and order Exim 4.96 writes
 * (observed with log_selector = +all):
 *   <= sender DS H=name (helo) [ip]:port I=[ip]:port TFO* U=ident P=proto X=.. CV=.. DN=".." SNI=..
 *      A=auth:id PRX=ip K S=size RT=0.005s id=msgid T="subject" from <sender> for rcpt rcpt
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "conf/main_options.h"
#include "core/queue_named.h"
#include "core/receive_internal.h"
#include "core/spool.h"
#include "core/tfo_state.h"
#include "lib/log.h"
#include "lib/printing.h"
#include "lib/timefmt.h"
#include "mail/header.h"
#include "mail/rfc2047.h"

static void put_escaped(xbuf *out, sv v)
{
	/* 8-bit bytes (UTF-8 addresses and names) go as they are, as Exim writes them; other
	 * control characters than tab are escaped. */
	printing_escape(v, PRINT_TAB_LITERAL | PRINT_TOPBIT, out);
}

static void arrival_text(receive_ctx *r, xbuf *out);

/* T=: $h_subject: as Exim 4.96 logs it (observed): every Subject: header, each without its
 * leading and trailing white space and with RFC 2047 words decoded to headers_charset, joined
 * by a newline; the caller escapes it, 8-bit bytes included (unlike the other fields). */
static sv subject_text(const message *m)
{
	xbuf v;
	xbuf_init(&v, pool_scratch);
	bool first = true;
	for (const msg_header *h = m->headers; h; h = h->next) {
		if (h->type == '*' || !sv_eqi(hdr_field_name(h->text), SV_LIT("Subject")))
			continue;
		sv t = hdr_field_body(h->text);
		while (t.len && isspace((unsigned char)t.p[0]))
			t = sv_sub(t, 1, t.len - 1);
		while (t.len && isspace((unsigned char)t.p[t.len - 1]))
			t.len--;
		if (!first)
			xbuf_putc(&v, '\n');
		first = false;
		size_t at = v.len;
		xbuf err;
		xbuf_init(&err, pool_scratch);
		if (!memmem(t.p, t.len, "=?", 2)
			|| !rfc2047_decode(t, conf_main.headers_charset ? conf_main.headers_charset : "UTF-8",
				conf_main.check_rfc2047_length, &v, &err)) {
			xbuf_truncate(&v, at);
			xbuf_putsv(&v, t);
		}
	}
	return xbuf_sv(&v);
}

void receive_note_prdr(receive_ctx *r)
{
	r->prdr = true;
}

/* The arrival line could not be logged and the process ends (lib/log.h): the message was not
 * accepted (no 250, status 1), so its spool files go, as Exim removes them (observed with a
 * datestamped main log the exim user may not open: -H and -D gone). The sender still has it. */
static void undo_arrival(void *arg)
{
	receive_ctx *r = arg;
	xbuf err;
	xbuf_init(&err, NULL);
	if (!spool_remove_message(&r->sc, r->m->id, &err))
		fprintf(stderr, "exim: %s\n", xbuf_cstr(&err));
	xbuf_free(&err);
}

void receive_log_arrival(receive_ctx *r)
{
	const message *m = r->m;
	arena_mark mk = arena_getmark(pool_scratch); /* not to stay there for the process's life */
	xbuf b;
	xbuf_init(&b, pool_scratch);
	arrival_text(r, &b);
	log_set_id(m->id);
	log_set_undo_hook(undo_arrival, r);
	log_write(LOG_MAIN, "%s", xbuf_cstr(&b));
	log_set_undo_hook(NULL, NULL);
	log_set_id(NULL);
	/* The message log starts with the same facts: "Received from <sender> U=... S=..." */
	if (conf_main.message_logs)
		spool_msglog(&r->sc, m->id, "Received from %s", xbuf_cstr(&b) + 3);
	arena_reset(pool_scratch, mk);
}

void receive_log_discarded(receive_ctx *r, const char *why)
{
	const message *m = r->m;
	arena_mark mk = arena_getmark(pool_scratch);
	xbuf b;
	xbuf_init(&b, pool_scratch);
	arrival_text(r, &b);
	log_set_id(m->id);
	log_write(LOG_MAIN, "%s", xbuf_cstr(&b));
	log_write(LOG_MAIN, "=> blackhole (%s)", why);
	log_write(LOG_MAIN, "Completed");
	log_set_id(NULL);
	arena_reset(pool_scratch, mk);
}

void receive_log_tls(const msg_origin *o, const logsel *ls, xbuf *out)
{
	if (!o->tls_cipher.len)
		return;
	/* '*': the session was resumed (bit 4 of $tls_in_resumption, tls/tls_resume.h). */
	if (logsel_has(ls, LS_TLS_CIPHER))
		xbuf_printf(out, " X=" SV_FMT "%s", SV_ARG(o->tls_cipher),
			logsel_has(ls, LS_TLS_RESUMPTION) && (o->tls_resumption & 0x10) ? "*" : "");
	if (logsel_has(ls, LS_TLS_CERTIFICATE_VERIFIED))
		xbuf_printf(out, " CV=%s", o->tls_certificate_verified ? "yes" : "no");
	if (logsel_has(ls, LS_TLS_PEERDN) && o->tls_peerdn.len) {
		xbuf_puts(out, " DN=\"");
		put_escaped(out, o->tls_peerdn);
		xbuf_putc(out, '"');
	}
	if (logsel_has(ls, LS_TLS_SNI) && o->tls_sni.len) {
		xbuf_puts(out, " SNI=");
		put_escaped(out, o->tls_sni);
	}
}

static void arrival_text(receive_ctx *r, xbuf *out)
{
	const message *m = r->m;
	const msg_origin *o = m->origin;
	const log_config *lc = log_current_config();
	logsel def = logsel_default();
	const logsel *ls = lc ? &lc->selector : &def;
	xbuf_puts(out, r->opts.fake_reject ? "(= " : "<= ");
	if (m->sender.len)
		put_escaped(out, m->sender);
	else
		xbuf_puts(out, "<>");
	if (r->opts.reference_id.len) {
		xbuf_puts(out, " R=");
		put_escaped(out, r->opts.reference_id);
	}
	if (o && o->host_address.len) {
		/* +dnssec: the host name came from DNSSEC-authenticated lookups (ch-log_files). */
		if (o->host_dnssec && logsel_has(ls, LS_DNSSEC))
			xbuf_puts(out, " DS");
		xbuf_puts(out, " H=");
		xbuf fh;
		xbuf_init(&fh, pool_scratch);
		message_sender_fullhost(o, &fh);   /* with ":port" under log_selector incoming_port */
		put_escaped(out, xbuf_sv(&fh));
		if (logsel_has(ls, LS_INCOMING_INTERFACE) && o->interface_address.len)
			xbuf_printf(out, " I=[" SV_FMT "]:%d", SV_ARG(o->interface_address), o->interface_port);
	}
	/* TCP Fast Open (" TFO", " TFO*"), whatever the log_selector, on the first "<=" line of
	 * the connection only (the session clears it): observed with Exim 4.96. */
	if (o)
		xbuf_puts(out, tfo_log_element(o->tcp_fastopen));
	if (o && o->ident.len) {
		xbuf_puts(out, " U=");
		put_escaped(out, o->ident);
	}
	if (o && o->protocol.len)
		xbuf_printf(out, " P=" SV_FMT, SV_ARG(o->protocol));
	if (r->opts.pipelining && logsel_has(ls, LS_PIPELINING))
		xbuf_printf(out, " %s", r->opts.pipelining);
	if (o)
		receive_log_tls(o, ls, out);
	if (o && o->auth_driver.len) {
		xbuf_puts(out, " A=");
		put_escaped(out, o->auth_driver);
		if (o->auth_id.p && o->host_address.len) {   /* set, even if empty ("A=plain:") */
			xbuf_putc(out, ':');
			put_escaped(out, o->auth_id);
		}
		/* +smtp_mailauth: the accepted AUTH= of MAIL as given, in its angle brackets
		 * (observed "A=pl:bob:<z@y.example>"; AUTH=<> adds nothing). */
		if (logsel_has(ls, LS_SMTP_MAILAUTH) && o->auth_sender.len) {
			xbuf_putc(out, ':');
			put_escaped(out, o->auth_sender);
		}
	}
	if (r->prdr)
		xbuf_puts(out, " PRDR");
	if (o && o->proxy_session && logsel_has(ls, LS_PROXY) && o->proxy_local_address.len)
		xbuf_printf(out, " PRX=" SV_FMT, SV_ARG(o->proxy_local_address));
	if (r->how == RECV_SMTP_BDAT)
		xbuf_puts(out, " K");
	xbuf_printf(out, " S=%lld", m->size);
	/* M8S= is the BODY= type given on MAIL (0: none; a non-SMTP message never has one). */
	if (logsel_has(ls, LS_8BITMIME))
		xbuf_printf(out, " M8S=%d", r->opts.body_type);
	if (logsel_has(ls, LS_RECEIVE_TIME)) {
		long long us = ((long long)m->received_complete - m->received_time) * 1000000LL
			+ (m->received_complete_usec - m->received_usec);
		if (us < 0)
			us = 0;
		/* Milliseconds only below 5 s, as Exim 4.96's D= shows (7 s is "7s"). */
		if (logsel_has(ls, LS_MILLISEC) && us < 5000000) {
			xbuf_printf(out, " RT=%lld.%03llds", us / 1000000, (us / 1000) % 1000);
		} else {
			xbuf_puts(out, " RT=");
			interval_format(us / 1000000, out);
		}
	}
	/* Q=: the named queue the message went to (core/queue_named.h), always logged. */
	queue_named_log_field_of(r->sc.queue_name, out);
	/* id=: the Message-ID (Resent-Message-ID when there are Resent- headers) without <>. */
	const msg_header *mid = message_find_header(m, sv_cstr("Resent-Message-ID"));
	if (!mid)
		mid = message_find_header(m, sv_cstr("Message-ID"));
	if (mid && (r->msgid_created ? logsel_has(ls, LS_MSG_ID_CREATED) : logsel_has(ls, LS_MSG_ID))) {
		sv v = sv_trim(hdr_field_body(mid->text));
		if (v.len >= 2 && v.p[0] == '<' && v.p[v.len - 1] == '>')
			v = sv_sub(v, 1, v.len - 2);
		xbuf_puts(out, r->msgid_created ? " id*=" : " id=");
		put_escaped(out, v);
	}
	if (logsel_has(ls, LS_SUBJECT) && message_find_header(m, sv_cstr("Subject"))) {
		xbuf e;
		xbuf_init(&e, pool_scratch);
		/* at most its first 100 characters, cut before escaping (Exim 4.96, observed) */
		sv subj = subject_text(m);
		printing_escape(sv_sub(subj, 0, 100), PRINT_TAB_LITERAL, &e);
		xbuf_puts(out, " T=\"");
		for (size_t i = 0; i < e.len; i++) {
			if (e.p[i] == '"')
				xbuf_putc(out, '\\');
			xbuf_putc(out, e.p[i]);
		}
		xbuf_putc(out, '"');
	}
	if (logsel_has(ls, LS_RECEIVED_SENDER)) {
		xbuf_puts(out, " from <");
		put_escaped(out, m->sender);
		xbuf_putc(out, '>');
	}
	if (logsel_has(ls, LS_RECEIVED_RECIPIENTS) && m->nrcpt > 0) {   /* none left: no " for" (Exim) */
		xbuf_puts(out, " for");
		for (size_t i = 0; i < m->nrcpt; i++) {
			xbuf_putc(out, ' ');
			put_escaped(out, m->rcpt[i].address);
		}
	}
}
