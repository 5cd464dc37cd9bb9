/* Delay warnings (delay_warning, delay_warning_condition, warn_message_file) and success DSNs
 * (NOTIFY=SUCCESS), in Exim 4.96's layout (tests/golden/bounce/warning-D, success-D). Both are
 * multipart/report messages like the failure report: a text part, a message/delivery-status part
 * ("Action: delayed" / "delivered"), and the returned headers.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "conf/main_options.h"
#include "core/bounce_internal.h"
#include "lib/log.h"
#include "mail/header.h"

/* ---- delay_warning: a colon-separated list of times ("4h:8h:24h", "1w2d", "30m") ---- */

enum { WARN_TIMES_MAX = 64 };

static bool parse_time(sv v, long long *out)
{
	v = sv_trim(v);
	if (!v.len)
		return false;
	long long total = 0;
	size_t i = 0;
	while (i < v.len) {
		if (!isdigit((unsigned char)v.p[i]))
			return false;
		long long n = 0;
		while (i < v.len && isdigit((unsigned char)v.p[i])) {
			n = n * 10 + (v.p[i++] - '0');
			if (n > 100000000LL)
				return false;
		}
		long long unit = 1;
		if (i < v.len) {
			switch (v.p[i++]) {
			case 'w': unit = 7 * 86400; break;
			case 'd': unit = 86400; break;
			case 'h': unit = 3600; break;
			case 'm': unit = 60; break;
			case 's': unit = 1; break;
			default: return false;
			}
		}
		total += n * unit;
	}
	*out = total;
	return true;
}

/* The times of the list; 0 when unset, empty or malformed (no warnings). */
static size_t warn_times(long long *t)
{
	const char *s = conf_main.delay_warning;
	if (!s)
		return 0;
	sv list = sv_cstr(s);
	size_t n = 0, pos = 0;
	while (pos <= list.len && n < WARN_TIMES_MAX) {
		const char *c = memchr(list.p + pos, ':', list.len - pos);
		size_t end = c ? (size_t)(c - list.p) : list.len;
		if (!parse_time(sv_sub(list, pos, end - pos), &t[n]))
			return 0;
		n++;
		if (!c)
			break;
		pos = end + 1;
	}
	return n && t[0] > 0 ? n : 0;
}

/* When warning number `count` (0 for the first) is due, in seconds after arrival. After the
 * list, warnings repeat at the interval between its last two times (a single time is the
 * interval itself). */
static long long warn_due(const long long *t, size_t n, int count)
{
	if ((size_t)count < n)
		return t[count];
	long long step = n >= 2 ? t[n - 1] - t[n - 2] : t[0];
	if (step <= 0)
		return -1;
	return t[n - 1] + step * (long long)(count - (int)n + 1);
}

/* $warn_message_delay: "N minutes" below an hour, else "N hours". */
static void delay_text(long long secs, xbuf *out)
{
	if (secs < 3600)
		xbuf_printf(out, "%lld minutes", secs / 60);
	else
		xbuf_printf(out, "%lld hours", secs / 3600);
}

/* RFC 3461: a recipient that gave NOTIFY without DELAY gets no delay notice. */
static bool wants_delay_notice(const address_item *a)
{
	unsigned notify = a->dsn_flags & (MSG_DSN_NEVER | MSG_DSN_SUCCESS | MSG_DSN_FAILURE | MSG_DSN_DELAY);
	return notify == 0 || (notify & MSG_DSN_DELAY);
}

static bool condition_allows(bnc_env *e)
{
	const char *src = conf_main.delay_warning_condition;
	if (!src)
		return true;
	xbuf out, err;
	xbuf_init(&out, e->env.a);
	xbuf_init(&err, e->env.a);
	bool forced;
	if (!bnc_expand(e, src, &out, &forced, &err)) {
		if (!forced)
			log_write(LOG_MAIN | LOG_PANIC, "Expansion of delay_warning_condition failed: %s", xbuf_cstr(&err));
		return false;
	}
	sv v = sv_trim(xbuf_sv(&out));
	return !(v.len == 0 || (v.len == 1 && v.p[0] == '0') || (v.len == 2 && strncasecmp(v.p, "no", 2) == 0)
		|| (v.len == 5 && strncasecmp(v.p, "false", 5) == 0));
}

