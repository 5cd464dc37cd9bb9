/* queryprogram router behaviour (Exim 4.96 "The queryprogram router"): run `command` (split into
 * words, each expanded on its own) as command_user/command_group in current_directory, read the
 * first line of its output (at most 1023 characters, within `timeout`) and act on its first word:
 * ACCEPT [TRANSPORT=t] [HOSTS=list] [LOOKUP=byname|bydns] [DATA=x], DECLINE, FAIL [text],
 * DEFER [text], FREEZE [text], PASS, REDIRECT <addresses>. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "drivers/routers/queryprogram.h"
#include "drivers/routers/route_ops.h"
#include "lib/list.h"
#include "lib/log.h"
#include "mail/address.h"
#include "lib/clock.h"

#define QP_MAX_LINE 1023
#define QP_MAX_ARGS 256

/* Words of the command: white space separates, "..." and '...' quote. */
static size_t split_words(arena *a, sv cmd, sv *words, size_t max)
{
	size_t n = 0, i = 0;
	while (n < max) {
		while (i < cmd.len && isspace((unsigned char)cmd.p[i]))
			i++;
		if (i >= cmd.len)
			break;
		xbuf w;
		xbuf_init(&w, a);
		char q = cmd.p[i] == '"' || cmd.p[i] == '\'' ? cmd.p[i++] : 0;
		while (i < cmd.len && (q ? cmd.p[i] != q : !isspace((unsigned char)cmd.p[i]))) {
			if (q == '"' && cmd.p[i] == '\\' && i + 1 < cmd.len)
				i++;
			xbuf_putc(&w, cmd.p[i++]);
		}
		if (q)
			i++;
		words[n++] = xbuf_sv(&w);
	}
	return n;
}

