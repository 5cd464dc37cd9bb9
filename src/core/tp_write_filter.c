/* transport_filter (Exim 4.96 "Generic options for transports"): the command is split into
 * arguments and each is expanded on its own, as the pipe transport does; it runs directly (no
 * shell) with the raw message on its standard input, written by a separate feeder process so
 * neither side can deadlock; its standard output and standard error come back through one pipe,
 * and the writer applies the line rules to that. transport_filter_timeout bounds each read. */
#include "core/tp_write_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/transport.h"

#define MAX_ARGS 1024
#define BODY_START (MSG_ID_LEN + 3)

/* The next raw argument of a command line: white space separates; "..." takes backslash
 * escapes; '...' is literal. *quoted tells whether any quoting was used (then
 * "$pipe_addresses" is not special). false at the end. */
static bool next_arg(sv *rest, xbuf *arg, bool *quoted)
{
	size_t i = 0;
	const char *p = rest->p;
	size_t n = rest->len;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	if (i == n) {
		*rest = sv_sub(*rest, n, 0);
		return false;
	}
	xbuf_reset(arg);
	arg->taint = rest->taint;
	*quoted = false;
	while (i < n && !(p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) {
		if (p[i] == '"') {
			*quoted = true;
			for (i++; i < n && p[i] != '"'; i++) {
				if (p[i] == '\\' && i + 1 < n) {
					char c = p[++i];
					xbuf_putc(arg, c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c);
				} else {
					xbuf_putc(arg, p[i]);
				}
			}
			if (i < n)
				i++;
		} else if (p[i] == '\'') {
			*quoted = true;
			for (i++; i < n && p[i] != '\''; i++)
				xbuf_putc(arg, p[i]);
			if (i < n)
				i++;
		} else {
			xbuf_putc(arg, p[i++]);
		}
	}
	*rest = sv_sub(*rest, i, n - i);
	return true;
}

char **tp_command_argv(arena *a, sv command, xp_env *env, const address_item *addrs,
	const char *what, xbuf *err)
{
	bool tainted;
	return tp_command_argv_ex(a, command, env, addrs, what, err, &tainted);
}

char **tp_command_argv_ex(arena *a, sv command, xp_env *env, const address_item *addrs,
	const char *what, xbuf *err, bool *tainted)
{
	*tainted = false;
	char **argv = arena_calloc(a, MAX_ARGS + 1, sizeof *argv);
	size_t argc = 0;
	sv rest = command;
	xbuf arg, val, e;
	xbuf_init(&arg, a);
	xbuf_init(&val, a);
	xbuf_init(&e, a);
	bool quoted;
	while (next_arg(&rest, &arg, &quoted)) {
		if (!quoted && sv_eq_cstr(xbuf_sv(&arg), "$pipe_addresses")) {
			for (const address_item *p = addrs; p; p = p->next) {
				if (argc >= MAX_ARGS)
					goto too_many;
				argv[argc++] = sv_dup(a, p->address);
			}
			continue;
		}
		if (argc >= MAX_ARGS)
			goto too_many;
		if (!env) {
			argv[argc++] = sv_dup(a, xbuf_sv(&arg));
			continue;
		}
		xbuf_reset(&val);
		xbuf_reset(&e);
		if (xp_expand(env, xbuf_sv(&arg), &val, &e) != XP_OK) {
			xbuf_printf(err, "Expansion of \"%s\" from command \"" SV_FMT "\" in %s failed: %s",
				xbuf_cstr(&arg), SV_ARG(command), what, xbuf_cstr(&e));
			return NULL;
		}
		if (val.taint) {
			/* Exim 4.96 refuses message-derived data in a command's arguments. */
			xbuf_printf(err, "Tainted arg %zu for %s command: '%s'", argc, what, xbuf_cstr(&val));
			*tainted = true;
			return NULL;
		}
		argv[argc++] = sv_dup(a, xbuf_sv(&val));
	}
	if (argc == 0) {
		xbuf_printf(err, "no command specified for %s", what);
		return NULL;
	}
	argv[argc] = NULL;
	return argv;
too_many:
	xbuf_printf(err, "Too many arguments in command \"" SV_FMT "\" in %s", SV_ARG(command), what);
	return NULL;
}

bool tpw_filter_argv(arena *a, const tp_write_opts *o, char ***argv, xbuf *err, int *errnum)
{
	*argv = NULL;
	const char *cmd = o->t ? tp_opt_str(o->t, "transport_filter") : NULL;
	if (!cmd)
		return true;
	sv c = sv_trim(sv_cstr(cmd));
	if (!c.len)
		return true;
	bool tainted;
	*argv = tp_command_argv_ex(a, c, o->env, o->addrs, "transport filter", err, &tainted);
	if (!*argv) {
		*errnum = tainted ? TPW_ERRNO_TAINT : ADDR_ERRNO_UNKNOWN;
		return false;
	}
	return true;
}

static bool put_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* The feeder: the raw message into the filter (headers, then the body with LF line ends). */
static int feed(const tp_write_opts *o, sv headers, unsigned flags, int out)
{
	if (!(flags & TPW_NO_HEADERS) && !put_all(out, headers.p, headers.len))
		return 1;
	if (flags & TPW_NO_BODY)
		return 0;
	static char buf[65536], conv[65536 + 1];
	off_t off = BODY_START;
	bool cr_held = false;
	for (;;) {
		ssize_t got = pread(o->data_fd, buf, sizeof buf, off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return 1;
		if (got == 0)
			break;
		off += got;
		if (!o->m->spool_wireformat) {
			if (!put_all(out, buf, (size_t)got))
				return 1;
			continue;
		}
		size_t w = 0;
		if (cr_held && buf[0] != '\n')
			conv[w++] = '\r';
		cr_held = false;
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] == '\r' && i + 1 == got) {
				cr_held = true;
				break;
			}
			if (buf[i] == '\r' && buf[i + 1] == '\n')
				continue;
			conv[w++] = buf[i];
		}
		if (!put_all(out, conv, w))
			return 1;
	}
	if (cr_held && !put_all(out, "\r", 1))
		return 1;
	return 0;
}

