/* Running a parsed Sieve script: the commands (RFC 5228 section 4, RFC 5230 vacation, RFC 5435
 * enotify with mailto) and the implicit keep, producing filter actions (sieve.h). Vacation
 * replies are built as Exim 4.96 builds them (observed): To the return path, From the user,
 * Subject "Auto: <subject>" by default, RFC 2047-encoded when needed, the reason as
 * quoted-printable UTF-8 text (or, with :mime, as a MIME entity with its own headers), and one
 * once file per reply in sieve_vacation_directory named by the MD5 of subject, handle (or from),
 * "0"/"1" for :mime and the reason (observed from Exim's file names). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sieve_internal.h"
#include "lib/digest.h"
#include "mail/address.h"
#include "mail/rfc2047.h"

typedef struct srun {
	const sieve_ctx *ctx;
	arena *a;
	filter_result *res;
	bool keep;                    /* the implicit keep is in force */
	bool stopped;
	bool vacation_done;
	const char *error;            /* a run-time error */
	int error_line;
} srun;

static filter_action *add(srun *r, filter_action_kind kind, sv arg, bool significant)
{
	filter_action *act = arena_calloc(r->a, 1, sizeof *act);
	act->kind = kind;
	act->arg = arg;
	act->significant = significant;
	act->mode = -1;
	if (r->res->tail)
		r->res->tail->next = act;
	else
		r->res->actions = act;
	r->res->tail = act;
	if (significant)
		r->res->significant = true;
	return act;
}

static sv user_address(srun *r)
{
	return sv_cstr(arena_printf(r->a, SV_FMT "@" SV_FMT, SV_ARG(r->ctx->local_part), SV_ARG(r->ctx->domain)));
}

/* Quoted-printable as Exim writes a vacation reason: lines of at most 76 characters with soft
 * breaks, "=" and non-ASCII bytes encoded, white space before a line end encoded. */
static void qp_encode(sv in, xbuf *out)
{
	size_t col = 0;
	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];
		if (c == '\n') {
			xbuf_putc(out, '\n');
			col = 0;
			continue;
		}
		bool at_eol = i + 1 >= in.len || in.p[i + 1] == '\n';
		bool encode = c == '=' || c >= 127 || (c < 32 && c != '\t') || ((c == ' ' || c == '\t') && at_eol);
		size_t w = encode ? 3 : 1;
		if (col + w > 75) {
			xbuf_puts(out, "=\n");
			col = 0;
		}
		if (encode)
			xbuf_printf(out, "=%02X", c);
		else
			xbuf_putc(out, (char)c);
		col += w;
	}
}

static bool contains_ci(sv hay, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= hay.len; i++)
		if (strncasecmp(hay.p + i, needle, n) == 0)
			return true;
	return false;
}

/* Whether any address in the header value equals one of mine (case-insensitive). */
static bool header_has_address(srun *r, sv value, const sv *mine, int nmine)
{
	addr_group_state groups = { .allow = true };
	size_t pos = 0;
	sv item;
	while (addr_next_item(value, &pos, &item)) {
		xbuf out;
		xbuf_init(&out, r->a);
		addr_parsed info;
		const char *why;
		if (!addr_extract(item, &groups, &out, &info, &why) || info.empty)
			continue;
		for (int i = 0; i < nmine; i++)
			if (sv_eqi(xbuf_sv(&out), mine[i]))
				return true;
	}
	return false;
}

/* RFC 5230 section 4.5 and Exim's personal test: no reply to a bounce, to automatic or list mail,
 * to mail not addressed to the user (To or Cc), or to robot senders. */