/* Run argv and read the first line of its output. 0, or an errno (ETIMEDOUT) with *why set. */
static int run_command(const struct queryprogram_router_options *o, char **argv, xbuf *line)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return e;
	}
	if (pid == 0) {
		setpgid(0, 0);
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 2);
		}
		dup2(pipefd[1], 1);
		if (chdir(o->current_directory ? o->current_directory : "/") != 0)
			_exit(127);
		/* Only root can change identity; otherwise the command runs as we are (as in Exim). */
		if (geteuid() == 0 && o->command_user) {
			if (setgid(o->command_group) != 0 || setuid(o->command_user) != 0)
				_exit(127);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	long long deadline = o->timeout > 0 ? monotonic_ms() + (long long)o->timeout * 1000 : -1;
	int result = 0;
	char buf[512];
	bool eol = false;
	for (;;) {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		int wait = deadline < 0 ? -1 : (int)(deadline - monotonic_ms() > 0 ? deadline - monotonic_ms() : 0);
		int pr = poll(&p, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			result = ETIMEDOUT;
			kill(-pid, SIGKILL);
			break;
		}
		ssize_t k = read(pipefd[0], buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		/* Keep the first line only, silently truncated at the limit; read the rest away. */
		for (ssize_t j = 0; j < k && !eol; j++) {
			if (buf[j] == '\n')
				eol = true;
			else if (line->len < QP_MAX_LINE)
				xbuf_putc(line, buf[j]);
		}
	}
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return result;
}

static sv next_field(sv *rest)
{
	sv r = sv_trim(*rest);
	size_t i = 0;
	while (i < r.len && !isspace((unsigned char)r.p[i]))
		i++;
	*rest = sv_sub(r, i, r.len);
	return sv_sub(r, 0, i);
}

/* ACCEPT's keyed values: KEY=value or KEY="quoted value". */
static bool accept_field(arena *a, sv *rest, sv *key, sv *value)
{
	sv r = sv_trim(*rest);
	if (!r.len)
		return false;
	const char *eq = memchr(r.p, '=', r.len);
	size_t ki = eq ? (size_t)(eq - r.p) : r.len;
	*key = sv_sub(r, 0, ki);
	size_t i = ki + (eq ? 1 : 0);
	xbuf v;
	xbuf_init(&v, a);
	if (i < r.len && r.p[i] == '"') {
		for (i++; i < r.len && r.p[i] != '"'; i++) {
			if (r.p[i] == '\\' && i + 1 < r.len)
				i++;
			xbuf_putc(&v, r.p[i]);
		}
		i++;
	} else {
		while (i < r.len && !isspace((unsigned char)r.p[i]))
			xbuf_putc(&v, r.p[i++]);
	}
	*value = xbuf_sv(&v);
	*rest = sv_sub(r, i, r.len);
	return true;
}

static route_rc accept_result(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env, sv rest)
{
	sv key, value, hosts = SV_NULL;
	route_lookup how = ROUTE_LOOKUP_DEFAULT;
	const char *transport = NULL;
	while (accept_field(c->a, &rest, &key, &value)) {
		if (sv_eqi(key, SV_LIT("transport")))
			transport = sv_dup(c->a, value);
		else if (sv_eqi(key, SV_LIT("hosts")))
			hosts = value;
		else if (sv_eqi(key, SV_LIT("lookup")))
			how = sv_eqi(value, SV_LIT("byname")) ? ROUTE_LOOKUP_BYNAME : ROUTE_LOOKUP_BYDNS;
		else if (sv_eqi(key, SV_LIT("data")))
			a->address_data = value;
		else {
			a->message = sv_cstr(arena_printf(c->a, "bad command yield: " SV_FMT " in %s router", SV_ARG(key), r->name));
			return ROUTE_DEFER;
		}
	}
	route_rc rc = route_generic_props(c, r, a, env);
	if (rc != ROUTE_OK)
		return rc;
	if (transport) {
		a->transport = NULL;
		for (const driver_instance *d = conf_driver_instances("transports"); d; d = d->next)
			if (strcmp(d->name, transport) == 0)
				a->transport = d->name;
		if (!a->transport) {
			a->message = sv_cstr(arena_printf(c->a, "unknown transport name %s yielded by command", transport));
			route_log(c, LOG_PANIC, "%s router: " SV_FMT, r->name, SV_ARG(a->message));
			return ROUTE_DEFER;
		}
	} else if ((rc = route_set_transport(c, r, a, env)) != ROUTE_OK) {
		return rc;
	}
	if (!hosts.len)
		return ROUTE_OK;
	route_host *list = NULL, **tail = &list;
	list_iter it;
	list_iter_init(&it, hosts, 0);
	xbuf item;
	xbuf_init(&item, c->a);
	while (list_next(&it, &item)) {
		route_host *h = route_host_parse(c->a, sv_copy(c->a, xbuf_sv(&item)));
		*tail = h;
		tail = &h->next;
	}
	sv failed = SV_NULL;
	rc = route_hosts_find(c->a, &list, how, route_ignore_list(c, r, env), ROUTE_MISSING_FAIL, &failed);
	if (rc != ROUTE_OK) {
		a->message = sv_cstr(arena_printf(c->a, "lookup of host \"" SV_FMT "\" failed in %s router",
			SV_ARG(failed), r->name));
		return ROUTE_DEFER;
	}
	a->hosts = list;
	if (route_hosts_local_check(&a->hosts)) {
		rc = route_self_action(c, r, a, a->domain, "remote host address is the local host");
		if (rc != ROUTE_OK)
			return rc;
	}
	return ROUTE_OK;
}

static route_rc queryprogram_route(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env)
{
	const struct queryprogram_router_options *o = r->priv;
	if (!o->command) {
		a->message = sv_cstr(arena_printf(c->a, "%s router: command is not set", r->name));
		return ROUTE_DEFER;
	}
	sv words[QP_MAX_ARGS];
	size_t n = split_words(c->a, sv_cstr(o->command), words, QP_MAX_ARGS - 1);
	char **argv = arena_calloc(c->a, n + 1, sizeof *argv);
	for (size_t i = 0; i < n; i++) {
		xbuf w, err;
		xbuf_init(&w, c->a);
		xbuf_init(&err, c->a);
		if (xp_expand(env, words[i], &w, &err) != XP_OK) {
			a->message = sv_cstr(arena_printf(c->a, "Expansion of \"" SV_FMT "\" from command \"%s\" in %s router failed: %s",
				SV_ARG(words[i]), o->command, r->name, xbuf_cstr(&err)));
			return ROUTE_DEFER;
		}
		/* Data from the message must not choose what runs. */
		if (w.taint) {
			a->message = sv_cstr(arena_printf(c->a, "Tainted arg %zu for queryprogram router command: '%s'", i,
				xbuf_cstr(&w)));
			return ROUTE_DEFER;
		}
		argv[i] = sv_dup(c->a, xbuf_sv(&w));
	}
	if (n == 0 || argv[0][0] != '/') {
		a->message = sv_cstr(arena_printf(c->a, "%s router: command \"%s\" is not an absolute path", r->name,
			n ? argv[0] : ""));
		return ROUTE_DEFER;
	}
	xbuf line;
	xbuf_init(&line, c->a);
	int e = run_command(o, argv, &line);
	if (e == ETIMEDOUT) {
		a->message = sv_cstr(arena_printf(c->a, "%s router: command timed out", r->name));
		return ROUTE_DEFER;
	}
	if (e) {
		a->message = sv_cstr(arena_printf(c->a, "%s router: failed to run command: %s", r->name, strerror(e)));
		return ROUTE_DEFER;
	}
	if (!line.len) {
		a->message = sv_cstr(arena_printf(c->a, "%s router: command failed to return data", r->name));
		return ROUTE_DEFER;
	}
	sv rest = sv_tainted(xbuf_sv(&line));
	sv word = next_field(&rest);
	rest = sv_trim(rest);
	if (sv_eqi(word, SV_LIT("accept")))
		return accept_result(r, a, c, env, rest);
	if (sv_eqi(word, SV_LIT("decline")))
		return ROUTE_DECLINE;
	if (sv_eqi(word, SV_LIT("pass")))
		return ROUTE_PASS;
	if (sv_eqi(word, SV_LIT("fail"))) {
		a->message = rest;
		a->user_message = a->message;
		return ROUTE_FAIL;
	}
	if (sv_eqi(word, SV_LIT("defer")) || sv_eqi(word, SV_LIT("freeze"))) {
		a->message = rest;
		return ROUTE_DEFER;
	}
	if (sv_eqi(word, SV_LIT("redirect"))) {
		route_rc rc = route_generic_props(c, r, a, env);
		if (rc != ROUTE_OK)
			return rc;
		/* The rest is an address list; children start at the first router (or redirect_router). */
		const char *rr = route_opt_str(r, "redirect_router");
		const driver_instance *start = NULL;
		if (rr)
			for (start = conf_driver_instances("routers"); start && strcmp(start->name, rr) != 0;)
				start = start->next;
		size_t pos = 0;
		sv item;
		address_item *kids[64];
		size_t nk = 0;
		while (nk < 64 && addr_next_item(rest, &pos, &item)) {
			item = sv_trim(item);
			if (!item.len)
				continue;
			if (!memchr(item.p, '@', item.len)) {
				const char *q = conf_main_string("qualify_recipient");
				if (!q || !*q)
					q = conf_main_string("qualify_domain");
				item = sv_cstr(arena_printf(c->a, SV_FMT "@%s", SV_ARG(item), q ? q : ""));
			}
			kids[nk] = route_child_address(c, a, item, ADDR_MAIL);
			kids[nk++]->start_router = start;
		}
		if (!nk)
			return ROUTE_DECLINE;
		for (size_t i = nk; i > 0; i--)
			route_queue(c, kids[i - 1]);
		return ROUTE_REROUTED;
	}
	a->message = sv_cstr(arena_printf(c->a, "bad command yield: " SV_FMT, SV_ARG(xbuf_sv(&line))));
	route_log(c, LOG_PANIC, "%s router: " SV_FMT, r->name, SV_ARG(a->message));
	return ROUTE_DEFER;
}

const router_ops queryprogram_route_ops = { .route = queryprogram_route };