static void put_item(xbuf *out, sv item)
{
	xbuf_putsv(out, item);
	if (item.len && item.p[item.len - 1] != '\n')
		xbuf_putc(out, '\n');
}

static void header_value(const message *m, const char *name, xbuf *out)
{
	const msg_header *h = message_find_header(m, sv_cstr(name));
	if (h)
		xbuf_putsv(out, sv_trim(hdr_field_body(h->text)));
}

enum { WMF_HEADERS, WMF_INTRO, WMF_END, WMF_ITEMS };

static void format_warning(bnc_env *e, const message *m, int data_fd, const address_item **list,
	size_t n, sv to, xbuf *out, xbuf *err)
{
	arena *a = e->env.a;
	sv items[WMF_ITEMS];
	memset(items, 0, sizeof items);
	if (conf_main.warn_message_file && *conf_main.warn_message_file) {
		xbuf terr;
		xbuf_init(&terr, a);
		if (!bnc_template(e, conf_main.warn_message_file, items, WMF_ITEMS, &terr))
			log_write(LOG_MAIN | LOG_PANIC, "%s: using default warning text", xbuf_cstr(&terr));
	}
	xbuf boundary;
	xbuf_init(&boundary, a);
	bnc_boundary(&boundary);
	const char *b = xbuf_cstr(&boundary);

	if (conf_main.errors_reply_to && *conf_main.errors_reply_to)
		xbuf_printf(out, "Reply-To: %s\n", conf_main.errors_reply_to);
	xbuf_puts(out, "Auto-Submitted: auto-replied\nFrom: ");
	bnc_from(e, out);
	xbuf_puts(out, "\nTo: ");
	bnc_put_unfolded(to, out);
	xbuf_putc(out, '\n');
	bnc_references(m, out);
	xbuf_printf(out, "Content-Type: multipart/report; report-type=delivery-status; boundary=%s\n"
		"MIME-Version: 1.0\n", b);
	if (items[WMF_HEADERS].p)
		put_item(out, items[WMF_HEADERS]);
	else
		xbuf_printf(out, "Subject: Warning: message %s delayed " SV_FMT "\n", m->id, SV_ARG(e->warn_delay));
	xbuf_putc(out, '\n');

	xbuf_printf(out, "--%s\nContent-type: text/plain; charset=us-ascii\n\n", b);
	if (items[WMF_INTRO].p)
		put_item(out, items[WMF_INTRO]);
	else {
		xbuf_puts(out, "This message was created automatically by mail delivery software.\n");
		if (sv_eq(m->sender, to))
			xbuf_puts(out, "A message that you sent has not yet been delivered to one or more of its\n"
				"recipients after more than ");
		else {
			xbuf_puts(out, "A message sent by\n\n  <");
			bnc_put_unfolded(m->sender, out);
			xbuf_puts(out, ">\n\nhas not yet been delivered to one or more of its recipients after\n"
				"more than ");
		}
		xbuf_putsv(out, e->warn_delay);
		xbuf_puts(out, " on the queue on ");
		bnc_expand(e, "$primary_hostname", out, NULL, err);
		xbuf_printf(out, ".\n\nThe message identifier is:     %s\n", m->id);
		if (message_find_header(m, sv_cstr("Subject"))) {
			xbuf_puts(out, "The subject of the message is: ");
			header_value(m, "Subject", out);
			xbuf_putc(out, '\n');
		}
		if (message_find_header(m, sv_cstr("Date"))) {
			xbuf_puts(out, "The date of the message is:    ");
			header_value(m, "Date", out);
			xbuf_putc(out, '\n');
		}
		xbuf_puts(out, n == 1 ? "\nThe address to which the message has not yet been delivered is:\n"
			: "\nThe addresses to which the message has not yet been delivered are:\n");
	}
	xbuf_putc(out, '\n');
	for (size_t i = 0; i < n; i++)
		bnc_address_block(list[i], "Delay reason: ", out);
	xbuf_putc(out, '\n');
	if (items[WMF_END].p)
		put_item(out, items[WMF_END]);
	else
		xbuf_puts(out, "No action is required on your part. Delivery attempts will continue for\n"
			"some time, and this warning may be repeated at intervals if the message\n"
			"remains undelivered. Eventually the mail delivery software will give up,\n"
			"and when that happens, the message will be returned to you.\n");
	xbuf_putc(out, '\n');

	xbuf_printf(out, "--%s\nContent-type: message/delivery-status\n\nReporting-MTA: dns; ", b);
	bnc_reporting_mta(e, out);
	xbuf_putc(out, '\n');
	if (m->dsn_envid.len) {
		xbuf_puts(out, "Original-Envelope-ID: ");
		bnc_put_field(m->dsn_envid, out);
		xbuf_putc(out, '\n');
	}
	xbuf_putc(out, '\n');
	/* Unlike the failure report, the same order as the text part (observed). */
	for (size_t i = 0; i < n; i++)
		bnc_dsn_block(list[i], "delayed", "4.0.0", false, out);

	xbuf part;
	xbuf_init(&part, a);
	const char *ctype;
	if (bnc_returned_message(m, data_fd, BNC_RETURN_HEADERS, &ctype, &part, err)) {
		xbuf_printf(out, "--%s\nContent-type: %s\n\n", b, ctype);
		xbuf_putsv(out, xbuf_sv(&part));
	}
	xbuf_printf(out, "--%s--\n", b);
}

