/* The pipe transport's command line and environment (Exim 4.96 "The pipe transport", sections
 * "How the command is run" and "Environment variables"; texts as Exim 4.96 logs them).
 *
 * The command is split into words first and each word is expanded on its own, so an expanded
 * value can never add arguments or interact with the quoting; use_shell instead expands the whole
 * line and hands it to /bin/sh -c. A command that a redirection produced ("|cmd") is used as it
 * is unless force_command is set. */
#include "drivers/transports/pipe_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/main_options.h"
#include "lib/list.h"

/* One backslash escape inside double quotes, as Exim's option strings read them: \n \r \t \b
 * \f \v, \xHH, \ooo; any other character stands for itself. p points at the backslash. */
static size_t unescape(const char *p, size_t avail, char *out)
{
	if (avail < 2) {
		*out = '\\';
		return 1;
	}
	char c = p[1];
	switch (c) {
	case 'n': *out = '\n'; return 2;
	case 'r': *out = '\r'; return 2;
	case 't': *out = '\t'; return 2;
	case 'b': *out = '\b'; return 2;
	case 'f': *out = '\f'; return 2;
	case 'v': *out = '\v'; return 2;
	default: break;
	}
	if (c == 'x' && avail > 2 && isxdigit((unsigned char)p[2])) {
		size_t i = 2;
		int v = 0;
		while (i < 4 && i < avail && isxdigit((unsigned char)p[i])) {
			char h = (char)tolower((unsigned char)p[i]);
			v = v * 16 + (isdigit((unsigned char)h) ? h - '0' : h - 'a' + 10);
			i++;
		}
		*out = (char)v;
		return i;
	}
	if (c >= '0' && c <= '7') {
		size_t i = 1;
		int v = 0;
		while (i < 4 && i < avail && p[i] >= '0' && p[i] <= '7')
			v = v * 8 + (p[i++] - '0');
		*out = (char)v;
		return i;
	}
	*out = c;
	return 2;
}

bool pipe_split(arena *a, sv cmd, int max, sv *words, int *nwords)
{
	int n = 0;
	size_t i = 0;
	for (;;) {
		while (i < cmd.len && isspace((unsigned char)cmd.p[i]))
			i++;
		if (i >= cmd.len)
			break;
		if (n >= max)
			return false;
		xbuf w;
		xbuf_init(&w, a);
		if (cmd.p[i] == '\'') {
			i++;
			while (i < cmd.len && cmd.p[i] != '\'')
				xbuf_putc(&w, cmd.p[i++]);
			if (i < cmd.len)
				i++;
		} else if (cmd.p[i] == '"') {
			i++;
			while (i < cmd.len && cmd.p[i] != '"') {
				if (cmd.p[i] == '\\') {
					char ch;
					i += unescape(cmd.p + i, cmd.len - i, &ch);
					xbuf_putc(&w, ch);
				} else {
					xbuf_putc(&w, cmd.p[i++]);
				}
			}
			if (i < cmd.len)
				i++;
		} else {
			while (i < cmd.len && !isspace((unsigned char)cmd.p[i]))
				xbuf_putc(&w, cmd.p[i++]);
		}
		sv v = xbuf_sv(&w);
		v.taint = cmd.taint;
		words[n++] = v;
	}
	*nwords = n;
	return true;
}

static bool fail(pipe_err *e, addr_result r, const char *text)
{
	e->r = r;
	e->text = text;
	return false;
}

/* The command a redirection gave ("|cmd" -> "cmd"), or SV_NULL for an ordinary address. */
static sv address_pipe(const address_item *ad)
{
	if (ad->kind != ADDR_PIPE)
		return SV_NULL;
	sv v = ad->address;
	if (v.len && v.p[0] == '|')
		v = sv_sub(v, 1, v.len - 1);
	while (v.len && isspace((unsigned char)v.p[0]))
		v = sv_sub(v, 1, v.len - 1);
	return v;
}

