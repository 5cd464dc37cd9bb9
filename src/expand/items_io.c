/* Items that reach outside the process: ${readfile}, ${readsocket} (unix and inet, with a
 * timeout), ${run} (no shell: the command is split into arguments as Exim does). All reads are
 * bounded by the environment's output limit; all waits by a timeout. Results are tainted. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expand/readsock_tls.h"
#include "expand/xp_internal.h"
#include "lib/list.h"
#include "lib/clock.h"

#define RUN_TIMEOUT_SECONDS 60

/* Read fd to EOF into out, within deadline (ms since epoch of now_ms) and limit bytes.
 * Returns 0, or an errno value (ETIMEDOUT on timeout, EFBIG on limit). */
static int read_all(int fd, xbuf *out, long long deadline, size_t limit)
{
	char buf[8192];
	for (;;) {
		long long left = deadline - monotonic_ms();
		if (left <= 0)
			return ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)(left > 1000000 ? 1000000 : left));
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (pr == 0)
			return ETIMEDOUT;
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > limit)
			return EFBIG;
		xbuf_put(out, buf, (size_t)n);
	}
}

/* Replace newlines by eol (readfile's and readsocket's optional argument). */
static void put_eol(xbuf *out, sv data, const sv *eol)
{
	if (!eol) {
		xbuf_putsv(out, data);
		return;
	}
	for (size_t i = 0; i < data.len; i++) {
		if (data.p[i] == '\n')
			xbuf_putsv(out, *eol);
		else
			xbuf_putc(out, data.p[i]);
	}
}

static int item_readfile(const xp_node *n, xp_env *env, xbuf *out, xbuf *err, const sv *a)
{
	if (env->forbid & RDO_READFILE) {
		xp_err(err, "file insertions are not permitted");
		return XP_ERROR;
	}
	if (a[0].taint) {
		/* Exim 4.96 refuses to open a tainted name and reports it as EACCES. */
		xp_err(err, "failed to open " SV_FMT ": Permission denied (euid=%ld egid=%ld)", SV_ARG(a[0]),
			(long)geteuid(), (long)getegid());
		return XP_ERROR;
	}
	const char *name = sv_dup(env->a, a[0]);
	int fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		xp_err(err, "failed to open %s: %s", name, strerror(errno));
		return XP_ERROR;
	}
	struct stat st;
	xbuf data;
	xbuf_init(&data, env->a);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		char buf[8192];
		ssize_t r;
		while ((r = read(fd, buf, sizeof buf)) > 0) {
			if (data.len + (size_t)r > xp_max_output(env)) {
				close(fd);
				xp_err(err, "file %s is too big for ${readfile}", name);
				return XP_ERROR;
			}
			xbuf_put(&data, buf, (size_t)r);
		}
	}
	close(fd);
	put_eol(out, xbuf_sv(&data), n->nargs > 1 ? &a[1] : NULL);
	out->taint = 1;
	return XP_OK;
}

/* Exim time values: digits with optional s/m/h/d/w suffixes ("1m30s"); plain digits are seconds. */
static bool parse_time(sv t, long long *secs)
{
	long long total = 0, cur = 0;
	bool any = false;
	for (size_t i = 0; i < t.len; i++) {
		char c = t.p[i];
		if (c >= '0' && c <= '9') {
			cur = cur * 10 + (c - '0');
			if (cur > 100000000)
				return false;
			any = true;
			continue;
		}
		int mult = c == 's' ? 1 : c == 'm' ? 60 : c == 'h' ? 3600 : c == 'd' ? 86400 : c == 'w' ? 604800 : 0;
		if (!mult || !any)
			return false;
		total += cur * mult;
		cur = 0;
	}
	*secs = total + cur;
	return any;
}

static int connect_unix(const char *path, xbuf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) {
		xp_err(err, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		xp_err(err, "failed to connect to socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Connect with a deadline: non-blocking connect, then poll for writability. */
static int connect_inet(const char *spec, long long deadline, xbuf *err)
{
	char host[512], port[64], shown[512];
	const char *p = spec;
	const char *colon;
	if (*p == '[') {
		const char *rb = strchr(p, ']');
		if (!rb || rb[1] != ':') {
			xp_err(err, "%s", "");
			return -1;
		}
		snprintf(host, sizeof host, "%.*s", (int)(rb - p - 1), p + 1);
		snprintf(shown, sizeof shown, "%.*s", (int)(rb - p + 1), p);
		colon = rb + 1;
	} else {
		colon = strrchr(p, ':');
		if (!colon) {
			xp_err(err, "%s", "");
			return -1;
		}
		snprintf(host, sizeof host, "%.*s", (int)(colon - p), p);
		snprintf(shown, sizeof shown, "%s", host);
	}
	snprintf(port, sizeof port, "%s", colon + 1);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res) {
		xp_err(err, "no IP address found for host %s", host);
		return -1;
	}
	int last = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			last = errno;
			close(fd);
			continue;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		long long left = deadline - monotonic_ms();
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			last = ETIMEDOUT;
			close(fd);
			continue;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			last = soerr;
			close(fd);
			continue;
		}
		freeaddrinfo(res);
		return fd;
	}
	freeaddrinfo(res);
	xp_err(err, "failed to connect to any address for %s: %s", shown, strerror(last));
	return -1;
}

