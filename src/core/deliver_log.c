/* The delivery process's log lines, in Exim 4.96's formats (recorded from Exim, see
 * tests/unit/deliver/test_deliver_log.c):
 *   => u2 <multi@test.example> R=loc T=mb                       local delivery (local part, top ancestor)
 *   => a@remote.example R=rem T=rsmtp H=host [ip] C="250 OK"     remote delivery
 *   -> ...                                                       further addresses of the same delivery
 *   *> ...                                                       -N: nothing delivered
 *   == df@test.example R=df defer (-1): later                    deferral
 *   ** fl@test.example R=fl: go away                             failure
 *   => :blackhole: <bh@test.example> R=bh                        discarded
 * and the msglog's lines ("u2@test.example <multi@test.example>: mb transport succeeded"; the
 * deferral and failure texts as in the main log). */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "core/deliver_internal.h"
#include "core/queue_named.h"
#include "core/tfo_state.h"
#include "lib/log.h"
#include "lib/printing.h"
#include "mail/punycode.h"

static const address_item *top_of(const address_item *a)
{
	while (a->parent)
		a = a->parent;
	return a;
}

static bool selected(logsel_id id)
{
	const log_config *c = log_current_config();
	return c && logsel_has(&c->selector, id);
}

static void put_printable(xbuf *out, sv s)
{
	printing_escape(s, PRINT_TAB_LITERAL, out);
}

/* An address as Exim 4.96 logs it in the address fields: bytes of UTF-8 characters as they
 * are (observed: "=> bé@r.test", "<récip@r.test>"; error texts still escape them), control
 * characters escaped. */
static void put_address(xbuf *out, sv addr)
{
	size_t start = 0;
	for (size_t i = 0; i <= addr.len; i++)
		if (i == addr.len || (unsigned char)addr.p[i] >= 0x80) {
			put_printable(out, sv_make(addr.p + start, i - start));
			if (i < addr.len)
				xbuf_putc(out, addr.p[i]);
			start = i + 1;
		}
}

/* The top-level address shown in " <...>": a recipient one_time added shows the recipient it
 * came from, as Exim does. */
static sv shown_top(const address_item *a)
{
	const address_item *t = top_of(a);
	return t->onetime_parent.len ? t->onetime_parent : t->address;
}

/* " <top>", after the ancestors Exim 4.96 shows in parentheses (observed): a pipe, file or
 * reply item's own parent when that is not the top ("|cmd (mid@x) <top@x>"), and with
 * log_selector all_parents, for any address, every ancestor below the top, nearest first
 * ("a@x (mid2@x, mid1@x) <top@x>"). */
static void put_intermediate(const address_item *a, xbuf *out)
{
	const address_item *top = top_of(a);
	bool all = selected(LS_ALL_PARENTS);
	if (a->parent && a->parent != top && (all || a->kind != ADDR_MAIL)) {
		xbuf_puts(out, " (");
		for (const address_item *p = a->parent; p && p != top; p = all ? p->parent : NULL) {
			if (p != a->parent)
				xbuf_puts(out, ", ");
			put_address(out, p->address);
		}
		xbuf_putc(out, ')');
	}
}

static void put_parents(const address_item *a, xbuf *out)
{
	if (!a->parent && !a->onetime_parent.len)
		return;
	put_intermediate(a, out);
	xbuf_puts(out, " <");
	put_address(out, shown_top(a));
	xbuf_putc(out, '>');
}

/* One part of an address as Exim 4.96 logs a downconverted one: "xn--<punycode>" of the
 * whole part when it has non-ASCII characters (observed: the domain "bücher.test" is logged as
 * "xn--bcher.test-9db", though it went as "xn--bcher-kva.test"). */
static bool put_downconverted_part(sv part, xbuf *out)
{
	bool ascii = true;
	for (size_t i = 0; i < part.len && ascii; i++)
		ascii = (unsigned char)part.p[i] < 0x80;
	if (ascii) {
		xbuf_putsv(out, part);
		return false;
	}
	size_t mark = out->len;
	xbuf_puts(out, "xn--");
	if (!punycode_encode(part, out)) {
		xbuf_truncate(out, mark);
		xbuf_putsv(out, part);
		return false;
	}
	return true;
}

