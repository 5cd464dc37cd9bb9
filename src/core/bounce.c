/* Failure reports ("bounces") in Exim 4.96's layout (recorded in tests/golden/bounce/):
 *
 *   X-Failed-Recipients: a,\n  b            every failed address
 *   Reply-To: <errors_reply_to>             when set
 *   Auto-Submitted: auto-replied
 *   From: <dsn_from>
 *   To: <recipient>
 *   References: <ids> <Message-ID>          when the message has a Message-ID
 *   Content-Type: multipart/report; report-type=delivery-status; boundary=<t>-eximdsn-<r>
 *   MIME-Version: 1.0
 *   Subject: Mail delivery failed: returning message to sender
 *
 * then a text/plain part (the explanation and one block per failed address), the
 * message/delivery-status part (Reporting-MTA, Original-Envelope-ID, one block per recipient in
 * the order the failures happened), and the returned message (message/rfc822, or
 * text/rfc822-headers for RET=HDRS, no_bounce_return_body, or a message over the
 * bounce_return_size_limit / _linesize_limit). For a message marked SMTPUTF8 the parts are
 * message/global-delivery-status and message/global (-headers), and the human-readable addresses
 * are escaped as in log lines (observed from Exim 4.96). Reception (submit.c) adds Received,
 * Message-Id and Date, as Exim's child process does.
 */
#include <string.h>

#include "conf/main_options.h"
#include "core/bounce_internal.h"
#include "core/tp_output.h"
#include "lib/log.h"
#include "search/match.h"
#include "search/search.h"

/* The item texts of bounce_message_file (Exim's order); NULL entries take the defaults. */
enum { BMF_HEADERS, BMF_INTRO, BMF_PIPE_TEXT, BMF_COPY, BMF_TRUNCATED, BMF_END, BMF_ITEMS };

static void default_intro(const message *m, sv to, xbuf *out)
{
	xbuf_puts(out, "This message was created automatically by mail delivery software.\n");
	if (conf_main.bounce_message_text) {
		xbuf_puts(out, conf_main.bounce_message_text);
		xbuf_putc(out, '\n');
	} else {
		xbuf_putc(out, '\n');
	}
	if (sv_eq(m->sender, to))
		xbuf_puts(out, "A message that you sent could not be delivered to one or more of its\n"
			"recipients. This is a permanent error. The following address(es) failed:\n");
	else {
		xbuf_puts(out, "A message sent by\n\n  <");
		bnc_put_unfolded(m->sender, out);
		xbuf_puts(out, ">\n\ncould not be delivered to one or more of its recipients. The following\n"
			"address(es) failed:\n");
	}
}

/* errors_copy: "pattern addresses" items; the first pattern matching the report's recipient
 * (as an address-list item) gives the Bcc: addresses, expanded with $local_part and $domain of
 * the recipient. Exim puts the Bcc: header just before the Subject:. */
static void errors_copy(bnc_env *e, sv to, xbuf *out)
{
	const char *list = conf_main.errors_copy;
	if (!list || !*list)
		return;
	const char *at = memchr(to.p, '@', to.len);
	e->local_part = at ? sv_sub(to, 0, (size_t)(at - to.p)) : to;
	e->domain = at ? sv_sub(to, (size_t)(at - to.p) + 1, to.len - (size_t)(at - to.p) - 1) : (sv){ "", 0, 0, 0 };
	sv l = sv_cstr(list);
	size_t pos = 0;
	while (pos < l.len) {
		/* Items are colon-separated; "::" is a literal colon. */
		xbuf item;
		xbuf_init(&item, e->env.a);
		while (pos < l.len) {
			if (l.p[pos] == ':') {
				if (pos + 1 < l.len && l.p[pos + 1] == ':') {
					xbuf_putc(&item, ':');
					pos += 2;
					continue;
				}
				pos++;
				break;
			}
			xbuf_putc(&item, l.p[pos++]);
		}
		sv it = sv_trim(xbuf_sv(&item));
		size_t i = 0;
		sv pattern;
		if (it.len && it.p[0] == '"') {
			const char *q = memchr(it.p + 1, '"', it.len - 1);
			if (!q)
				continue;
			pattern = sv_sub(it, 1, (size_t)(q - it.p) - 1);
			i = (size_t)(q - it.p) + 1;
		} else {
			while (i < it.len && it.p[i] != ' ' && it.p[i] != '\t')
				i++;
			pattern = sv_sub(it, 0, i);
		}
		sv addresses = sv_trim(sv_sub(it, i, it.len - i));
		if (!pattern.len || !addresses.len)
			continue;
		xbuf err;
		xbuf_init(&err, e->env.a);
		/* The pattern alone, as a one-item list (a colon in it was written "::"). */
		xbuf one;
		xbuf_init(&one, e->env.a);
		for (size_t k = 0; k < pattern.len; k++) {
			if (pattern.p[k] == ':')
				xbuf_putc(&one, ':');
			xbuf_putc(&one, pattern.p[k]);
		}
		if (match_isinlist(to, xbuf_sv(&one), ':', MATCH_ADDRESS, true, NULL, &err) != SEARCH_OK)
			continue;
		xbuf bcc;
		xbuf_init(&bcc, e->env.a);
		if (!bnc_expand(e, sv_dup(e->env.a, addresses), &bcc, NULL, &err)) {
			log_write(LOG_MAIN | LOG_PANIC, "Failed to expand errors_copy addresses: %s", xbuf_cstr(&err));
			return;
		}
		if (bcc.len) {
			xbuf_puts(out, "Bcc: ");
			xbuf_putsv(out, xbuf_sv(&bcc));
			xbuf_putc(out, '\n');
		}
		return;
	}
}