bool bounce_maybe_warn(const spool_config *sc, message *m, int data_fd,
	const address_item *deferred, time_t now, xbuf *err)
{
	/* No warnings about bounces, or when none are configured. */
	if (!m->sender.len || !deferred)
		return true;
	long long t[WARN_TIMES_MAX];
	size_t nt = warn_times(t);
	if (!nt)
		return true;
	long long due = warn_due(t, nt, m->warning_count);
	long long age = (long long)now - (long long)m->received_time;
	if (due < 0 || age < due)
		return true;

	arena *a = arena_new("warning");
	size_t n = 0;
	for (const address_item *d = deferred; d; d = d->next)
		n++;
	const address_item **list = arena_calloc(a, n, sizeof *list);
	size_t k = 0;   /* list[]: newest deferral first (the order of both parts, as Exim's) */
	sv domain = { NULL, 0, 0, 0 };
	bool same_domain = true;
	for (const address_item *d = deferred; d; d = d->next) {
		if (!wants_delay_notice(d))
			continue;
		if (k == 0)
			domain = d->domain;
		else if (!sv_eq(domain, d->domain))
			same_domain = false;
		list[k++] = d;
	}
	for (size_t i = 0; i < k / 2; i++) {
		const address_item *swap = list[i];
		list[i] = list[k - 1 - i];
		list[k - 1 - i] = swap;
	}
	bool ok = true;
	if (k) {
		bnc_env e;
		bnc_env_init(&e, m, a);
		e.domain = same_domain ? domain : (sv){ "", 0, 0, 0 };
		e.warn_recipients = m->sender;
		e.bounce_recipient = m->sender;
		xbuf delay;
		xbuf_init(&delay, a);
		delay_text(due, &delay);
		e.warn_delay = xbuf_sv(&delay);
		if (condition_allows(&e)) {
			xbuf text;
			xbuf_init(&text, a);
			format_warning(&e, m, data_fd, list, k, m->sender, &text, err);
			ok = bnc_submit(sc, m, xbuf_sv(&text), NULL, err);
			if (ok)
				m->warning_count++;
		}
		xp_env_release(&e.env);
	}
	arena_free(a);
	return ok;
}

/* ---- success DSNs ---- */