/* $address_pipe for the transport's expansions. */
static bool address_pipe_var(void *ctx, sv name, xbuf *out)
{
	const address_item *ad = ctx;
	if (!sv_eq_cstr(name, "address_pipe"))
		return false;
	sv v = address_pipe(ad);
	if (v.p)
		xbuf_putsv(out, v);
	return true;
}

static bool in_path_list(const char *name, sv list)
{
	list_iter it;
	list_iter_init(&it, list, 0);
	xbuf item;
	xbuf_init(&item, NULL);
	bool found = false;
	while (!found && list_next(&it, &item))
		found = strcmp(xbuf_cstr(&item), name) == 0;
	xbuf_free(&item);
	return found;
}

/* The first path directory holding name (Exim checks only that the file exists). */
static const char *search_path(arena *a, const char *name, sv path)
{
	list_iter it;
	list_iter_init(&it, path, ':');
	xbuf dir;
	xbuf_init(&dir, a);
	while (list_next(&it, &dir)) {
		if (dir.len == 0)
			continue;
		const char *full = arena_printf(a, "%s/%s", xbuf_cstr(&dir), name);
		struct stat st;
		if (stat(full, &st) == 0)
			return full;
	}
	return NULL;
}

/* Expand an option that must not fail silently: "failed to expand string" as Exim words it. */
static bool expand_opt(const driver_instance *t, xp_env *env, const char *src, sv *out, pipe_err *e,
	arena *a)
{
	xbuf b, err;
	xbuf_init(&b, a);
	xbuf_init(&err, a);
	if (xp_expand(env, sv_cstr(src), &b, &err) != XP_OK)
		return fail(e, ADDR_DEFER, arena_printf(a, "failed to expand string \"%s\" for %s transport: %s",
			src, t->name, xbuf_cstr(&err)));
	*out = xbuf_sv(&b);
	return true;
}

/* The path option, expanded; a failure leaves it empty (so relative commands are not found). */
static sv expanded_path(const struct pipe_transport_options *o, xp_env *env, arena *a)
{
	if (!o->path)
		return sv_cstr("");
	xbuf b, err;
	xbuf_init(&b, a);
	xbuf_init(&err, a);
	if (xp_expand(env, sv_cstr(o->path), &b, &err) != XP_OK)
		return sv_cstr("");
	return xbuf_sv(&b);
}

