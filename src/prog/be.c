/* -be / -bem: expansion testing, as Exim does it.
 *
 * Arguments are expanded one by one, each result on its own line ("Failed: <message>" on error).
 * With no arguments, lines are read from stdin: trailing white space is dropped, a line ending
 * in a backslash continues on the next (whose leading white space is dropped), macros are
 * substituted, and each result is
 * printed after a "> " prompt; at end of input a last prompt and a newline are written.
 * -bem FILE loads a message so $h_ variables and $message_body have values. Exit status is 0.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "conf/conf_internal.h"
#include "core/spool.h"
#include "core/acl.h"
#include "core/priv.h"
#include "expand/expand.h"
#include "expand/message.h"
#include "lib/debug.h"
#include "lib/list.h"
#include "lib/log.h"
#include "prog/cmdline.h"
#include "prog/sender_arg.h"
#include "search/search.h"

#define BE_MAX_LINE (8u << 20)

/* Results are flushed line by line only when someone may be watching them arrive (a terminal)
 * or when other output to stderr (debug traces) must stay in order with them; otherwise stdio
 * buffers them, as it does for Exim, which saves a write per line on large inputs. */
static bool flush_each;

static void line_done(void)
{
	if (flush_each)
		fflush(stdout);
}

/* A line starting with an upper-case letter may define a macro, as Exim 4.96's -be does:
 * "NAME = value" (or "==" to redefine) defines it and prints "Defined macro '<name>'" (Exim names
 * the most recently added macro, which a redefinition does not change); a line that is not of
 * that form is expanded if it starts with a macro's name, else it is a malformed definition.
 * Errors go to stderr and print no result. Returns true if the line was handled here. */
static void config_error(const char *msg)
{
	/* Exim writes these through its log, which -be shows on stderr with a timestamp. */
	struct timeval tv;
	gettimeofday(&tv, NULL);
	xbuf stamp;
	xbuf_init(&stamp, NULL);
	log_format_stamp(&tv, &stamp);
	fflush(stdout); /* keep the order of stdout and stderr */
	fprintf(stderr, "%s %s\n", xbuf_cstr(&stamp), msg);
	xbuf_free(&stamp);
}

static bool macro_definition(sv line)
{
	size_t n = 0;
	while (n < line.len && (isalnum((unsigned char)line.p[n]) || line.p[n] == '_'))
		n++;
	sv rest = sv_sub(line, n, line.len);
	while (rest.len && isspace((unsigned char)rest.p[0]))
		rest = sv_sub(rest, 1, rest.len);
	xbuf err;
	xbuf_init(&err, NULL);
	if (!rest.len || rest.p[0] != '=') {
		/* Not a definition: expanded if it starts with a macro's name, else malformed. */
		for (const conf_macro *m = conf_macros(); m; m = m->next)
			if (m->namelen <= line.len && memcmp(line.p, m->name, m->namelen) == 0)
				return false;
		conf_late_error("malformed macro definition", &err);
		config_error(xbuf_cstr(&err));
		xbuf_free(&err);
		return true;
	}
	bool redefine = rest.len > 1 && rest.p[1] == '=';
	const char *reported;
	if (conf_define_macro_late(sv_sub(line, 0, n), sv_trim(sv_sub(rest, redefine ? 2 : 1, rest.len)),
		redefine, &reported, &err))
		printf("Defined macro '%s'\n", reported);
	else
		config_error(xbuf_cstr(&err));
	xbuf_free(&err);
	return true;
}

static void expand_one(xp_env *env, sv text)
{
	if (text.len && isupper((unsigned char)text.p[0]) && macro_definition(text)) {
		line_done();
		return;
	}
	arena_mark m = arena_getmark(env->a);
	xbuf src, out, err;
	xbuf_init(&src, env->a);
	xbuf_init(&out, env->a);
	xbuf_init(&err, env->a);
	conf_macro_substitute(text, &src);
	int rc = xp_expand(env, xbuf_sv(&src), &out, &err);
	if (rc == XP_OK) {
		/* Printed as a C string, as Exim does: a NUL in the result ends the line. */
		printf("%s\n", xbuf_cstr(&out));
	} else {
		printf("Failed: %s\n", xbuf_cstr(&err));
	}
	line_done();
	arena_reset(env->a, m); /* lasting state lives in env->state */
}

