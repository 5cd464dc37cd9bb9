/* Parts every report to a sender shares (failure reports, delay warnings, success DSNs), in the
 * layout Exim 4.96 writes (recorded in tests/golden/bounce/): the boundary, the From: and
 * References: headers, the human-readable address blocks, the per-recipient blocks of the
 * message/delivery-status part (with DSN extra information, facts §7), and the returned message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/bounce_internal.h"
#include "core/submit.h"
#include "core/transport.h"
#include "lib/log.h"
#include "lib/printing.h"
#include "mail/header.h"

/* ---- expansion ---- */

static bool bnc_var(void *ctx, sv name, xbuf *out)
{
	bnc_env *e = ctx;
	if (sv_eq(name, sv_cstr("bounce_recipient")))
		xbuf_putsv(out, e->bounce_recipient);
	else if (sv_eq(name, sv_cstr("bounce_return_size_limit")))
		xbuf_printf(out, "%d", conf_main.bounce_return_size_limit);
	else if (sv_eq(name, sv_cstr("warn_message_delay")))
		xbuf_putsv(out, e->warn_delay);
	else if (sv_eq(name, sv_cstr("warn_message_recipients")))
		xbuf_putsv(out, e->warn_recipients);
	else if (sv_eq(name, sv_cstr("domain")))
		xbuf_putsv(out, e->domain);
	else if (sv_eq(name, sv_cstr("local_part")))
		xbuf_putsv(out, e->local_part);
	else
		return false;
	return true;
}

void bnc_env_init(bnc_env *e, const message *m, arena *a)
{
	memset(e, 0, sizeof *e);
	xp_env_init(&e->env, a);
	message_vars_init(&e->mv, m, NULL);
	e->mv.allow_recipients = true;
	xp_env_push_provider(&e->env, &e->mv.p);
	e->p.get = bnc_var;
	e->p.ctx = e;
	xp_env_push_provider(&e->env, &e->p);
	message_to_xp(m, (sv){ "", 0, 0, 0 }, &e->xm, a);
	e->env.msg = &e->xm;
}

bool bnc_expand(bnc_env *e, const char *src, xbuf *out, bool *forced, xbuf *err)
{
	if (forced)
		*forced = false;
	if (!src)
		return true;
	int rc = xp_expand(&e->env, sv_cstr(src), out, err);
	if (rc == XP_OK)
		return true;
	if (rc == XP_FORCEFAIL && forced)
		*forced = true;
	return false;
}

bool bnc_template(bnc_env *e, const char *path_option, sv *items, int want, xbuf *err)
{
	for (int i = 0; i < want; i++)
		items[i] = (sv){ NULL, 0, 0, 0 };
	xbuf path;
	xbuf_init(&path, e->env.a);
	if (!bnc_expand(e, path_option, &path, NULL, err))
		return false;
	if (path.taint || path.len == 0 || path.p[0] != '/') {
		xbuf_printf(err, "%s \"%s\" is not an absolute untainted path", "message file", xbuf_cstr(&path));
		return false;
	}
	xbuf text;
	xbuf_init(&text, e->env.a);
	int errnum = 0;
	if (!spool_read_file(xbuf_cstr(&path), (size_t)1 << 20, &text, &errnum)) {
		xbuf_printf(err, "Failed to open %s: %s", xbuf_cstr(&path), strerror(errnum));
		return false;
	}
	/* Items end at a line that is exactly "****". */
	sv rest = xbuf_sv(&text);
	for (int i = 0; i < want && rest.len; i++) {
		size_t start = 0, pos = 0, end = rest.len;
		bool found = false;
		while (pos < rest.len) {
			const char *nl = memchr(rest.p + pos, '\n', rest.len - pos);
			size_t eol = nl ? (size_t)(nl - rest.p) : rest.len;
			if (eol - pos == 4 && memcmp(rest.p + pos, "****", 4) == 0) {
				end = pos;
				found = true;
				pos = nl ? eol + 1 : eol;
				break;
			}
			pos = nl ? eol + 1 : eol;
		}
		sv raw = sv_sub(rest, start, end - start);
		rest = found ? sv_sub(rest, pos, rest.len - pos) : (sv){ "", 0, 0, 0 };
		if (raw.len == 0)
			continue;
		xbuf x;
		xbuf_init(&x, e->env.a);
		xbuf xerr;
		xbuf_init(&xerr, e->env.a);
		if (!bnc_expand(e, sv_dup(e->env.a, raw), &x, NULL, &xerr)) {
			log_write(LOG_MAIN | LOG_PANIC, "Expansion of \"%.*s\" from %s failed: %s",
				(int)(raw.len > 200 ? 200 : raw.len), raw.p, xbuf_cstr(&path), xbuf_cstr(&xerr));
			continue;
		}
		if (x.len)
			items[i] = xbuf_sv(&x);
	}
	return true;
}