bool pipe_build_command(const driver_instance *t, tp_ctx *c, address_item *addrs, pipe_cmd *out,
	pipe_err *e)
{
	const struct pipe_transport_options *o = t->priv;
	arena *a = c->a;
	sv apipe = address_pipe(addrs);
	bool from_address = apipe.p && !o->force_command;
	sv cmd = from_address ? apipe : sv_cstr(o->command);
	if (!cmd.p || sv_trim(cmd).len == 0)
		return fail(e, ADDR_DEFER, arena_printf(a, "no command specified for %s transport", t->name));
	out->raw = sv_dup(a, cmd);

	xp_provider pv = { .get = address_pipe_var, .ctx = addrs };
	xp_env_push_provider(c->env, &pv);
	bool ok = false;
	char **argv = arena_calloc(a, PIPE_MAX_ARGS + 1, sizeof *argv);
	int argc = 0;

	if (from_address && apipe.taint) {
		fail(e, ADDR_DEFER, arena_printf(a, "Tainted '%s' (command for %s transport) not permitted",
			out->raw, t->name));
		goto done;
	}

	if (o->use_shell) {
		/* The whole line, expanded as one string, is the shell's -c argument. */
		xbuf b, err;
		xbuf_init(&b, a);
		xbuf_init(&err, a);
		if (!from_address && xp_expand(c->env, cmd, &b, &err) != XP_OK) {
			fail(e, ADDR_DEFER, arena_printf(a, "Expansion of \"%s\" (command for %s transport) failed: %s",
				out->raw, t->name, xbuf_cstr(&err)));
			goto done;
		}
		argv[argc++] = "/bin/sh";
		argv[argc++] = "-c";
		argv[argc++] = from_address ? arena_strdup(a, out->raw) : arena_strndup(a, b.p ? b.p : "", b.len);
		out->argv0 = "/bin/sh";
		out->argv = argv;
		ok = true;
		goto done;
	}

	sv words[PIPE_MAX_ARGS];
	int nwords;
	if (!pipe_split(a, cmd, PIPE_MAX_ARGS, words, &nwords)) {
		fail(e, ADDR_FAIL, arena_printf(a, "Too many arguments in command \"%s\" in %s transport",
			out->raw, t->name));
		goto done;
	}
	if (nwords == 0) {
		fail(e, ADDR_DEFER, arena_printf(a, "no command specified for %s transport", t->name));
		goto done;
	}
	for (int i = 0; i < nwords; i++) {
		const char *w = sv_dup(a, words[i]);
		bool all_addresses = strcmp(w, "$pipe_addresses") == 0;
		bool address_cmd = o->force_command && apipe.p && strcmp(w, "$address_pipe") == 0;
		if (!from_address && (all_addresses || address_cmd)) {
			/* Each address (or each word of the redirected command) becomes one argument. */
			sv more[PIPE_MAX_ARGS];
			int nmore = 0;
			if (all_addresses) {
				for (address_item *ad = addrs; ad && nmore < PIPE_MAX_ARGS; ad = ad->next)
					more[nmore++] = ad->address;
			} else if (!pipe_split(a, apipe, PIPE_MAX_ARGS, more, &nmore)) {
				nmore = PIPE_MAX_ARGS + 1;
			}
			if (argc + nmore > PIPE_MAX_ARGS) {
				fail(e, ADDR_FAIL, arena_printf(a, "Too many arguments in command \"%s\" in %s transport",
					out->raw, t->name));
				goto done;
			}
			for (int k = 0; k < nmore; k++)
				argv[argc++] = sv_dup(a, more[k]);
			continue;
		}
		if (from_address) {
			argv[argc++] = (char *)w;
			continue;
		}
		xbuf b, err;
		xbuf_init(&b, a);
		xbuf_init(&err, a);
		if (xp_expand(c->env, words[i], &b, &err) != XP_OK) {
			fail(e, ADDR_DEFER, arena_printf(a, "Expansion of \"%s\" from command \"%s\" in %s transport failed: %s",
				w, out->raw, t->name, xbuf_cstr(&err)));
			goto done;
		}
		const char *val = arena_strndup(a, b.p ? b.p : "", b.len);
		if (b.taint) {
			fail(e, ADDR_FAIL, arena_printf(a, "Tainted arg %d for %s transport command: '%s'",
				argc, t->name, val));
			goto done;
		}
		argv[argc++] = (char *)val;
	}
	argv[argc] = NULL;
	out->argv0 = argv[0];

	/* allow_commands / restrict_to_path: with neither, anything runs. */
	bool permitted = !o->allow_commands && !o->restrict_to_path;
	if (o->allow_commands) {
		sv allow;
		if (!expand_opt(t, c->env, o->allow_commands, &allow, e, a))
			goto done;
		permitted = in_path_list(argv[0], allow);
	}
	if (!permitted) {
		if (!o->restrict_to_path) {
			fail(e, ADDR_FAIL, arena_printf(a, "\"%s\" command not permitted by %s transport",
				argv[0], t->name));
			goto done;
		}
		if (strchr(argv[0], '/')) {
			fail(e, ADDR_FAIL, arena_printf(a,
				"\"/\" found in \"%s\" (command for %s transport) - failed for security reasons",
				out->raw, t->name));
			goto done;
		}
	}
	if (!strchr(argv[0], '/')) {
		const char *full = search_path(a, argv[0], expanded_path(o, c->env, a));
		if (!full) {
			fail(e, ADDR_FAIL, arena_printf(a, "\"%s\" command not found for %s transport",
				argv[0], t->name));
			goto done;
		}
		argv[0] = (char *)full;
	}
	out->argv = argv;
	ok = true;
done:
	/* Take the $address_pipe provider off the chain again. */
	if (c->env->providers == &pv)
		c->env->providers = pv.next;
	return ok;
}