bool tpw_filter_start(arena *a, const tp_write_opts *o, char **argv, sv headers, unsigned flags,
	tpw_filter *f, xbuf *err, int *errnum)
{
	(void)a;
	int in[2], outp[2];
	f->filter_pid = f->feeder_pid = -1;
	f->fd = -1;
	f->timeout = o->t ? tp_opt_int(o->t, "transport_filter_timeout") : 0;
	if (pipe(in) < 0) {
		*errnum = errno;
		xbuf_printf(err, "failed to create pipe for transport filter: %s", strerror(errno));
		return false;
	}
	if (pipe(outp) < 0) {
		*errnum = errno;
		xbuf_printf(err, "failed to create pipe for transport filter: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		return false;
	}
	f->filter_pid = fork();
	if (f->filter_pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		dup2(in[0], 0);
		dup2(outp[1], 1);
		dup2(outp[1], 2);
		close(in[0]);
		close(in[1]);
		close(outp[0]);
		close(outp[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	if (f->filter_pid < 0) {
		*errnum = errno;
		xbuf_printf(err, "failed to create transport filter process: %s", strerror(errno));
		close(in[0]); close(in[1]); close(outp[0]); close(outp[1]);
		return false;
	}
	close(in[0]);
	close(outp[1]);
	f->feeder_pid = fork();
	if (f->feeder_pid == 0) {
		/* A filter that stops reading early is not the feeder's failure: the filter's own
		 * exit status decides. */
		signal(SIGPIPE, SIG_IGN);
		close(outp[0]);
		int rc = feed(o, headers, flags, in[1]);
		close(in[1]);
		_exit(rc);
	}
	close(in[1]);
	if (f->feeder_pid < 0) {
		*errnum = errno;
		xbuf_printf(err, "failed to create process to feed transport filter: %s", strerror(errno));
		close(outp[0]);
		tpw_filter_abort(f);
		return false;
	}
	f->fd = outp[0];
	return true;
}

ssize_t tpw_filter_read(tpw_filter *f, char *buf, size_t n)
{
	for (;;) {
		if (f->timeout > 0) {
			struct pollfd pf = { .fd = f->fd, .events = POLLIN };
			int pr = poll(&pf, 1, f->timeout * 1000);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			if (pr < 0)
				return -1;
		}
		ssize_t got = read(f->fd, buf, n);
		if (got < 0 && errno == EINTR)
			continue;
		return got;
	}
}

static int reap(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

bool tpw_filter_finish(tpw_filter *f, const tp_write_opts *o, xbuf *err, int *errnum)
{
	close(f->fd);
	f->fd = -1;
	int fst = reap(f->filter_pid);
	int wst = reap(f->feeder_pid);
	f->filter_pid = f->feeder_pid = -1;
	int code = WIFEXITED(fst) ? WEXITSTATUS(fst) : WIFSIGNALED(fst) ? -WTERMSIG(fst) : -1;
	if (code != 0) {
		char head[64];
		snprintf(head, sizeof head, "transport filter process failed (%d)", code);
		tpw_error(o, err, head, code == 127 ? "unable to execute command" : NULL);
		*errnum = TPW_ERRNO_FILTER_FAIL;
		return false;
	}
	if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
		tpw_error(o, err, "failed to write the message to the transport filter", NULL);
		*errnum = TPW_ERRNO_WRITE_INCOMPLETE;
		return false;
	}
	return true;
}

void tpw_filter_abort(tpw_filter *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	pid_t pids[2] = { f->filter_pid, f->feeder_pid };
	for (int i = 0; i < 2; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			reap(pids[i]);
		}
	}
	f->filter_pid = f->feeder_pid = -1;
}