static void put_item(xbuf *out, sv item)
{
	xbuf_putsv(out, item);
	if (item.len && item.p[item.len - 1] != '\n')
		xbuf_putc(out, '\n');
}

/* What pipe commands printed under return_output / return_fail_output (kept by the transport,
 * core/tp_output.h): after the address blocks, an introduction (bounce_message_file's third
 * item), then per address "------ <address> ------", a blank line and the text (observed from
 * Exim 4.96 with a failing pipe). */
enum { OUTPUT_MAX = 64 * 1024 };
static void command_output(const message *m, const address_item *const *list, size_t nlist, sv intro,
	arena *a, xbuf *out)
{
	spool_config sc;
	xbuf err;
	xbuf_init(&err, a);
	if (!spool_config_from_main(&sc, &err))
		return;
	size_t n = 0;
	xbuf texts;
	xbuf_init(&texts, a);
	for (size_t i = 0; i < nlist; i++) {
		const address_item *f = list[i];
		xbuf t;
		xbuf_init(&t, a);
		if (!tp_output_load(a, &sc, m->id, f, OUTPUT_MAX, &t) || t.len == 0)
			continue;
		n++;
		/* Named as in the list of failures, its further lines indented under the dashes
		 * (observed: "------ pipe to |cmd\n       generated by mid@x\n       (ultimately
		 * generated from top@x) ------"). */
		xbuf name;
		xbuf_init(&name, a);
		bnc_address_name(f, &name);
		xbuf_puts(&texts, "\n------ ");
		for (size_t k = 0; k < name.len; k++) {
			xbuf_putc(&texts, name.p[k]);
			if (name.p[k] == '\n' && k + 4 < name.len && memcmp(name.p + k + 1, "    ", 4) == 0) {
				xbuf_puts(&texts, "       ");
				k += 4;
			}
		}
		xbuf_puts(&texts, " ------\n\n");
		xbuf_putsv(&texts, xbuf_sv(&t));
		if (t.p[t.len - 1] != '\n')
			xbuf_putc(&texts, '\n');
	}
	if (!n)
		return;
	if (intro.p)
		put_item(out, intro);
	else
		xbuf_printf(out, "The following text was generated during the delivery attempt%s:\n", n > 1 ? "s" : "");
	xbuf_putsv(out, xbuf_sv(&texts));
	xbuf_putc(out, '\n');
}