static void env_add(arena *a, char **envp, int *n, const char *name, sv value)
{
	envp[(*n)++] = arena_printf(a, "%s=%.*s", name, (int)value.len, value.p ? value.p : "");
}

bool pipe_build_env(const driver_instance *t, tp_ctx *c, address_item *addrs, pipe_cmd *out,
	pipe_err *e)
{
	const struct pipe_transport_options *o = t->priv;
	arena *a = c->a;
	char **envp = arena_calloc(a, PIPE_MAX_ENV + 20, sizeof *envp);
	int n = 0;

	/* A batch of several addresses has no single local part: Exim then shows "NULL" (its
	 * printing of an unset value) and the domain only when every address shares it. */
	bool single = addrs->next == NULL;
	sv domain = addrs->domain;
	for (const address_item *ad = addrs->next; ad; ad = ad->next)
		if (!sv_eq(ad->domain, domain))
			domain = SV_NULL;
	sv lp = single ? addrs->local_part : sv_cstr("NULL");
	env_add(a, envp, &n, "LOCAL_PART", lp);
	env_add(a, envp, &n, "LOGNAME", lp);
	env_add(a, envp, &n, "USER", lp);
	env_add(a, envp, &n, "LOCAL_PART_PREFIX", single ? addrs->prefix : SV_NULL);
	env_add(a, envp, &n, "LOCAL_PART_SUFFIX", single ? addrs->suffix : SV_NULL);
	env_add(a, envp, &n, "DOMAIN", domain.p ? domain : sv_cstr("NULL"));

	sv home = addrs->home;
	const char *home_opt = tp_opt_str(t, "home_directory");
	if (home_opt) {
		xbuf b, err;
		xbuf_init(&b, a);
		xbuf_init(&err, a);
		home = xp_expand(c->env, sv_cstr(home_opt), &b, &err) == XP_OK ? xbuf_sv(&b) : SV_NULL;
	}
	env_add(a, envp, &n, "HOME", home);
	env_add(a, envp, &n, "MESSAGE_ID", sv_cstr(c->m->id));
	env_add(a, envp, &n, "PATH", expanded_path(o, c->env, a));

	xbuf rcpt;
	xbuf_init(&rcpt, a);
	if (single) {
		xbuf_putsv(&rcpt, addrs->prefix);
		xbuf_putsv(&rcpt, addrs->local_part);
		xbuf_putsv(&rcpt, addrs->suffix);
	}
	xbuf_putc(&rcpt, '@');
	xbuf_putsv(&rcpt, domain);
	env_add(a, envp, &n, "RECIPIENT", xbuf_sv(&rcpt));

	xbuf qd, err;
	xbuf_init(&qd, a);
	xbuf_init(&err, a);
	if (xp_expand(c->env, sv_cstr("$qualify_domain"), &qd, &err) != XP_OK)
		xbuf_reset(&qd);
	env_add(a, envp, &n, "QUALIFY_DOMAIN", xbuf_sv(&qd));
	env_add(a, envp, &n, "SENDER", c->m->sender);
	env_add(a, envp, &n, "SHELL", sv_cstr("/bin/sh"));
	if (addrs->hosts && addrs->hosts->name.len)
		env_add(a, envp, &n, "HOST", addrs->hosts->name);
	if (conf_main.timezone)
		env_add(a, envp, &n, "TZ", sv_cstr(conf_main.timezone));

	if (o->environment) {
		sv list;
		if (!expand_opt(t, c->env, o->environment, &list, e, a))
			return false;
		list_iter it;
		list_iter_init(&it, list, 0);
		xbuf item;
		xbuf_init(&item, a);
		int added = 0;
		while (list_next(&it, &item)) {
			if (added++ >= PIPE_MAX_ENV)
				return fail(e, ADDR_DEFER, arena_printf(a,
					"too many environment settings for %s transport", t->name));
			envp[n++] = arena_strndup(a, xbuf_cstr(&item), item.len);
		}
	}
	envp[n] = NULL;
	out->envp = envp;
	return true;
}