/* ${readsocket} cache=yes: answers kept for the life of the process, keyed by the connection
 * specification and the request. A request without cache=yes drops every answer cached for its
 * specification (Exim 4.96's documented rule). Bounded: at most READSOCK_CACHE_MAX entries, the
 * oldest going first. */
#define READSOCK_CACHE_MAX 64
typedef struct readsock_cached {
	struct readsock_cached *next;
	char *spec, *request, *data;
	size_t spec_len, request_len, data_len;
} readsock_cached;
static readsock_cached *readsock_cache;

static void readsock_cache_free(readsock_cached *c)
{
	free(c->spec);
	free(c->request);
	free(c->data);
	free(c);
}

static void readsock_cache_drop_spec(sv spec)
{
	for (readsock_cached **pp = &readsock_cache; *pp;) {
		readsock_cached *c = *pp;
		if (c->spec_len == spec.len && memcmp(c->spec, spec.p, spec.len) == 0) {
			*pp = c->next;
			readsock_cache_free(c);
		} else {
			pp = &c->next;
		}
	}
}

void xp_readsock_cache_clear(void)
{
	while (readsock_cache) {
		readsock_cached *c = readsock_cache;
		readsock_cache = c->next;
		readsock_cache_free(c);
	}
}

static const readsock_cached *readsock_cache_find(sv spec, sv request)
{
	for (readsock_cached *c = readsock_cache; c; c = c->next)
		if (c->spec_len == spec.len && memcmp(c->spec, spec.p, spec.len) == 0 &&
			c->request_len == request.len && memcmp(c->request, request.p, request.len) == 0)
			return c;
	return NULL;
}

static char *dup_bytes(sv s)
{
	char *p = malloc(s.len + 1);
	if (!p)
		abort();
	memcpy(p, s.p, s.len);
	p[s.len] = 0;
	return p;
}

static void readsock_cache_add(sv spec, sv request, sv data)
{
	size_t n = 0;
	readsock_cached **last = &readsock_cache;
	for (readsock_cached **pp = &readsock_cache; *pp; pp = &(*pp)->next, n++)
		last = pp;
	if (n >= READSOCK_CACHE_MAX) { /* the list is newest first: drop the last one */
		readsock_cache_free(*last);
		*last = NULL;
	}
	readsock_cached *c = malloc(sizeof *c);
	if (!c)
		abort();
	c->spec = dup_bytes(spec);
	c->spec_len = spec.len;
	c->request = dup_bytes(request);
	c->request_len = request.len;
	c->data = dup_bytes(data);
	c->data_len = data.len;
	c->next = readsock_cache;
	readsock_cache = c;
}