/* ---- headers ---- */

void bnc_boundary(xbuf *out)
{
	static bool seeded;
	if (!seeded) {
		srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 16));
		seeded = true;
	}
	xbuf_printf(out, "%lld-eximdsn-%ld", (long long)time(NULL), random());
}

void bnc_reporting_mta(bnc_env *e, xbuf *out)
{
	xbuf err;
	xbuf_init(&err, e->env.a);
	size_t at = out->len;
	if (conf_main.smtp_active_hostname && *conf_main.smtp_active_hostname
		&& bnc_expand(e, conf_main.smtp_active_hostname, out, NULL, &err) && out->len > at)
		return;
	xbuf_truncate(out, at);
	bnc_expand(e, "$primary_hostname", out, NULL, &err);
}

void bnc_from(bnc_env *e, xbuf *out)
{
	xbuf err;
	xbuf_init(&err, e->env.a);
	size_t at = out->len;
	const char *src = conf_main.dsn_from ? conf_main.dsn_from : main_config_defaults.dsn_from;
	if (bnc_expand(e, src, out, NULL, &err))
		return;
	log_write(LOG_MAIN | LOG_PANIC, "Failed to expand dsn_from (using default): %s", xbuf_cstr(&err));
	xbuf_truncate(out, at);
	bnc_expand(e, main_config_defaults.dsn_from, out, NULL, &err);
}

/* A header value on one line: a folded value (or a stray line break) loses its CR and LF. */
void bnc_put_unfolded(sv v, xbuf *out)
{
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] != '\n' && v.p[i] != '\r')
			xbuf_putc(out, v.p[i]);
}

/* References: the original's References ids (the first and the last 11 when there are more
 * than 12: observed from Exim 4.96 with 15), then its Message-ID. Reading stops at the first
 * thing that is not a whitespace-separated "<...>". */
void bnc_references(const message *m, xbuf *out)
{
	const msg_header *mid = message_find_header(m, sv_cstr("Message-ID"));
	if (!mid)
		return;
	sv id = sv_trim(hdr_field_body(mid->text));
	if (!id.len)
		return;
	enum { KEEP_LAST = 11, MAX_IDS = 12, SCAN_MAX = 4096 };
	sv ids[SCAN_MAX];
	size_t n = 0;
	const msg_header *refs = message_find_header(m, sv_cstr("References"));
	if (refs) {
		sv v = hdr_field_body(refs->text);
		size_t i = 0;
		while (n < SCAN_MAX) {
			while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == '\n' || v.p[i] == '\r'))
				i++;
			if (i >= v.len || v.p[i] != '<')
				break;
			const char *gt = memchr(v.p + i, '>', v.len - i);
			if (!gt)
				break;
			size_t e = (size_t)(gt - v.p) + 1;
			ids[n++] = sv_sub(v, i, e - i);
			i = e;
		}
	}
	xbuf_puts(out, "References:");
	for (size_t k = 0; k < n; k++) {
		if (n > MAX_IDS && k > 0 && k < n - KEEP_LAST)
			continue;
		xbuf_putc(out, ' ');
		bnc_put_unfolded(ids[k], out);
	}
	xbuf_putc(out, ' ');
	bnc_put_unfolded(id, out);
	xbuf_putc(out, '\n');
}

/* ---- address texts ---- */

const address_item *bnc_top_of(const address_item *a)
{
	int guard = 0;
	while (a->parent && guard++ < 1000)
		a = a->parent;
	return a;
}

bool bnc_hidden(const address_item *a)
{
	return a->parent && a->hide_child;
}

void bnc_put_address(sv address, xbuf *out)
{
	printing_escape(address, PRINT_TAB_LITERAL | (conf_main.print_topbitchars ? PRINT_TOPBIT : 0), out);
}

/* Observed from Exim 4.96: a pipe, file or reply item is "pipe to |cmd", "save to /file" or
 * "mail to <to>" followed by "generated by <its parent>" on the next line; any other address
 * is itself. When the recipient everything came from (a one_time recipient's original) is not
 * what was just named, a line "(generated from <it>)" follows, "(ultimately generated from
 * <it>)" when it is further up than the parent. A filter's "deliver" to its own address names
 * nothing more. */