/* Read one logical line (continuations joined); false at end of input with nothing read. */
static bool read_logical_line(FILE *f, xbuf *line)
{
	xbuf_reset(line);
	char buf[4096];
	bool any = false;
	bool continuing = false;
	while (fgets(buf, sizeof buf, f)) {
		any = true;
		size_t n = strlen(buf);
		bool complete = n && buf[n - 1] == '\n';
		if (complete)
			buf[--n] = 0;
		const char *p = buf;
		if (continuing) {
			while (*p == ' ' || *p == '\t')
				p++;
			continuing = false;
		}
		xbuf_puts(line, p);
		if (line->len > BE_MAX_LINE)
			return true;
		if (!complete && !feof(f))
			continue; /* a longer line than buf: keep reading it */
		/* Trailing white space goes (Exim strips it), then a final backslash continues. */
		while (line->len && isspace((unsigned char)line->p[line->len - 1]))
			xbuf_truncate(line, line->len - 1);
		if (line->len && line->p[line->len - 1] == '\\') {
			xbuf_truncate(line, line->len - 1);
			continuing = true;
			continue;
		}
		return true;
	}
	return any;
}

/* Exim empties the environment at start-up except for the names in keep_environment, then
 * adds add_environment's NAME=value items; ${env} and ${run} see the result. */
static void keep_environment(void)
{
	const char *keep = conf_main_string("keep_environment");
	const char *add = conf_main_string("add_environment");
	xbuf saved;
	xbuf_init(&saved, pool_perm);
	list_iter it;
	xbuf item;
	xbuf_init(&item, pool_perm);
	if (keep) {
		list_iter_init(&it, sv_cstr(keep), 0);
		while (list_next(&it, &item)) {
			const char *v = getenv(xbuf_cstr(&item));
			if (v)
				xbuf_printf(&saved, "%s=%s%c", xbuf_cstr(&item), v, 0);
		}
	}
	clearenv();
	for (size_t i = 0; i < saved.len;) {
		char *kv = saved.p + i;
		i += strlen(kv) + 1;
		char *eq = strchr(kv, '=');
		*eq = 0;
		setenv(kv, eq + 1, 1);
	}
	if (add) {
		list_iter_init(&it, sv_cstr(add), 0);
		while (list_next(&it, &item)) {
			char *kv = arena_strdup(pool_perm, xbuf_cstr(&item));
			char *eq = strchr(kv, '=');
			if (eq) {
				*eq = 0;
				setenv(kv, eq + 1, 1);
			}
		}
	}
}

/* -bem gives the message an id as reception would (core/spool.h). */
static char message_id[24];
static time_t received_at;

static void make_message_id(void)
{
	struct timeval tv;
	spool_new_message_id_time(message_id, &tv);
	received_at = tv.tv_sec;
}

/* Variables a received message has in -bem. */
static bool bem_vars(void *ctx, sv name, xbuf *out)
{
	(void)ctx;
	if (sv_eq_cstr(name, "message_id") || sv_eq_cstr(name, "message_exim_id"))
		xbuf_puts(out, message_id);
	else if (sv_eq_cstr(name, "received_count"))
		xbuf_puts(out, "1");
	else if (sv_eq_cstr(name, "received_time"))
		xbuf_printf(out, "%lld", (long long)received_at);
	else
		return false;
	return true;
}

static bool load_message(const char *file, arena *a, xp_message *msg, xp_env *env)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		fprintf(stderr, "exim: failed to open %s: %s\n", file, strerror(errno));
		return false;
	}
	xbuf data;
	xbuf_init(&data, a);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0 && data.len < ((size_t)64 << 20))
		xbuf_put(&data, buf, n);
	fclose(f);
	xp_message_parse(a, xbuf_sv(&data), msg);
	/* Exim adds the headers a locally submitted message lacks. */
	xbuf qdb, qerr;
	xbuf_init(&qdb, a);
	xbuf_init(&qerr, a);
	xp_expand(env, SV_LIT("$qualify_domain"), &qdb, &qerr);
	const char *qd = qdb.len ? xbuf_cstr(&qdb) : NULL;
	make_message_id();
	if (!xp_message_find(msg, "Message-Id")) {
		char text[160];
		snprintf(text, sizeof text, " <E%s@%s>\n", message_id, qd ? qd : "localhost");
		xp_message_add_header(a, msg, "Message-Id", text);
	}
	if (!xp_message_find(msg, "Date")) {
		char text[80];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(text, sizeof text, " %a, %d %b %Y %H:%M:%S %z\n", &tm);
		xp_message_add_header(a, msg, "Date", text);
	}
	return true;
}

