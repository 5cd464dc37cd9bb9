/* -bf FILE (user filter) and -bF FILE (system filter): read a message on stdin and print what
 * the filter would do, in Exim 4.96's words, without delivering anything.
 *
 * The message is read as a local submission reads it: an optional leading "From " line gives
 * the sender, a line holding only "." ends the message unless -oi/-i, a Return-path: header
 * gives the return path (and is removed). Message-Id: and Date: are added when missing.
 * -f sets the sender, -bfl/-bfd the local part and domain the filter runs for, -bfp/-bfs the
 * prefix and suffix. Exit status 0, or 1 on a filter error.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf/main_options.h"
#include "core/filter.h"
#include "core/sieve.h"
#include "core/spool.h"
#include "expand/message.h"
#include "lib/arena.h"
#include "mail/address.h"
#include "prog/bf.h"
#include "prog/cmdline.h"

enum { BF_MAX_FILTER = 1 << 20, BF_MAX_MESSAGE = 64 << 20 };

typedef struct bf_vars {
	xp_provider p;
	sv local_part, domain, home, sender, return_path, prefix, suffix;
	bool system;        /* $recipients is visible in a system filter only */
	char message_id[24];
	long long message_size;
} bf_vars;

static bool bf_get(void *ctx, sv name, xbuf *out)
{
	bf_vars *v = ctx;
	if (sv_eq_cstr(name, "local_part") || sv_eq_cstr(name, "original_local_part"))
		xbuf_putsv(out, v->local_part);
	else if (sv_eq_cstr(name, "domain") || sv_eq_cstr(name, "original_domain"))
		xbuf_putsv(out, v->domain);
	else if (sv_eq_cstr(name, "home"))
		xbuf_putsv(out, v->home);
	else if (sv_eq_cstr(name, "sender_address"))
		xbuf_putsv(out, v->sender);
	else if (sv_eq_cstr(name, "return_path"))
		xbuf_putsv(out, v->return_path);
	else if (sv_eq_cstr(name, "local_part_prefix"))
		xbuf_putsv(out, v->prefix);
	else if (sv_eq_cstr(name, "local_part_suffix"))
		xbuf_putsv(out, v->suffix);
	else if (sv_eq_cstr(name, "message_id") || sv_eq_cstr(name, "message_exim_id"))
		xbuf_puts(out, v->message_id);
	else if (sv_eq_cstr(name, "message_size"))
		xbuf_printf(out, "%lld", v->message_size);
	else if (sv_eq_cstr(name, "received_count") || sv_eq_cstr(name, "recipients_count"))
		xbuf_puts(out, "1");
	else if (sv_eq_cstr(name, "received_protocol"))
		xbuf_puts(out, "local");
	else if (sv_eq_cstr(name, "recipients")) {
		if (v->system)
			xbuf_printf(out, SV_FMT SV_FMT SV_FMT "@" SV_FMT, SV_ARG(v->prefix), SV_ARG(v->local_part),
				SV_ARG(v->suffix), SV_ARG(v->domain));
	}
	else
		return false;
	return true;
}

static bool read_file(const char *name, arena *a, xbuf *out)
{
	FILE *f = fopen(name, "r");
	if (!f)
		return false;
	xbuf_init(out, a);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0 && out->len < BF_MAX_FILTER)
		xbuf_put(out, buf, n);
	fclose(f);
	return true;
}

/* stdin up to EOF or (dot_ends) a line holding only "."; CRLF line ends become LF in the
 * header section, the body is kept as it is, carriage returns and zero bytes included (as
 * Exim's -bf reads it: observed). Bounded by BF_MAX_MESSAGE. */
static void read_message(arena *a, bool dot_ends, xbuf *out)
{
	xbuf in;
	xbuf_init(&in, a);
	char buf[65536];
	size_t n;
	while (in.len < BF_MAX_MESSAGE && (n = fread(buf, 1, sizeof buf, stdin)) > 0)
		xbuf_put(&in, buf, n);
	xbuf_init(out, a);
	size_t i = 0;
	bool in_body = false;
	while (i < in.len) {
		const char *nl = memchr(in.p + i, '\n', in.len - i);
		size_t end = nl ? (size_t)(nl - in.p) : in.len;  /* the newline's offset, or the end */
		size_t len = end - i;
		if (nl && len > 0 && in.p[end - 1] == '\r')
			len--;
		if (dot_ends && len == 1 && in.p[i] == '.')
			break;
		if (in_body)
			xbuf_put(out, in.p + i, nl ? end + 1 - i : in.len - i);
		else {
			xbuf_put(out, in.p + i, len);
			if (nl)
				xbuf_putc(out, '\n');
			in_body = len == 0;
		}
		i = nl ? end + 1 : in.len;
	}
}

/* A leading line matching uucp_from_pattern (a "From " line) is removed; the sender is
 * uucp_from_sender expanded with the match's $1... Like Exim, the match leaves $0, $1... set for
 * the filter. */