static bool vacation_wanted(srun *r, const scmd *c)
{
	const sieve_ctx *ctx = r->ctx;
	if (ctx->return_path.len == 0)
		return false;
	static const char *const lists[] = { "List-Id", "List-Help", "List-Subscribe",
		"List-Unsubscribe", "List-Post", "List-Owner", "List-Archive" };
	for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
		if (!sv_is_null(sieve_header_value(ctx->msg, sv_cstr(lists[i]), r->a)))
			return false;
	sv autosub = sieve_header_value(ctx->msg, SV_LIT("Auto-Submitted"), r->a);
	if (!sv_is_null(autosub) && !sv_eqi(autosub, SV_LIT("no")))
		return false;
	sv prec = sieve_header_value(ctx->msg, SV_LIT("Precedence"), r->a);
	if (!sv_is_null(prec) && (contains_ci(prec, "bulk") || contains_ci(prec, "list") || contains_ci(prec, "junk")))
		return false;
	int nmine = 2 + c->addresses.n;
	sv *mine = arena_alloc(r->a, (size_t)nmine * sizeof *mine);
	mine[0] = user_address(r);
	mine[1] = sv_cstr(arena_printf(r->a, SV_FMT SV_FMT SV_FMT "@" SV_FMT, SV_ARG(ctx->prefix),
		SV_ARG(ctx->local_part), SV_ARG(ctx->suffix), SV_ARG(ctx->domain)));
	for (int i = 0; i < c->addresses.n; i++)
		mine[i + 2] = c->addresses.v[i];
	bool to_me = false;
	static const char *const recips[] = { "To", "Cc", "Bcc", "Resent-To", "Resent-Cc" };
	for (size_t i = 0; !to_me && i < sizeof recips / sizeof *recips; i++) {
		sv v = sieve_header_value(ctx->msg, sv_cstr(recips[i]), r->a);
		to_me = !sv_is_null(v) && header_has_address(r, v, mine, nmine);
	}
	if (!to_me)
		return false;
	/* Robot senders, by the return path's local part. */
	sv rp = ctx->return_path;
	const char *at = memchr(rp.p, '@', rp.len);
	sv local = sv_make(rp.p, at ? (size_t)(at - rp.p) : rp.len);
	static const char *const robots[] = { "mailer-daemon", "postmaster", "listserv", "majordomo",
		"owner", "server", "daemon", "root" };
	for (size_t i = 0; i < sizeof robots / sizeof *robots; i++)
		if (sv_eqi(local, sv_cstr(robots[i])))
			return false;
	if (local.len >= 8 && strncasecmp(local.p + local.len - 8, "-request", 8) == 0)
		return false;
	if (local.len > 6 && strncasecmp(local.p, "owner-", 6) == 0)
		return false;
	for (int i = 0; i < nmine; i++)
		if (sv_eqi(rp, mine[i]))
			return false;
	return true;
}

static sv encode_header(srun *r, sv text)
{
	xbuf out;
	xbuf_init(&out, r->a);
	rfc2047_encode(text, "utf-8", &out);
	return xbuf_sv(&out);
}

static void do_vacation(srun *r, const scmd *c)
{
	if (!vacation_wanted(r, c))
		return;
	const sieve_ctx *ctx = r->ctx;
	filter_mail *m = arena_calloc(r->a, 1, sizeof *m);
	m->vacation = true;
	m->to = ctx->return_path;
	m->from = sv_is_null(c->from) ? user_address(r) : c->from;
	sv subject = c->subject;
	if (sv_is_null(subject)) {
		sv orig = sieve_header_value(ctx->msg, SV_LIT("Subject"), r->a);
		subject = sv_cstr(arena_printf(r->a, "Auto: " SV_FMT, SV_ARG(sv_is_null(orig) ? SV_LIT("") : orig)));
	}
	m->subject = encode_header(r, subject);
	if (c->mime) {
		/* The reason is a MIME entity: its header lines go with the reply's. */
		sv reason = c->arg;
		size_t split = reason.len, body = reason.len;
		for (size_t i = 0; i < reason.len; i++) {
			if (reason.p[i] == '\n' && (i + 1 >= reason.len || reason.p[i + 1] == '\n')) {
				split = i + 1;
				body = i + 2 <= reason.len ? i + 2 : reason.len;
				break;
			}
		}
		m->extra_headers = sv_sub(reason, 0, split);
		m->text = sv_sub(reason, body, reason.len - body);
	} else {
		m->extra_headers = SV_LIT("MIME-Version: 1.0\nContent-Type: text/plain;\n\tcharset=\"utf-8\"\n"
			"Content-Transfer-Encoding: quoted-printable");
		xbuf qp;
		xbuf_init(&qp, r->a);
		qp_encode(c->arg, &qp);
		m->text = xbuf_sv(&qp);
	}
	if (!sv_is_null(ctx->vacation_directory)) {
		sv key_from = sv_is_null(c->handle) ? c->from : c->handle;
		xbuf key;
		xbuf_init(&key, r->a);
		if (!sv_is_null(c->subject))
			xbuf_putsv(&key, c->subject);
		if (!sv_is_null(key_from))
			xbuf_putsv(&key, key_from);
		xbuf_putc(&key, c->mime ? '1' : '0');
		xbuf_putsv(&key, c->arg);
		xbuf path;
		xbuf_init(&path, r->a);
		xbuf_putsv(&path, ctx->vacation_directory);
		xbuf_putc(&path, '/');
		digest_hex(DIGEST_MD5, xbuf_sv(&key), true, &path);
		path.taint = ctx->vacation_directory.taint;   /* the name is a digest, not the data */
		m->once = xbuf_sv(&path);
		long long days = c->days < 0 ? 7 : c->days < 1 ? 1 : c->days;
		m->once_repeat = sv_cstr(arena_printf(r->a, "%lldd", days));
	}
	filter_action *act = add(r, FA_MAIL, SV_NULL, false);
	act->mail = m;
}