/* An address whose envelope went as A-labels (utf8_downconvert; Exim 4.96 marks only the
 * first address of the transport's batch): that form, then the address itself in <>. false
 * when the address is all ASCII (shown as usual). */
static bool put_downconverted(const address_item *a, xbuf *out)
{
	if (!a->utf8_downconverted || a->kind != ADDR_MAIL)
		return false;
	xbuf t;
	xbuf_init(&t, out->a);
	bool changed = put_downconverted_part(a->local_part, &t);
	xbuf_putc(&t, '@');
	changed |= put_downconverted_part(a->domain, &t);
	if (!changed)
		return false;
	put_printable(out, xbuf_sv(&t));
	xbuf_puts(out, " <");
	put_address(out, a->address);
	xbuf_putc(out, '>');
	return true;
}

void dlog_address(const address_item *a, bool local, xbuf *out)
{
	if (!local && put_downconverted(a, out))
		return;
	if (local && a->kind == ADDR_MAIL) {
		/* A local delivery shows the local part, then always the address it came from. */
		put_address(out, a->local_part.len ? a->local_part : a->address);
		put_intermediate(a, out);
		xbuf_puts(out, " <");
		put_address(out, shown_top(a));
		xbuf_putc(out, '>');
		return;
	}
	/* A file item that went where the transport's own file option said is shown as that file
	 * (observed: "=> /tmp/mbox <u@a.test>" for a Sieve "keep" or a filter's "save /x"). */
	put_address(out, a->kind != ADDR_MAIL && a->delivered_path.len ? a->delivered_path : a->address);
	if (a->kind != ADDR_MAIL && !a->parent)
		return;
	put_parents(a, out);
}

static void put_router_transport(const address_item *a, xbuf *out)
{
	if (a->router)
		xbuf_printf(out, " R=%s", a->router->name);
	if (a->transport)
		xbuf_printf(out, " T=%s", a->transport);
}

static void put_host(const address_item *a, xbuf *out)
{
	if (!a->host_used_address.len)
		return;
	xbuf_puts(out, " H=");
	put_printable(out, a->host_used_name.len ? a->host_used_name : a->host_used_address);
	xbuf_puts(out, " [");
	put_printable(out, a->host_used_address);
	xbuf_putc(out, ']');
	if (selected(LS_OUTGOING_PORT) && a->host_used_port > 0)
		xbuf_printf(out, ":%d", a->host_used_port);
	if (a->host_used_continued)
		xbuf_putc(out, '*');
	/* After the host (and an I= element, which Postern does not write here), as Exim 4.96. */
	xbuf_puts(out, tfo_log_element(a->tcp_fastopen));
}

static void put_tls(const address_item *a, xbuf *out)
{
	if (!a->tls_used)
		return;
	if (selected(LS_TLS_CIPHER) && a->tls_cipher.len) {
		xbuf_puts(out, " X=");
		put_printable(out, a->tls_cipher);
		/* A resumed session (TLS_RESUME_USED, src/tls/tls_resume.h) is marked with '*'. */
		if (selected(LS_TLS_RESUMPTION) && (a->tls_resumption & (1u << 4)))
			xbuf_putc(out, '*');
	}
	if (selected(LS_TLS_CERTIFICATE_VERIFIED))
		xbuf_puts(out, !a->tls_certificate_verified ? " CV=no" : a->tls_dane_verified ? " CV=dane" : " CV=yes");
	if (selected(LS_TLS_PEERDN) && a->tls_peerdn.len) {
		xbuf_puts(out, " DN=\"");
		put_printable(out, a->tls_peerdn);
		xbuf_putc(out, '"');
	}
}