static bool uucp_from_line(xp_env *env, sv *data, arena *a, sv *sender)
{
	const char *pattern = conf_main.uucp_from_pattern;
	if (!pattern || data->len < 5 || memcmp(data->p, "From ", 5) != 0)
		return false;
	size_t e = 0;
	while (e < data->len && data->p[e] != '\n')
		e++;
	sv line = sv_make(data->p, e);
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
	if (!code)
		return false;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
	int rc = pcre2_match(code, (PCRE2_SPTR)line.p, line.len, 0, 0, md, NULL);
	if (rc > 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		int n = rc > XP_MAX_NUMERIC ? XP_MAX_NUMERIC : rc;
		for (int i = 0; i < n; i++)
			env->numeric[i] = ov[2 * i] == PCRE2_UNSET ? SV_NULL
				: sv_copy(a, sv_sub(line, ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
		env->nnumeric = n;
	}
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	if (rc <= 0)
		return false;
	xbuf o, err;
	xbuf_init(&o, a);
	xbuf_init(&err, a);
	const char *expr = conf_main.uucp_from_sender ? conf_main.uucp_from_sender : "$1";
	if (xp_expand(env, sv_cstr(expr), &o, &err) == XP_OK)
		*sender = xbuf_sv(&o);
	*data = sv_sub(*data, e < data->len ? e + 1 : e, data->len);
	return true;
}

static sv expand_var(xp_env *env, const char *src, arena *a)
{
	xbuf o, e;
	xbuf_init(&o, a);
	xbuf_init(&e, a);
	xp_expand(env, sv_cstr(src), &o, &e);
	return xbuf_sv(&o);
}

int bf_main(const cmdline *cl)
{
	arena *a = pool_msg;
	xbuf ftext;
	if (!read_file(cl->filter_file, a, &ftext)) {
		fprintf(stderr, "exim: failed to open %s: %s\n", cl->filter_file, strerror(errno));
		return 1;
	}

	xp_env env;
	xp_env_init(&env, a);
	env.state = a;
	static bf_vars vars;
	vars.p.get = bf_get;
	vars.p.ctx = &vars;
	vars.system = cl->system_filter;

	sv qualify_domain = expand_var(&env, "$qualify_domain", a);
	sv qualify_recipient = expand_var(&env, "$qualify_recipient", a);
	struct passwd *pw = getpwuid(getuid());
	const char *login = pw ? pw->pw_name : "unknown";
	vars.home = sv_cstr(pw ? pw->pw_dir : "");
	vars.local_part = sv_cstr(cl->bf_local_part ? cl->bf_local_part : login);
	vars.domain = cl->bf_domain ? sv_cstr(cl->bf_domain) : qualify_recipient;
	vars.prefix = sv_cstr(cl->bf_prefix ? cl->bf_prefix : "");
	vars.suffix = sv_cstr(cl->bf_suffix ? cl->bf_suffix : "");

	xbuf raw;
	read_message(a, cl->dot_ends, &raw);
	/* A final header line without a newline gets one, as Exim reads it (empty input too); a
	 * body is kept as it is. */
	bool has_body = raw.len && (raw.p[0] == '\n' || memmem(raw.p, raw.len, "\n\n", 2));
	if (!has_body && (raw.len == 0 || raw.p[raw.len - 1] != '\n'))
		xbuf_putc(&raw, '\n');
	sv data = xbuf_sv(&raw);
	vars.message_size = (long long)data.len;

	/* The sender: -f, else a "From " line, else the caller. */
	xbuf sender;
	xbuf_init(&sender, a);
	sv from_sender = SV_NULL;
	bool from_line = uucp_from_line(&env, &data, a, &from_sender);
	if (cl->sender) {
		if (strcmp(cl->sender, "<>") != 0)
			xbuf_puts(&sender, cl->sender);
	} else if (from_line) {
		xbuf_putsv(&sender, from_sender);
		printf("Sender taken from \"From \" line\n");
	} else {
		xbuf_printf(&sender, "%s@" SV_FMT, login, SV_ARG(qualify_domain));
	}
	vars.sender = xbuf_sv(&sender);

	xp_message msg;
	xp_message_parse(a, data, &msg);
	if (msg.nheaders == 0)
		printf("Warning: no message headers read\n");
	msg.size = vars.message_size;
	/* $message_linecount here counts the lines read before the body: the header lines (and a
	 * "From " line) and the blank line (observed). */
	{
		sv all = xbuf_sv(&raw);
		long long lines = 0;
		for (size_t i = 0, start = 0; i < all.len; i++) {
			if (all.p[i] != '\n')
				continue;
			lines++;
			bool blank = i == start;
			start = i + 1;
			if (blank)
				break;
		}
		msg.message_linecount = lines;
	}
	/* A Return-path: header gives the return path and goes. */
	vars.return_path = vars.sender;
	const xp_header *rp = xp_message_find(&msg, "Return-path");
	if (rp) {
		xbuf out;
		xbuf_init(&out, a);
		addr_parsed info;
		const char *why;
		if (addr_extract(sv_trim(rp->text), NULL, &out, &info, &why))
			vars.return_path = xbuf_sv(&out);
		size_t k = 0;
		for (size_t i = 0; i < msg.nheaders; i++)
			if (!sv_eqi(msg.headers[i].name, SV_LIT("Return-path")))
				msg.headers[k++] = msg.headers[i];
		msg.nheaders = k;
		printf("Return-path taken from \"Return-path:\" header line\n");
		printf("Return-path = %.*s\n", SV_ARG(vars.return_path));
	} else {
		printf("Return-path copied from sender\n");
	}
	spool_new_message_id(vars.message_id);
	if (!xp_message_find(&msg, "Message-Id")) {
		char text[200];
		snprintf(text, sizeof text, " <E%s@%.*s>\n", vars.message_id, SV_ARG(qualify_domain));
		xp_message_add_header(a, &msg, "Message-Id", text);
	}
	if (!xp_message_find(&msg, "From") && vars.sender.len) {
		/* The caller's name when the sender is the caller; the bare sender when given. */
		char text[600];
		const char *gecos = pw && pw->pw_gecos ? pw->pw_gecos : "";
		size_t glen = strcspn(gecos, ",");
		if (cl->sender || from_line || glen == 0)
			snprintf(text, sizeof text, " %.*s\n", SV_ARG(vars.sender));
		else
			snprintf(text, sizeof text, " %.*s <%.*s>\n", (int)glen, gecos, SV_ARG(vars.sender));
		xp_message_add_header(a, &msg, "From", text);
	}
	if (!xp_message_find(&msg, "Date")) {
		char text[80];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(text, sizeof text, " %a, %d %b %Y %H:%M:%S %z\n", &tm);
		xp_message_add_header(a, &msg, "Date", text);
	}
	env.msg = &msg;
	xp_env_push_provider(&env, &vars.p);

	if (vars.sender.len)
		printf("Sender      = %.*s\n", SV_ARG(vars.sender));
	else
		printf("Sender      = <>\n");
	printf("Recipient   = %.*s%.*s%.*s@%.*s\n", SV_ARG(vars.prefix), SV_ARG(vars.local_part),
		SV_ARG(vars.suffix), SV_ARG(vars.domain));
	if (vars.prefix.len)
		printf("Prefix    = %.*s\n", SV_ARG(vars.prefix));
	if (vars.suffix.len)
		printf("Suffix    = %.*s\n", SV_ARG(vars.suffix));

	sv text = xbuf_sv(&ftext);
	if (filter_is_sieve_filter(text)) {
		printf("Testing Sieve filter file \"%s\"\n\n", cl->filter_file);
		sieve_ctx sctx = {
			.msg = &msg, .return_path = vars.return_path, .local_part = vars.local_part,
			.domain = vars.domain, .prefix = vars.prefix, .suffix = vars.suffix,
			.message_size = vars.message_size,
		};
		return bf_test_sieve(text, &sctx, a);
	}
	if (!filter_is_exim_filter(text)) {
		printf("Testing forward file file \"%s\"\n\n", cl->filter_file);
		return bf_test_forward(text, qualify_recipient, vars.domain, a);
	}
	printf("Testing Exim filter file \"%s\"\n\n", cl->filter_file);
	fflush(stdout);

	xbuf err;
	xbuf_init(&err, a);
	filter *f = filter_parse(a, text, cl->system_filter, &err);
	if (!f) {
		printf("Filter error: %s\n", xbuf_cstr(&err));
		return 1;
	}
	filter_ctx ctx = {
		.env = &env, .msg = &msg, .local_part = vars.local_part, .domain = vars.domain,
		.prefix = vars.prefix, .suffix = vars.suffix,
		.qualify_domain = qualify_recipient, .error_message = vars.sender.len == 0,
		.null_return_path = vars.return_path.len == 0,
		.first_delivery = true,
	};
	filter_result res;
	filter_run(f, &ctx, a, &res);
	xbuf line;
	xbuf_init(&line, a);
	for (const filter_action *act = res.actions; act; act = act->next) {
		xbuf_reset(&line);
		filter_action_describe(act, &line);
		printf("%s\n", xbuf_cstr(&line));
	}
	switch (res.outcome) {
	case FILTER_ERROR:
		printf("Filter error: %.*s\n", SV_ARG(res.error));
		return 1;
	case FILTER_FAIL:
		printf("Filtering ended by \"fail\".\n");
		break;
	case FILTER_FREEZE:
		printf("Filtering ended by \"freeze\".\n");
		break;
	case FILTER_DEFER:
		printf("Filtering ended by \"defer\".\n");
		break;
	case FILTER_DELIVERED:
		printf("Filtering set up at least one significant delivery or other action.\n"
			"No other deliveries will occur.\n");
		break;
	case FILTER_NOT_DELIVERED:
		printf("Filtering did not set up a significant delivery.\nNormal delivery will occur.\n");
		break;
	}
	xp_env_release(&env);
	return 0;
}