/* -f: the sender (prog/sender_arg.h). Observed from Exim 4.96's -be: $sender_address and its
 * parts are the -f address, and the caller is then not the authenticated sender. */
static const char *given_sender;

static bool sender_vars(void *ctx, sv name, xbuf *out)
{
	(void)ctx;
	const char *at = strrchr(given_sender, '@');
	if (sv_eq_cstr(name, "sender_address"))
		xbuf_puts(out, given_sender);
	else if (sv_eq_cstr(name, "sender_address_domain"))
		xbuf_puts(out, at ? at + 1 : "");
	else if (sv_eq_cstr(name, "sender_address_local_part"))
		xbuf_put(out, given_sender, at ? (size_t)(at - given_sender) : strlen(given_sender));
	else if (!sv_eq_cstr(name, "authenticated_sender") && !sv_eq_cstr(name, "authenticated_id"))
		return false;
	return true;
}

int be_main(const cmdline *cl)
{
	xbuf err;
	xbuf_init(&err, pool_perm);
	/* main() has applied -d and loaded the configuration (conf_load_for). */
	xp_set_process_info(cl->argv0, conf_file_name());
	flush_each = isatty(STDOUT_FILENO) || debug_selector != 0;
	keep_environment();
	/* Exim 4.96 shows no macros (builtin, -D or the configuration's) to a caller who is not an
	 * administrator; macros defined by -be lines still work. */
	if (!priv_caller_is_admin())
		conf_macros_forget();

	xp_env env;
	xp_env_init(&env, pool_scratch);
	env.state = pool_perm;
	(void)arena_alloc(pool_scratch, 16); /* marks inside a block: no unmapping per line */
	if (cl->sender) {
		xbuf qd, qerr;
		xbuf_init(&qd, pool_perm);
		xbuf_init(&qerr, pool_perm);
		xp_expand(&env, SV_LIT("$qualify_domain"), &qd, &qerr);
		given_sender = sender_arg_parse(pool_perm, cl->sender, xbuf_cstr(&qd));
		if (!given_sender)
			return 1;
		static xp_provider sender_provider = { .get = sender_vars };
		xp_env_push_provider(&env, &sender_provider);
	}
	/* main() has moved to the spool directory (prog/startup_cwd.c), as Exim does. */
	xp_message msg;
	if (cl->mode == MODE_BEM) {
		if (!load_message(cl->bem_file, pool_msg, &msg, &env))
			return 1;
		env.msg = &msg;
		static xp_provider bem_provider = { .get = bem_vars };
		xp_env_push_provider(&env, &bem_provider);
	}
	/* ${acl} runs ACLs from the configuration, as Exim's -be does (where "unknown"). */
	static acl_ctx acl;
	acl_ctx_init(&acl, pool_perm, ACL_WHERE_UNKNOWN, &env);
	acl.smtp_session = false;
	acl.host_checking = true;
	static xp_hooks hooks;
	hooks.acl = acl_expand_hook;
	hooks.acl_cond = acl_cond_hook;
	hooks.ctx = &acl;
	env.hooks = &hooks;

	if (cl->nargs) {
		for (size_t i = 0; i < cl->nargs; i++)
			expand_one(&env, sv_cstr(cl->args[i]));
	} else {
		xbuf line;
		xbuf_init(&line, NULL);
		for (;;) {
			fputs("> ", stdout);
			if (!read_logical_line(stdin, &line)) {
				putchar('\n');
				break;
			}
			expand_one(&env, xbuf_sv(&line));
		}
		xbuf_free(&line);
	}
	search_tidyup();
	xp_env_release(&env);
	return 0;
}