void bnc_address_name(const address_item *a, xbuf *out)
{
	sv named = a->address;
	if (bnc_hidden(a)) {
		/* hide_child_in_errmsg (observed from Exim 4.96): "an undisclosed address", then where
		 * it came from. */
		named = SV_LIT("an undisclosed address");
		xbuf_putsv(out, named);
	} else if (a->kind != ADDR_MAIL && a->parent) {
		if (a->kind == ADDR_PIPE)
			xbuf_puts(out, "pipe to ");
		else if (a->kind == ADDR_REPLY)
			xbuf_puts(out, "mail to ");
		else
			xbuf_puts(out, "save to ");
		sv item = a->address;
		if (a->kind == ADDR_REPLY && item.len && item.p[0] == '>')
			item = sv_sub(item, 1, item.len - 1);
		xbuf_putsv(out, item);
		xbuf_puts(out, "\n    generated by ");
		named = a->parent->address;
		bnc_put_address(named, out);
	} else {
		bnc_put_address(named, out);
	}
	const address_item *top = bnc_top_of(a);
	if (top == a)
		return;
	sv original = top->onetime_parent.len ? top->onetime_parent : top->address;
	if (sv_eqi(original, named))
		return;
	xbuf_printf(out, "\n    (%sgenerated from ", top != a->parent ? "ultimately " : "");
	bnc_put_address(original, out);
	xbuf_putc(out, ')');
}

/* Was the address handled by a local transport (appendfile, pipe ...)? Their failure texts
 * carry paths and commands, so the sender is told only "local delivery failed" (observed from
 * Exim 4.96 with a failing pipe). */
static bool local_transport(const address_item *a)
{
	if (!a->transport || a->host_used_address.len)
		return false;
	const driver_instance *t = tp_find(a->transport);
	const transport_ops *ops = t && t->info ? t->info->ops : NULL;
	return !(ops && ops->remote);
}

static bool is_pipe(const address_item *a)
{
	if (a->kind == ADDR_PIPE)
		return true;
	const driver_instance *t = a->transport ? tp_find(a->transport) : NULL;
	return t && t->info && strcmp(t->info->name, "pipe") == 0;
}

/* Exim's ERRNO_UTF8: SMTPUTF8 needed but not offered (smtp/client.h's SMTPC_ERRNO_UTF8, a
 * layer above this one). */
enum { BNC_ERRNO_UTF8 = -49 };

static const char smtp_error_prefix[] = "SMTP error from remote mail server after ";

/* Text lines indented by four spaces; an SMTP error is split after "... after <command>:" so
 * the remote's reply starts its own line, as Exim prints it. Error texts keep a multi-line reply
 * escaped as the log shows it ("550-first\\n550 second", Exim's string_printing); a "\\n" there,
 * like a real newline, starts a new indented line. */
static void put_indented(sv text, xbuf *out)
{
	size_t split = SIZE_MAX;
	if (sv_starts(text, smtp_error_prefix)) {
		for (size_t i = sizeof smtp_error_prefix - 1; i + 1 < text.len; i++)
			if (text.p[i] == ':' && text.p[i + 1] == ' ') {
				split = i + 1;
				break;
			}
	}
	for (size_t i = 0; i < text.len; i++) {
		if (i == split || text.p[i] == '\n') {
			xbuf_puts(out, "\n    ");
			continue;
		}
		if (text.p[i] == '\\' && i + 1 < text.len && text.p[i + 1] == 'n') {
			xbuf_puts(out, "\n    ");
			i++;
			continue;
		}
		xbuf_putc(out, text.p[i]);
	}
}