/* Exim's readable time: 1w2d3h4m5s with zero parts left out, "0s" for nothing. */
static void put_duration(xbuf *out, long long secs)
{
	if (secs <= 0) {
		xbuf_puts(out, "0s");
		return;
	}
	static const struct { long long n; char c; } parts[] = {
		{ 7 * 86400, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		if (secs >= parts[i].n) {
			xbuf_printf(out, "%lld%c", secs / parts[i].n, parts[i].c);
			secs %= parts[i].n;
		}
	}
}

void dlog_format_success(const address_item *a, const driver_instance *t, bool local, xbuf *out)
{
	(void)t;
	dlog_address(a, local, out);
	queue_named_log_field(out);   /* Exim 4.96 names a named queue after the address */
	put_router_transport(a, out);
	put_host(a, out);
	put_tls(a, out);
	if (a->auth_used.len) {
		xbuf_puts(out, " A=");
		put_printable(out, a->auth_used);
	}
	if (a->prdr_used)
		xbuf_puts(out, " PRDR");   /* as Exim 4.96, before K, whatever the selector */
	if (a->chunking_used)
		xbuf_puts(out, " K");   /* Exim marks a message sent with BDAT, whatever the selector */
	if (selected(LS_SMTP_CONFIRMATION) && a->confirmation.len) {
		/* Exim escapes the reply for printing, then once more inside the quotes. */
		xbuf once;
		xbuf_init(&once, out->a);
		put_printable(&once, a->confirmation);
		xbuf_puts(out, " C=\"");
		for (size_t i = 0; i < once.len; i++) {
			char c = once.p[i];
			if (c == '\\' || c == '"')
				xbuf_putc(out, '\\');
			xbuf_putc(out, c);
		}
		xbuf_putc(out, '"');
	}
	if (a->delivery_detail.len) {
		xbuf_putc(out, ' ');
		put_printable(out, a->delivery_detail);
	}
}

void dlog_format_defer(const address_item *a, xbuf *out)
{
	/* A file item the transport could not take as a file name is shown as it was asked for
	 * (observed: "== save box5 <u@a.test> ... is not absolute"). */
	put_address(out, a->kind != ADDR_MAIL && a->delivered_path.len ? a->delivered_path : a->address);
	/* Observed from Exim 4.96: a parent that is the same address (a filter's "deliver" to its
	 * own address) is left out of the "==" line (the "**" of a retry timeout shows it). */
	if (!(a->parent && !selected(LS_ALL_PARENTS) && sv_eq(shown_top(a), a->address)))
		put_parents(a, out);
	queue_named_log_field(out);
	put_router_transport(a, out);
	xbuf_printf(out, " defer (%d)", a->basic_errno);
	/* An operating-system error is named before the host, as Exim 4.96 writes it
	 * ("defer (111): Connection refused", "defer (2): No such file or directory: ..."). */
	if (a->basic_errno > 0)
		xbuf_printf(out, ": %s", strerror(a->basic_errno));
	put_host(a, out);
	if (a->message.len) {
		xbuf_puts(out, ": ");
		put_printable(out, a->message);
	}
}

void dlog_format_retry_skip(const address_item *a, bool routing, xbuf *out)
{
	/* What Exim 4.96 logs for the address in a later queue run that finds it within its retry
	 * time (checked live): "== a@x routing defer (-52): retry time not reached", or for a
	 * remote address whose hosts all wait, "== a@y R=r T=t defer (-54): retry time not reached
	 * for any host for 'y'". */
	put_printable(out, a->address);
	put_parents(a, out);
	queue_named_log_field(out);
	if (routing) {
		xbuf_puts(out, " routing defer (-52): retry time not reached");
		return;
	}
	put_router_transport(a, out);
	xbuf_puts(out, " defer (-54): retry time not reached for any host for '");
	put_printable(out, a->domain);
	xbuf_putc(out, '\'');
}

void dlog_format_local_retry_skip(const address_item *a, xbuf *out)
{
	/* A local delivery whose "T:" retry record is not due (checked live): "== v@p.test R=p
	 * T=tp defer (-53): Retry time not yet reached". */
	put_printable(out, a->address);
	put_parents(a, out);
	queue_named_log_field(out);
	put_router_transport(a, out);
	xbuf_puts(out, " defer (-53): Retry time not yet reached");
}

void dlog_format_fail(const address_item *a, xbuf *out)
{
	if (!put_downconverted(a, out)) {
		put_address(out, a->address);
		put_parents(a, out);
	}
	queue_named_log_field(out);
	put_router_transport(a, out);
	put_host(a, out);
	put_tls(a, out);
	xbuf_puts(out, ": ");
	put_printable(out, a->message.p ? a->message : SV_LIT("Unrouteable address")); /* ":fail:" alone: empty */
}

static void add_times(const dlog_ctx *c, xbuf *out)
{
	struct timeval now;
	gettimeofday(&now, NULL);
	if (selected(LS_QUEUE_TIME) && c->m) {
		xbuf_puts(out, " QT=");
		put_duration(out, (long long)(now.tv_sec - c->m->received_time));
	}
}

void dlog_success(const dlog_ctx *c, const address_item *a, const driver_instance *t, bool local, bool first)
{
	xbuf b;
	xbuf_init(&b, pool_scratch);
	dlog_format_success(a, t, local, &b);
	add_times(c, &b);
	const char *flag = c->dont_deliver ? "*>" : first ? "=>" : "->";
	log_write(LOG_MAIN, "%s %s", flag, xbuf_cstr(&b));
	if (c->sc && c->m) {
		xbuf ml;
		xbuf_init(&ml, pool_scratch);
		put_printable(&ml, a->address);
		put_parents(a, &ml);
		spool_msglog(c->sc, c->m->id, "%s: %s transport %s", xbuf_cstr(&ml),
			a->transport ? a->transport : "", c->dont_deliver ? "skipped (-N)" : "succeeded");
	}
}

void dlog_defer(const dlog_ctx *c, const address_item *a)
{
	xbuf b;
	xbuf_init(&b, pool_scratch);
	dlog_format_defer(a, &b);
	log_write(LOG_MAIN, "== %s", xbuf_cstr(&b));
	if (c->sc && c->m)
		spool_msglog(c->sc, c->m->id, "%s", xbuf_cstr(&b));
}

void dlog_defer_main(const address_item *a)
{
	xbuf b;
	xbuf_init(&b, pool_scratch);
	dlog_format_defer(a, &b);
	log_write(LOG_MAIN, "== %s", xbuf_cstr(&b));
}

void dlog_routing_retry_skip(const address_item *a)
{
	xbuf b;
	xbuf_init(&b, pool_scratch);
	dlog_format_retry_skip(a, true, &b);
	log_write(LOG_MAIN, "== %s", xbuf_cstr(&b));
}

void dlog_fail(const dlog_ctx *c, const address_item *a)
{
	xbuf b;
	xbuf_init(&b, pool_scratch);
	dlog_format_fail(a, &b);
	log_write(LOG_MAIN, "** %s", xbuf_cstr(&b));
	if (c->sc && c->m)
		spool_msglog(c->sc, c->m->id, "%s", xbuf_cstr(&b));
}

void dlog_error_ignored(const address_item *a)
{
	xbuf b;
	xbuf_init(&b, pool_scratch);
	put_printable(&b, a->address);
	put_parents(a, &b);
	log_write(LOG_MAIN, "%s: error ignored", xbuf_cstr(&b));
}

void dlog_discard(const dlog_ctx *c, const address_item *a)
{
	(void)c;
	xbuf b;
	xbuf_init(&b, pool_scratch);
	xbuf_puts(&b, a->filter_discarded ? "discarded <" : ":blackhole: <");
	put_printable(&b, a->address);
	xbuf_putc(&b, '>');
	if (a->router)
		xbuf_printf(&b, " R=%s", a->router->name);
	log_write(LOG_MAIN, "=> %s", xbuf_cstr(&b));
}