bool bounce_format_failure(const message *m, int data_fd, const address_item *failed, sv to,
	xbuf *out, xbuf *err)
{
	if (!failed) {
		xbuf_puts(err, "no failed addresses to report");
		return false;
	}
	arena *a = arena_new("bounce");
	bnc_env e;
	bnc_env_init(&e, m, a);
	e.bounce_recipient = to;

	sv items[BMF_ITEMS];
	memset(items, 0, sizeof items);
	if (conf_main.bounce_message_file && *conf_main.bounce_message_file) {
		xbuf terr;
		xbuf_init(&terr, a);
		if (!bnc_template(&e, conf_main.bounce_message_file, items, BMF_ITEMS, &terr))
			log_write(LOG_MAIN | LOG_PANIC, "%s: using default bounce text", xbuf_cstr(&terr));
	}

	xbuf boundary;
	xbuf_init(&boundary, a);
	bnc_boundary(&boundary);
	const char *b = xbuf_cstr(&boundary);

	/* The list comes in the order the failures happened; Exim keeps its failed list newest
	 * first and lists the addresses that way everywhere except in the delivery-status part. */
	size_t n = 0;
	for (const address_item *f = failed; f; f = f->next)
		n++;
	const address_item **newest = arena_calloc(a, n, sizeof *newest);
	size_t k = n;
	for (const address_item *f = failed; f; f = f->next)
		newest[--k] = f;

	/* Headers. An address hidden by hide_child_in_errmsg is left out, and the header with it
	 * when there is nothing else (observed from Exim 4.96). */
	size_t shown = 0;
	for (size_t i = 0; i < n; i++) {
		/* A pipe, file or reply item is named by the address that generated it (observed:
		 * "X-Failed-Recipients: user1@..." for a failed "|/bin/false" from user1's filter). */
		const address_item *f = newest[i];
		if (bnc_hidden(f))
			continue;
		xbuf_puts(out, shown++ ? ",\n  " : "X-Failed-Recipients: ");
		bnc_put_address(f->kind != ADDR_MAIL && f->parent ? f->parent->address : f->address, out);
	}
	if (shown)
		xbuf_putc(out, '\n');
	if (conf_main.errors_reply_to && *conf_main.errors_reply_to)
		xbuf_printf(out, "Reply-To: %s\n", conf_main.errors_reply_to);
	xbuf_puts(out, "Auto-Submitted: auto-replied\nFrom: ");
	bnc_from(&e, out);
	xbuf_puts(out, "\nTo: ");
	bnc_put_unfolded(to, out);
	xbuf_putc(out, '\n');
	bnc_references(m, out);
	xbuf_printf(out, "Content-Type: multipart/report; report-type=delivery-status; boundary=%s\n"
		"MIME-Version: 1.0\n", b);
	errors_copy(&e, to, out);
	if (items[BMF_HEADERS].p)
		put_item(out, items[BMF_HEADERS]);
	else
		xbuf_printf(out, "Subject: Mail delivery failed%s\n",
			sv_eq(m->sender, to) ? ": returning message to sender" : "");
	xbuf_putc(out, '\n');

	/* The human-readable part. */
	xbuf_printf(out, "--%s\nContent-type: text/plain; charset=us-ascii\n\n", b);
	if (items[BMF_INTRO].p)
		put_item(out, items[BMF_INTRO]);
	else
		default_intro(m, to, out);
	xbuf_putc(out, '\n');
	for (size_t i = 0; i < n; i++)
		bnc_address_block(newest[i], "", out);
	xbuf_putc(out, '\n');
	command_output(m, newest, n, items[BMF_PIPE_TEXT], a, out);

	/* The machine-readable part: recipients in the order they failed. For a message that came
	 * with SMTPUTF8 Exim 4.96 uses RFC 6533's types for it and for the returned message
	 * (observed; its delay warnings and success DSNs keep the others). */
	xbuf_printf(out, "--%s\nContent-type: message/%sdelivery-status\n\n", b, m->smtputf8 ? "global-" : "");
	xbuf_puts(out, "Reporting-MTA: dns; ");
	bnc_reporting_mta(&e, out);
	xbuf_putc(out, '\n');
	if (m->dsn_envid.len) {
		xbuf_puts(out, "Original-Envelope-ID: ");
		bnc_put_field(m->dsn_envid, out);
		xbuf_putc(out, '\n');
	}
	xbuf_putc(out, '\n');
	for (const address_item *f = failed; f; f = f->next)
		bnc_dsn_block(f, "failed", "5.0.0", conf_main.dsn_extra_information, out);

	/* The returned message. */
	xbuf part;
	xbuf_init(&part, a);
	const char *ctype;
	bool ok = bnc_returned_message(m, data_fd, BNC_RETURN_DEFAULT, &ctype, &part, err);
	if (ok) {
		if (m->smtputf8)
			ctype = strcmp(ctype, "message/rfc822") == 0 ? "message/global" : "message/global-headers";
		xbuf_printf(out, "--%s\nContent-type: %s\n\n", b, ctype);
		xbuf_putsv(out, xbuf_sv(&part));
		xbuf_printf(out, "--%s--\n", b);
	}
	xp_env_release(&e.env);
	arena_free(a);
	return ok;
}

bool bounce_send_failure(const spool_config *sc, const message *m, int data_fd,
	const address_item *failed, sv to, char new_id[MSG_ID_LEN + 1], xbuf *err)
{
	if (new_id)
		new_id[0] = 0;
	arena *a = arena_new("bounce-text");
	xbuf text;
	xbuf_init(&text, a);
	bool ok = bounce_format_failure(m, data_fd, failed, to, &text, err)
		&& bnc_submit(sc, m, xbuf_sv(&text), new_id, err);
	arena_free(a);
	return ok;
}