static int item_readsocket(const xp_node *n, xp_env *env, xbuf *out, xbuf *err, const sv *a)
{
	if (env->forbid & RDO_READSOCK) {
		xp_err(err, "socket insertions are not permitted");
		return XP_ERROR;
	}
	long long timeout = 5;
	bool shutdown_wr = true, cache = false, tls = false;
	if (n->nargs > 2 && a[2].len) {
		list_iter it;
		xbuf opt;
		xbuf_init(&opt, env->a);
		list_iter_init(&it, a[2], 0);
		for (int i = 0; list_next(&it, &opt); i++) {
			sv o = xbuf_sv(&opt);
			/* An unreadable time leaves the default, as Exim goes on to connect. */
			if (i == 0 && !sv_starts(o, "timeout=")) {
				if (!parse_time(o, &timeout))
					timeout = 5;
			} else if (sv_starts(o, "timeout=")) {
				if (!parse_time(sv_sub(o, 8, o.len), &timeout))
					timeout = 5;
			} else if (sv_eq_cstr(o, "shutdown=no")) {
				shutdown_wr = false;
			} else if (sv_eq_cstr(o, "tls=yes")) {
				if (!xp_readsock_tls_available()) {
					xp_err(err, "TLS for ${readsocket} is not available in this build");
					return XP_ERROR;
				}
				tls = true;
			} else if (sv_eq_cstr(o, "tls=no")) {
				tls = false;
			} else if (sv_eq_cstr(o, "cache=yes")) {
				cache = true;
			} else if (sv_eq_cstr(o, "cache=no")) {
				cache = false;
			}
			/* tls=no, shutdown=yes and unknown options: accepted, as by Exim. */
		}
	}
	if (!cache) {
		readsock_cache_drop_spec(a[0]);
	} else {
		const readsock_cached *hit = readsock_cache_find(a[0], a[1]);
		if (hit) {
			sv data = sv_make(hit->data, hit->data_len);
			put_eol(out, data, n->nargs > 3 ? &a[3] : NULL);
			out->taint = 1;
			return XP_OK;
		}
	}
	if (timeout > 3600)
		timeout = 3600;
	long long deadline = monotonic_ms() + timeout * 1000;
	const char *spec = sv_dup(env->a, a[0]);
	int fd = sv_starts(a[0], "inet:") ? connect_inet(spec + 5, deadline, err) : connect_unix(spec, err);
	int rc = XP_OK;
	if (fd >= 0 && tls) {
		xbuf data;
		xbuf_init(&data, env->a);
		xbuf_reset(err);
		rc = xp_readsock_tls_exchange(env->a, fd, a[0], a[1], deadline, xp_max_output(env), &data, err);
		close(fd);
		if (rc == XP_OK) {
			if (cache)
				readsock_cache_add(a[0], a[1], xbuf_sv(&data));
			put_eol(out, xbuf_sv(&data), n->nargs > 3 ? &a[3] : NULL);
			out->taint = 1;
			return XP_OK;
		}
	} else if (fd >= 0) {
		if (a[1].len) {
			size_t off = 0;
			while (off < a[1].len) {
				ssize_t w = send(fd, a[1].p + off, a[1].len - off, MSG_NOSIGNAL);
				if (w <= 0) {
					xp_err(err, "request write to socket failed: %s", strerror(errno));
					rc = XP_ERROR;
					break;
				}
				off += (size_t)w;
			}
		}
		if (rc == XP_OK && shutdown_wr)
			shutdown(fd, SHUT_WR);
		xbuf data;
		xbuf_init(&data, env->a);
		int e = rc == XP_OK ? read_all(fd, &data, deadline, xp_max_output(env)) : 0;
		close(fd);
		if (rc == XP_OK && e == ETIMEDOUT) {
			xp_err(err, "socket read timed out");
			rc = XP_ERROR;
		} else if (rc == XP_OK && e) {
			xp_err(err, "socket read failed: %s", strerror(e));
			rc = XP_ERROR;
		}
		if (rc == XP_OK) {
			if (cache)
				readsock_cache_add(a[0], a[1], xbuf_sv(&data));
			put_eol(out, xbuf_sv(&data), n->nargs > 3 ? &a[3] : NULL);
			out->taint = 1;
			return XP_OK;
		}
	} else {
		rc = XP_ERROR;
	}
	/* A fifth argument replaces any failure. */
	if (n->nargs > 4) {
		xbuf_putsv(out, a[4]);
		return XP_OK;
	}
	return rc;
}

/* Split a command into words as Exim does for ${run} and pipes: white space separates; a word
 * starting with a double quote runs to the closing quote (a backslash there takes the next
 * character literally), one starting with a single quote likewise with no escapes. The words are
 * not yet expanded. */
static sv *split_command(arena *a, sv cmd, int *argc)
{
	size_t cap = 8;
	sv *words = arena_alloc(a, cap * sizeof *words);
	int n = 0;
	size_t i = 0;
	while (i < cmd.len) {
		while (i < cmd.len && isspace((unsigned char)cmd.p[i]))
			i++;
		if (i >= cmd.len)
			break;
		xbuf w;
		xbuf_init(&w, a);
		char c = cmd.p[i];
		if (c == '"') {
			/* A quoted word ends at its closing quote. */
			i++;
			while (i < cmd.len && cmd.p[i] != '"') {
				if (cmd.p[i] == '\\' && i + 1 < cmd.len)
					i++;
				xbuf_putc(&w, cmd.p[i++]);
			}
			i++;
		} else if (c == '\'') {
			i++;
			while (i < cmd.len && cmd.p[i] != '\'')
				xbuf_putc(&w, cmd.p[i++]);
			i++;
		} else {
			while (i < cmd.len && !isspace((unsigned char)cmd.p[i]))
				xbuf_putc(&w, cmd.p[i++]);
		}
		if ((size_t)n + 1 >= cap) {
			words = arena_realloc(a, words, cap * sizeof *words, cap * 2 * sizeof *words);
			cap *= 2;
		}
		words[n++] = xbuf_sv(&w);
	}
	*argc = n;
	return words;
}