void bnc_address_block(const address_item *a, const char *prefix, xbuf *out)
{
	xbuf_puts(out, "  ");
	bnc_address_name(a, out);
	/* A forbidden pipe, file or reply item is listed with no reason (observed from Exim 4.96
	 * for forbid_pipe, forbid_file and forbid_filter_reply: the log has "delivery to pipe
	 * forbidden", the report just the item and its parent). */
	if (a->pfr_forbidden) {
		xbuf_putc(out, '\n');
		return;
	}
	/* A hidden address shows no reason either (observed). */
	if (bnc_hidden(a)) {
		xbuf_putc(out, '\n');
		return;
	}
	xbuf_puts(out, "\n    ");
	if (a->host_used_address.len) {
		xbuf_printf(out, "host " SV_FMT " [" SV_FMT "]",
			SV_ARG(a->host_used_name.len ? a->host_used_name : a->host_used_address),
			SV_ARG(a->host_used_address));
		/* Observed from Exim 4.96: a message needing SMTPUTF8 at a host that does not offer
		 * it is told by the host line alone (the log has "utf8 support required but not
		 * offered for forwarding"): that text is not the remote's. */
		if (a->basic_errno == BNC_ERRNO_UTF8 && !a->user_message.len) {
			xbuf_putc(out, '\n');
			return;
		}
		xbuf_puts(out, "\n    ");
	}
	xbuf_puts(out, prefix);
	/* Observed from Exim 4.96: a pipe's deferral that ran out of retries is told as "local
	 * delivery failed: retry timeout exceeded" (an appendfile's as "retry timeout exceeded"). */
	if (a->retry_timedout && is_pipe(a))
		xbuf_puts(out, "local delivery failed: ");
	if (a->user_message.len)
		put_indented(a->user_message, out);
	else if (local_transport(a))
		xbuf_puts(out, "local delivery failed");
	else
		put_indented(a->message, out);
	xbuf_putc(out, '\n');
}

/* A field value of the delivery-status part: line ends become continuation lines (a raw
 * newline would end the field), cut to max bytes. first_line: only up to the first newline.
 * escaped_nl: an escaped "\\n" (see put_indented) also continues the field on a new line, as
 * in Exim's Diagnostic-Code; without it the sequence stays as it is (X-Exim-Diagnostic). */
static void put_field_text(sv v, size_t max, bool first_line, bool escaped_nl, xbuf *out)
{
	if (first_line) {
		const char *nl = memchr(v.p, '\n', v.len);
		if (nl)
			v.len = (size_t)(nl - v.p);
	}
	if (v.len > max)
		v.len = max;
	while (v.len && (v.p[v.len - 1] == '\n' || v.p[v.len - 1] == '\r'))
		v.len--;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] == '\r')
			continue;
		if (v.p[i] == '\n')
			xbuf_puts(out, "\n ");
		else if (escaped_nl && v.p[i] == '\\' && i + 1 < v.len && v.p[i + 1] == 'n') {
			xbuf_puts(out, "\n ");
			i++;
		} else
			xbuf_putc(out, v.p[i]);
	}
}

void bnc_put_field(sv v, xbuf *out)
{
	put_field_text(v, 1000, true, false, out);
}

/* The remote's reply for Diagnostic-Code: what the transport kept, else the part of the error
 * text after "SMTP error from remote mail server after <command>: ". */
static sv smtp_reply_of(const address_item *a)
{
	if (a->smtp_response.len)
		return a->smtp_response;
	sv m = a->message;
	if (!sv_starts(m, smtp_error_prefix))
		return (sv){ "", 0, 0, 0 };
	for (size_t i = sizeof smtp_error_prefix - 1; i + 1 < m.len; i++)
		if (m.p[i] == ':' && m.p[i + 1] == ' ')
			return sv_sub(m, i + 2, m.len - i - 2);
	return (sv){ "", 0, 0, 0 };
}

/* Exim's limit on the extra-information texts in the DSN (facts §7). */
enum { DSN_INFO_MAX = 900 };

void bnc_dsn_block(const address_item *a, const char *action, const char *status, bool extra_info,
	xbuf *out)
{
	if (a->orcpt.len) {
		xbuf_puts(out, "Original-Recipient: ");
		put_field_text(a->orcpt, 1000, true, false, out);
		xbuf_putc(out, '\n');
	}
	xbuf_printf(out, "Action: %s\n", action);
	/* The recipient the sender gave, whatever it was redirected to (observed from Exim 4.96:
	 * "Final-Recipient: rfc822;user1@test.example" for a filter's "save box5" and pipe). */
	xbuf_puts(out, "Final-Recipient: rfc822;");
	put_field_text(bnc_top_of(a)->address, 1000, true, false, out);
	xbuf_putc(out, '\n');
	xbuf_printf(out, "Status: %s\n", status);
	if (a->host_used_name.len) {
		xbuf_printf(out, "Remote-MTA: dns; " SV_FMT "\n", SV_ARG(a->host_used_name));
		if (extra_info) {
			if (a->host_used_address.len) {
				xbuf_printf(out, "Remote-MTA: X-ip; [" SV_FMT "]", SV_ARG(a->host_used_address));
				if (a->host_used_port > 0 && a->host_used_port != 25)
					xbuf_printf(out, ":%d", a->host_used_port);
				xbuf_putc(out, '\n');
			}
			if (a->smtp_greeting.len) {
				xbuf_puts(out, "X-Remote-MTA-smtp-greeting: X-str; ");
				put_field_text(a->smtp_greeting, DSN_INFO_MAX, true, false, out);
				xbuf_putc(out, '\n');
			}
			if (a->helo_response.len) {
				xbuf_puts(out, "X-Remote-MTA-helo-response: X-str; ");
				put_field_text(a->helo_response, DSN_INFO_MAX, true, false, out);
				xbuf_putc(out, '\n');
			}
			if (a->message.len) {
				xbuf_puts(out, "X-Exim-Diagnostic: X-str; ");
				put_field_text(a->message, DSN_INFO_MAX, false, false, out);
				xbuf_putc(out, '\n');
			}
		}
		sv reply = smtp_reply_of(a);
		if (reply.len) {
			xbuf_puts(out, "Diagnostic-Code: smtp; ");
			put_field_text(reply, 4096, false, true, out);
			xbuf_putc(out, '\n');
		}
	}
	xbuf_putc(out, '\n');
}