bool bounce_send_success_dsn(const spool_config *sc, const message *m, int data_fd,
	const address_item *delivered, xbuf *err)
{
	if (!m->sender.len)
		return true;
	size_t n = 0;
	for (const address_item *d = delivered; d; d = d->next)
		if (d->dsn_flags & MSG_DSN_SUCCESS)
			n++;
	if (!n)
		return true;
	arena *a = arena_new("dsn");
	bnc_env e;
	bnc_env_init(&e, m, a);
	e.bounce_recipient = m->sender;
	xbuf out, boundary;
	xbuf_init(&out, a);
	xbuf_init(&boundary, a);
	bnc_boundary(&boundary);
	const char *b = xbuf_cstr(&boundary);

	xbuf_puts(&out, "From: ");
	bnc_from(&e, &out);
	xbuf_puts(&out, "\nAuto-Submitted: auto-generated\nTo: ");
	bnc_put_unfolded(m->sender, &out);
	xbuf_printf(&out, "\nSubject: Delivery Status Notification\n"
		"Content-Type: multipart/report; report-type=delivery-status; boundary=%s\n"
		"MIME-Version: 1.0\n\n", b);
	xbuf_printf(&out, "--%s\nContent-type: text/plain; charset=us-ascii\n\n"
		"This message was created automatically by mail delivery software.\n"
		" ----- The following addresses had successful delivery notifications -----\n", b);
	for (const address_item *d = delivered; d; d = d->next) {
		if (!(d->dsn_flags & MSG_DSN_SUCCESS))
			continue;
		xbuf_printf(&out, "<" SV_FMT "> %s\n", SV_ARG(d->address),
			d->host_used_address.len ? "(relayed to non-DSN-aware mailer)"
				: "(relayed via non \"Remote SMTP\" router)");
	}
	xbuf_printf(&out, "\n--%s\nContent-type: message/delivery-status\n\nReporting-MTA: dns; ", b);
	bnc_reporting_mta(&e, &out);
	xbuf_putc(&out, '\n');
	if (m->dsn_envid.len) {
		xbuf_puts(&out, "Original-Envelope-ID: ");
		bnc_put_field(m->dsn_envid, &out);
		xbuf_putc(&out, '\n');
	}
	xbuf_putc(&out, '\n');
	for (const address_item *d = delivered; d; d = d->next) {
		if (!(d->dsn_flags & MSG_DSN_SUCCESS))
			continue;
		if (d->orcpt.len) {
			xbuf_puts(&out, "Original-Recipient: ");
			bnc_put_field(d->orcpt, &out);
			xbuf_putc(&out, '\n');
		}
		/* "delivered" also for a relay to a host without DSN support; its Diagnostic-Code is a
		 * fixed "250 Ok", not the host's reply (observed from Exim 4.96). */
		xbuf_puts(&out, "Action: delivered\nFinal-Recipient: rfc822;");
		bnc_put_field(bnc_top_of(d)->address, &out);
		xbuf_puts(&out, "\nStatus: 2.0.0\n");
		if (d->host_used_address.len) {
			if (d->host_used_name.len) {
				xbuf_puts(&out, "Remote-MTA: dns; ");
				bnc_put_field(d->host_used_name, &out);
				xbuf_putc(&out, '\n');
			}
			xbuf_puts(&out, "Diagnostic-Code: smtp; 250 Ok\n");
		} else {
			xbuf_puts(&out, "Diagnostic-Code: X-Exim; relayed via non SMTP router\n");
		}
		xbuf_putc(&out, '\n');
	}
	xbuf part;
	xbuf_init(&part, a);
	const char *ctype;
	/* Headers only, even with RET=FULL (observed). */
	bool ok = bnc_returned_message(m, data_fd, BNC_RETURN_HEADERS, &ctype, &part, err);
	if (ok) {
		xbuf_printf(&out, "--%s\nContent-type: %s\n\n", b, ctype);
		xbuf_putsv(&out, xbuf_sv(&part));
		xbuf_printf(&out, "--%s--\n", b);
		ok = bnc_submit(sc, m, xbuf_sv(&out), NULL, err);
	}
	xp_env_release(&e.env);
	arena_free(a);
	return ok;
}