/* notify with a mailto URI, as Exim 4.96 sends it (observed): submitted at once with the
 * user's address as envelope sender and From:, To: the URI's recipients, "Auto-Submitted:
 * auto-notified; <sieve_enotify_mailto_owner>", then for every URI parameter a header line
 * made of its undecoded value and an empty value ("S%20x: " for "subject=S%20x"), then Subject:
 * the :message or else the message's own subject, and an empty body. */
static bool do_notify(srun *r, const scmd *c)
{
	sv uri = c->arg;
	if (uri.len <= 7 || strncasecmp(uri.p, "mailto:", 7) != 0) {
		r->error = "invalid notification URI";
		r->error_line = c->line;
		return false;
	}
	sv rest = sv_sub(uri, 7, uri.len - 7);
	const char *q = memchr(rest.p, '?', rest.len);
	sv to = sv_make(rest.p, q ? (size_t)(q - rest.p) : rest.len);
	to.taint = uri.taint;
	if (!to.len)
		return true;
	xbuf h;
	xbuf_init(&h, r->a);
	xbuf_puts(&h, "Auto-Submitted: auto-notified; ");
	xbuf_putsv(&h, r->ctx->enotify_mailto_owner);
	if (q) {
		sv params = sv_make(q + 1, rest.len - (size_t)(q + 1 - rest.p));
		size_t pos = 0;
		while (pos < params.len) {
			const char *amp = memchr(params.p + pos, '&', params.len - pos);
			size_t end = amp ? (size_t)(amp - params.p) : params.len;
			sv kv = sv_sub(params, pos, end - pos);
			const char *eq = memchr(kv.p, '=', kv.len);
			sv v = eq ? sv_make(eq + 1, kv.len - (size_t)(eq + 1 - kv.p)) : SV_NULL;
			if (v.len) {
				xbuf_putc(&h, '\n');
				xbuf_putsv(&h, v);
				xbuf_puts(&h, ": ");
			}
			pos = end + 1;
		}
	}
	sv subject = c->message;
	if (sv_is_null(subject)) {
		subject = sieve_header_value(r->ctx->msg, SV_LIT("Subject"), r->a);
		if (sv_is_null(subject))
			subject = SV_LIT("");
	}
	filter_mail *m = arena_calloc(r->a, 1, sizeof *m);
	m->notify = true;
	m->to = to;
	m->from = !sv_is_null(c->from) ? c->from : user_address(r);
	m->subject = subject;
	m->extra_headers = xbuf_sv(&h);
	m->text = SV_LIT("");
	filter_action *act = add(r, FA_MAIL, SV_NULL, false);
	act->mail = m;
	return true;
}

/* Run a command list; false when running must end (stop, error, or the syntax error's mark). */
static bool run_cmds(srun *r, const scmd *c)
{
	for (; c; c = c->next) {
		switch (c->kind) {
		case SC_ERROR:
			return false;
		case SC_IF: {
			bool result;
			const char *err = NULL;
			if (!sieve_eval_test(c->test, r->ctx, r->a, &result, &err)) {
				r->error = err;
				r->error_line = c->line;
				return false;
			}
			if (!run_cmds(r, result ? c->then_cmds : c->else_cmds))
				return false;
			break;
		}
		case SC_STOP:
			r->stopped = true;
			return false;
		case SC_KEEP:
			add(r, FA_SAVE, SV_LIT("inbox"), true);
			r->keep = false;
			break;
		case SC_DISCARD:
			r->keep = false;
			break;
		case SC_REDIRECT:
			add(r, FA_DELIVER, c->arg, !c->copy);
			if (!c->copy)
				r->keep = false;
			break;
		case SC_FILEINTO:
			add(r, FA_SAVE, c->arg, !c->copy);
			if (!c->copy)
				r->keep = false;
			break;
		case SC_VACATION:
			if (r->vacation_done) {
				r->error = "trying to execute vacation more than once";
				r->error_line = c->line;
				return false;
			}
			r->vacation_done = true;
			do_vacation(r, c);
			break;
		case SC_NOTIFY:
			if (!do_notify(r, c))
				return false;
			break;
		}
	}
	return true;
}

filter_outcome sieve_run(const sieve_program *p, const sieve_ctx *ctx, arena *a, filter_result *res)
{
	memset(res, 0, sizeof *res);
	srun r = { .ctx = ctx, .a = a, .res = res, .keep = true };
	run_cmds(&r, p->cmds);
	if (r.error || (!r.stopped && !sv_is_null(p->error))) {
		res->error = r.error ? sv_cstr(arena_printf(a, "%s in line %d", r.error, r.error_line)) : p->error;
		add(&r, FA_SAVE, SV_LIT("inbox"), true);
		res->outcome = FILTER_ERROR;
		return res->outcome;
	}
	if (r.keep) {
		add(&r, FA_SAVE, SV_LIT("inbox"), true);
		res->outcome = FILTER_NOT_DELIVERED;
	} else {
		res->outcome = FILTER_DELIVERED;
	}
	return res->outcome;
}