/* ---- the returned message ---- */

/* Exim compares the -D file's size with the limit rounded up to its 8K copy buffer: with
 * bounce_return_size_limit = 200 a -D file of 8192 bytes is returned whole, 8193 is not
 * (observed from Exim 4.96). 0: no limit. */
static bool too_big(const message *m, int data_fd)
{
	if (conf_main.bounce_return_linesize_limit > 0
		&& m->max_received_linelength > conf_main.bounce_return_linesize_limit)
		return true;
	if (conf_main.bounce_return_size_limit <= 0)
		return false;
	enum { COPY_BUFFER = 8192 };
	long long max = ((long long)conf_main.bounce_return_size_limit / COPY_BUFFER + 1) * COPY_BUFFER;
	struct stat st;
	return data_fd >= 0 && fstat(data_fd, &st) == 0 && (long long)st.st_size > max;
}

static bool append_body(const message *m, int data_fd, xbuf *out, xbuf *err)
{
	char buf[65536];
	off_t off = MSG_ID_LEN + 3;
	bool cr = false;
	for (;;) {
		ssize_t n = pread(data_fd, buf, sizeof buf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			xbuf_printf(err, "failed to read the data file: %s", strerror(errno));
			return false;
		}
		if (n == 0)
			break;
		off += n;
		if (!m->spool_wireformat) {
			xbuf_put(out, buf, (size_t)n);
			continue;
		}
		/* Wire format (CHUNKING): CRLF becomes LF, as the message is written locally. */
		for (ssize_t i = 0; i < n; i++) {
			if (cr && buf[i] != '\n')
				xbuf_putc(out, '\r');
			cr = buf[i] == '\r';
			if (!cr)
				xbuf_putc(out, buf[i]);
		}
	}
	if (cr)
		xbuf_putc(out, '\r');
	return true;
}

bool bnc_returned_message(const message *m, int data_fd, int mode, const char **ctype, xbuf *out,
	xbuf *err)
{
	bool full;
	if (m->dsn_ret == MSG_DSN_RET_HDRS || mode == BNC_RETURN_HEADERS)
		full = false;
	else if (m->dsn_ret == MSG_DSN_RET_FULL || mode == BNC_RETURN_FULL)
		full = true;
	else
		full = conf_main.bounce_return_body;
	bool cut = full && (data_fd < 0 || too_big(m, data_fd));
	if (cut)
		full = false;
	*ctype = full ? "message/rfc822" : "text/rfc822-headers";
	xbuf_puts(out, "Return-path: <");
	bnc_put_unfolded(m->sender, out);
	xbuf_puts(out, ">\n");
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*')
			xbuf_putsv(out, h->text);
	if (cut && data_fd >= 0)
		xbuf_puts(out, "X-Exim-DSN-Information: Due to administrative limits only headers are returned\n");
	xbuf_putc(out, '\n');
	if (full && !append_body(m, data_fd, out, err))
		return false;
	xbuf_putc(out, '\n');
	return true;
}

/* ---- submission ---- */

bool bnc_submit(const spool_config *sc, const message *m, sv text, char new_id[MSG_ID_LEN + 1],
	xbuf *err)
{
	char id[MSG_ID_LEN + 1];
	submit_request r = {
		.sender = { "", 0, 0, 0 },
		.text = text,
		.reference_id = sv_cstr(m->id),
		.extract_recipients = true,
		.by_exim_user = true,
	};
	bool ok = submit_message(sc, &r, id, err);
	if (new_id)
		memcpy(new_id, ok ? id : "", ok ? MSG_ID_LEN + 1 : 1);
	return ok;
}