static int item_run(const xp_node *n, xp_env *env, xbuf *out, xbuf *err)
{
	if (env->forbid & RDO_RUN) {
		xp_err(err, "running a command is not permitted");
		return XP_ERROR;
	}
	/* The command is split first and each word expanded on its own, so an expanded value with
	 * spaces stays one argument; with ",preexpand" the whole command is expanded first. */
	int argc;
	bool preexpand = n->opt.len > 0;
	sv cmd = n->raw;
	if (preexpand) {
		xbuf whole;
		xbuf_init(&whole, env->a);
		int rc = xp_eval_seq(n->args[0], env, false, &whole, err);
		if (rc != XP_OK)
			return rc;
		cmd = xbuf_sv(&whole);
	}
	sv *words = split_command(env->a, cmd, &argc);
	char **argv = arena_calloc(env->a, (size_t)argc + 1, sizeof *argv);
	for (int i = 0; i < argc; i++) {
		if (preexpand) {
			argv[i] = sv_dup(env->a, words[i]);
			continue;
		}
		xbuf w, e;
		xbuf_init(&w, env->a);
		xbuf_init(&e, env->a);
		int rc = xp_expand(env, words[i], &w, &e);
		if (rc != XP_OK) {
			xp_err(err, "Expansion of \"" SV_FMT "\" from command \"" SV_FMT "\" in ${run} expansion failed: %s",
				SV_ARG(words[i]), SV_ARG(n->raw), xbuf_cstr(&e));
			return XP_ERROR;
		}
		argv[i] = arena_strndup(env->a, xbuf_cstr(&w), w.len);
	}
	xbuf data;
	xbuf_init(&data, env->a);
	bool ok = false;
	if (argc == 0) {
		env->runrc = 127;
	} else {
		int pipefd[2];
		if (pipe2(pipefd, O_CLOEXEC) < 0) {
			xp_err(err, "couldn't create pipe for ${run}: %s", strerror(errno));
			return XP_ERROR;
		}
		pid_t pid = fork();
		if (pid < 0) {
			xp_err(err, "couldn't fork for ${run}: %s", strerror(errno));
			close(pipefd[0]);
			close(pipefd[1]);
			return XP_ERROR;
		}
		if (pid == 0) {
			int devnull = open("/dev/null", O_RDONLY);
			if (devnull >= 0)
				dup2(devnull, 0);
			dup2(pipefd[1], 1);
			dup2(pipefd[1], 2);
			execv(argv[0], argv);
			_exit(127);
		}
		close(pipefd[1]);
		int e = read_all(pipefd[0], &data, monotonic_ms() + RUN_TIMEOUT_SECONDS * 1000LL, xp_max_output(env));
		close(pipefd[0]);
		if (e)
			kill(pid, SIGKILL);
		int status = 0;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (e == ETIMEDOUT) {
			xp_err(err, "timed out waiting for ${run} command");
			return XP_ERROR;
		}
		if (e == EFBIG) {
			xp_err(err, "output of ${run} command is too long (limit %zu bytes)", xp_max_output(env));
			return XP_ERROR;
		}
		env->runrc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		ok = env->runrc == 0;
	}
	sv v = xbuf_sv(&data);
	v.taint = 1;
	return xp_yesno(n, env, false, ok, v, out, err);
}

int xp_item_io(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[5] = { SV_NULL, SV_NULL, SV_NULL, SV_NULL, SV_NULL };
	/* ${run}'s command is split before it is expanded (item_run); its other parts are yes/no. */
	for (int i = n->id == I_RUN ? 1 : 0; i < n->nargs && i < 5; i++) {
		int rc = xp_eval_arg(n->args[i], env, skip, &a[i], err);
		if (rc != XP_OK)
			return rc;
	}
	if (skip)
		return n->id == I_RUN ? xp_yesno(n, env, true, false, SV_NULL, out, err) : XP_OK;
	switch (n->id) {
	case I_READFILE: return item_readfile(n, env, out, err, a);
	case I_READSOCKET: return item_readsocket(n, env, out, err, a);
	default: return item_run(n, env, out, err);
	}
}
