/* The pipe transport (Exim 4.96 "The pipe transport"): runs a command with the message on its
 * standard input and judges the delivery by its exit status and output, with Exim's texts.
 *
 * Processes: the command runs as the leader of a new process group (so a timeout or too much
 * output kills everything it started); a second child writes the message into the command's
 * standard input while this process reads the command's output (stdout and stderr share one
 * pipe), bounded by max_output, and watches the deadline. Doing both from one process could
 * deadlock: a command that writes a lot before reading would block on its output while we block
 * on its input. */
#include "core/tp_child.h"
#include "drivers/transports/local_transports.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/tp_output.h"
#include "core/tp_write.h"
#include "drivers/transports/pipe_internal.h"
#include "lib/fdio.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/printing.h"
#include "lib/clock.h"

static void set_all(arena *a, address_item *addrs, addr_result r, const char *text)
{
	for (address_item *ad = addrs; ad; ad = ad->next) {
		if (text)
			tp_set_result(a, ad, r, 0, 0, "%s", text);
		else
			tp_set_result(a, ad, r, 0, 0, NULL);
	}
}

/* ---- the command's process ---- */

/* In the child: become a group leader, wire the descriptors, exec. On failure the errno goes
 * back over report_fd (close-on-exec, so a successful exec sends nothing) and the status is 127,
 * as a shell gives for a command it cannot run. */
static void run_child(const struct pipe_transport_options *o, const pipe_cmd *cmd, int in_fd,
	int out_fd, int report_fd)
{
	umask((mode_t)o->umask);
	if (!o->permit_coredump) {
		struct rlimit rl = { 0, 0 };
		setrlimit(RLIMIT_CORE, &rl);
	}
	if (tp_child_wire(in_fd, out_fd, out_fd, &report_fd))
		execve(cmd->argv[0], cmd->argv, cmd->envp);
	int e = errno;
	if (write(report_fd, &e, sizeof e) < 0) { /* the parent sees status 127 anyway */ }
	_exit(127);
}

/* ---- the message writer's process ---- */

typedef struct write_report {
	int ok;
	int err;
	char text[480];
} write_report;

typedef struct pipe_job {
	const driver_instance *t;
	const struct pipe_transport_options *o;
	tp_ctx *c;
	address_item *addrs;
	sv prefix;            /* expanded message_prefix */
	sv suffix;            /* expanded message_suffix */
	int timeout;          /* seconds, 0: none */
} pipe_job;

/* Batch SMTP envelope (before the message) in Exim's form. */
static void bsmtp_envelope(const pipe_job *j, xbuf *b)
{
	const char *eol = j->o->use_crlf ? "\r\n" : "\n";
	xbuf_printf(b, "MAIL FROM:<%.*s>%s", (int)j->c->m->sender.len, j->c->m->sender.p, eol);
	for (const address_item *ad = j->addrs; ad; ad = ad->next)
		xbuf_printf(b, "RCPT TO:<%.*s>%s", (int)ad->address.len, ad->address.p, eol);
	xbuf_printf(b, "DATA%s", eol);
}

static void write_message(const pipe_job *j, int fd, int report_fd)
{
	signal(SIGPIPE, SIG_IGN);
	write_report rep = { .ok = 1 };
	xbuf err;
	xbuf_init(&err, j->c->a);
	if (j->o->use_bsmtp) {
		xbuf env;
		xbuf_init(&env, j->c->a);
		xbuf_putsv(&env, j->prefix);
		bsmtp_envelope(j, &env);
		if (!fd_write_all(fd, env.p, env.len)) {
			rep.ok = 0;
			rep.err = errno;
		}
	}
	if (rep.ok) {
		tp_write_opts w = {
			.m = j->c->m,
			.data_fd = j->c->data_fd,
			.t = j->t,
			.addrs = j->addrs,
			.env = j->c->env,
			.flags = (j->o->use_crlf ? TPW_CRLF : 0u) | (j->o->use_bsmtp ? TPW_DOT_STUFF : 0u),
			.prefix = j->o->use_bsmtp ? SV_NULL : j->prefix,
			.suffix = j->suffix,
		};
		if (!j->o->use_bsmtp && j->o->check_string && j->o->escape_string) {
			w.check_string = sv_cstr(j->o->check_string);
			w.escape_string = sv_cstr(j->o->escape_string);
		}
		int errnum = 0;
		if (!tp_write_fd(&w, fd, j->timeout, &err, &errnum)) {
			rep.ok = 0;
			rep.err = errnum;
			snprintf(rep.text, sizeof rep.text, "%s", xbuf_cstr(&err));
		}
	}
	if (rep.ok && j->o->use_bsmtp) {
		const char *end = j->o->use_crlf ? ".\r\n" : ".\n";
		if (!fd_write_all(fd, end, strlen(end))) {
			rep.ok = 0;
			rep.err = errno;
		}
	}
	if (write(report_fd, &rep, sizeof rep) < 0) { /* the parent treats silence as a failure */ }
	_exit(0);
}

/* ---- running and judging ---- */

typedef struct pipe_run {
	pid_t pid;
	int status;
	bool exited;
	bool timed_out;
	bool overflow;
	int exec_errno;       /* execve failed with this (0: it ran) */
	xbuf output;
	write_report wr;
	bool wr_received;
} pipe_run;

/* After a SIGKILL to its group the command ends at once; a bound still keeps a process that
 * cannot be killed (stuck in the kernel) from holding the delivery for ever. */
static void reap_blocking(pid_t pid, int *status)
{
	if (!tp_child_reap(pid, status, 60000))
		*status = SIGKILL;
}

/* Read the command's output until it exits or the deadline passes. */
static void watch(const pipe_job *j, pipe_run *r, int out_fd)
{
	long long deadline = j->timeout > 0 ? monotonic_ms() + (long long)j->timeout * 1000 : -1;
	size_t max = j->o->max_output > 0 ? (size_t)j->o->max_output : 0;
	int pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	bool out_open = true;
	char buf[8192];
	for (;;) {
		int wait_ms = 100;
		if (deadline >= 0) {
			long long left = deadline - monotonic_ms();
			if (left <= 0) {
				kill(-r->pid, SIGKILL);
				r->timed_out = true;
				reap_blocking(r->pid, &r->status);
				break;
			}
			if (pidfd >= 0 || left < wait_ms)
				wait_ms = (int)(left > 100000 ? 100000 : left);
		} else if (pidfd >= 0) {
			wait_ms = 100000;
		}
		struct pollfd p[2];
		int np = 0;
		if (out_open)
			p[np++] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
		if (pidfd >= 0)
			p[np++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (np == 0) {
			/* no pidfd and the output is closed: poll the child's state */
			struct timespec ts = { 0, 10 * 1000000L };
			nanosleep(&ts, NULL);
		} else if (poll(p, (nfds_t)np, wait_ms) < 0 && errno != EINTR) {
			break;
		}
		if (out_open && np > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(out_fd, buf, sizeof buf);
			if (n > 0) {
				size_t room = r->output.len < max ? max - r->output.len : 0;
				xbuf_put(&r->output, buf, (size_t)n < room ? (size_t)n : room);
				if (max && r->output.len >= max && (size_t)n > room && !r->overflow) {
					/* Too much output: stop the command and everything it started. */
					r->overflow = true;
					kill(-r->pid, SIGKILL);
				}
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				out_open = false;
			}
		}
		pid_t w = waitpid(r->pid, &r->status, WNOHANG);
		if (w == r->pid) {
			r->exited = true;
			/* collect what it wrote just before it ended */
			fcntl(out_fd, F_SETFL, O_NONBLOCK);
			ssize_t n;
			while (out_open && (n = read(out_fd, buf, sizeof buf)) > 0) {
				size_t room = r->output.len < max ? max - r->output.len : 0;
				xbuf_put(&r->output, buf, (size_t)n < room ? (size_t)n : room);
			}
			break;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
}

/* Wait for the writer (it ends soon after the command: EPIPE at worst); bounded by the timeout. */
static void finish_writer(const pipe_job *j, pipe_run *r, pid_t writer, int report_fd)
{
	long long deadline = monotonic_ms() + (j->timeout > 0 ? (long long)j->timeout * 1000 : 3600000LL);
	struct pollfd p = { .fd = report_fd, .events = POLLIN };
	for (;;) {
		long long left = deadline - monotonic_ms();
		if (left <= 0 || r->timed_out) {
			kill(writer, SIGKILL);
			break;
		}
		int n = poll(&p, 1, (int)(left > 100000 ? 100000 : left));
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR)
			break;
	}
	ssize_t got = read(report_fd, &r->wr, sizeof r->wr);
	r->wr_received = got == (ssize_t)sizeof r->wr;
	r->wr.text[sizeof r->wr.text - 1] = 0;
	int st;
	reap_blocking(writer, &st);
}

/* Exim's note after an exit status it recognises. */
static const char *status_meaning(arena *a, int code)
{
	static const char *const sysexits[] = {
		"usage or syntax error", "error in input data", "input data missing", "user nonexistent",
		"host nonexistent", "service or program unavailable", "internal software error",
		"internal operating system error", "system file missing", "can't create output file",
		"input/output error", "temporary error", "protocol error", "permission denied",
		"configuration error",
	};
	if (code >= 64 && code <= 78)
		return arena_printf(a, " (could mean %s)", sysexits[code - 64]);
	if (code == 127)
		return " (could mean unable to exec or command does not exist)";
	if (code > 128) {
		int sig = code - 128;
		return arena_printf(a, " (could mean shell command ended by signal %d (%s))", sig, strsignal(sig));
	}
	return "";
}

static bool temp_error(const char *list, int code)
{
	if (!list)
		return false;
	sv l = sv_trim(sv_cstr(list));
	if (sv_eq_cstr(l, "*"))
		return true;
	list_iter it;
	list_iter_init(&it, l, 0);
	xbuf item;
	xbuf_init(&item, NULL);
	bool hit = false;
	long long v;
	while (!hit && list_next(&it, &item))
		hit = sv_to_long(xbuf_sv(&item), &v) && v == code;
	xbuf_free(&item);
	return hit;
}

/* The first line of the output, made printable, for the log. */
static const char *first_line(arena *a, const xbuf *out)
{
	sv v = xbuf_sv(out);
	const char *nl = memchr(v.p, '\n', v.len);
	if (nl)
		v.len = (size_t)(nl - v.p);
	xbuf b;
	xbuf_init(&b, a);
	printing_escape(v, PRINT_TAB_LITERAL, &b);
	return xbuf_cstr(&b);
}

static void judge(const pipe_job *j, const pipe_cmd *cmd, pipe_run *r)
{
	const driver_instance *t = j->t;
	const struct pipe_transport_options *o = j->o;
	arena *a = j->c->a;
	address_item *addrs = j->addrs;
	addr_result res = ADDR_OK;
	const char *text = NULL;
	bool freeze = false;
	bool by_status = false;     /* the result comes from the command's status */

	if (r->timed_out) {
		res = o->timeout_defer ? ADDR_DEFER : ADDR_FAIL;
		text = "pipe delivery process timed out";
	} else if (r->exec_errno && o->freeze_exec_fail) {
		res = ADDR_DEFER;
		freeze = true;
		text = arena_printf(a, "pipe process failed to exec \"%s\"", cmd->argv0);
	} else if (r->wr_received && !r->wr.ok && r->wr.err != EPIPE) {
		/* The command may have seen a truncated message: never count that as delivered. */
		for (address_item *ad = addrs; ad; ad = ad->next)
			tp_set_result(a, ad, ADDR_DEFER, r->wr.err, 0, "%s",
				r->wr.text[0] ? r->wr.text : arena_printf(a, "error writing to pipe for %s transport", t->name));
		return;
	} else if (!r->wr_received) {
		res = ADDR_DEFER;
		text = arena_printf(a, "message writer for %s transport ended without a report", t->name);
	} else if (WIFSIGNALED(r->status) && !o->ignore_status) {
		int sig = WTERMSIG(r->status);
		res = o->freeze_signal ? ADDR_DEFER : ADDR_FAIL;
		freeze = o->freeze_signal;
		by_status = true;
		text = arena_printf(a, "Child process of %s transport (running command \"%s\") was terminated by signal %d (%s)",
			t->name, cmd->raw, sig, strsignal(sig));
	} else if (WIFEXITED(r->status) && WEXITSTATUS(r->status) != 0 && !o->ignore_status) {
		int code = WEXITSTATUS(r->status);
		res = temp_error(o->temp_errors, code) ? ADDR_DEFER : ADDR_FAIL;
		by_status = true;
		text = arena_printf(a, "Child process of %s transport returned %d%s from command: %s",
			t->name, code, status_meaning(a, code), cmd->argv[0]);
	}

	bool has_output = r->output.len > 0;
	if (has_output) {
		const char *line = NULL;
		if (o->log_output || (o->log_defer_output && by_status && res == ADDR_DEFER) ||
			(o->log_fail_output && by_status && res == ADDR_FAIL))
			line = first_line(a, &r->output);
		if (line)
			log_write(LOG_MAIN, "<%.*s>: %s transport output: %s", (int)addrs->address.len,
				addrs->address.p, t->name, line);
	}
	/* Output goes back to the sender, never to <> (a bounce). */
	bool returned = false;
	if (has_output && j->c->m->sender.len && !r->timed_out) {
		if (o->return_output) {
			returned = true;
			if (res == ADDR_OK)
				text = "return message generated";
			res = ADDR_FAIL;
		} else if (o->return_fail_output && res == ADDR_FAIL && by_status) {
			returned = true;
		}
	}
	if (returned) {
		for (address_item *ad = addrs; ad; ad = ad->next) {
			xbuf err;
			xbuf_init(&err, a);
			if (!tp_output_save(a, j->c->sc, j->c->m->id, ad, xbuf_sv(&r->output), &err))
				log_write(LOG_MAIN | LOG_PANIC, "%s transport: could not keep the command's output for the bounce: %s",
					t->name, xbuf_cstr(&err));
		}
	}
	set_all(a, addrs, res, res == ADDR_OK ? NULL : text);
	for (address_item *ad = addrs; ad; ad = ad->next) {
		ad->freeze = freeze;
		ad->delivered_to_file = true;
	}
}

static bool return_path_var(void *ctx, sv name, xbuf *out)
{
	if (!sv_eq_cstr(name, "return_path"))
		return false;
	xbuf_putsv(out, xbuf_sv((const xbuf *)ctx));
	return true;
}

static void pipe_deliver(const driver_instance *t, tp_ctx *c, address_item *addrs)
{
	const struct pipe_transport_options *o = t->priv;
	arena *a = c->a;
	pipe_cmd cmd = { 0 };
	pipe_err e = { ADDR_DEFER, NULL };
	if (!pipe_build_command(t, c, addrs, &cmd, &e) || !pipe_build_env(t, c, addrs, &cmd, &e)) {
		set_all(a, addrs, e.r, e.text);
		return;
	}
	pipe_job j = { .t = t, .o = o, .c = c, .addrs = addrs, .timeout = o->timeout };
	/* $return_path for the prefix ("From <return path> ..."): the transport's return_path when
	 * set, else what the delivery shows, else the sender. */
	xbuf rpath, rerr;
	xbuf_init(&rpath, a);
	xbuf_init(&rerr, a);
	const char *rp_opt = tp_opt_str(t, "return_path");
	if (!(rp_opt && xp_expand(c->env, sv_cstr(rp_opt), &rpath, &rerr) == XP_OK)) {
		xbuf_reset(&rpath);
		if (xp_expand(c->env, sv_cstr("$return_path"), &rpath, &rerr) != XP_OK || rpath.len == 0) {
			xbuf_reset(&rpath);
			xbuf_putsv(&rpath, c->m->sender);
		}
	}
	xp_provider rp = { .get = return_path_var, .ctx = &rpath };
	xp_env_push_provider(c->env, &rp);
	if (o->message_prefix) {
		xbuf b, err;
		xbuf_init(&b, a);
		xbuf_init(&err, a);
		if (xp_expand(c->env, sv_cstr(o->message_prefix), &b, &err) != XP_OK) {
			if (c->env->providers == &rp)
				c->env->providers = rp.next;
			set_all(a, addrs, ADDR_DEFER, arena_printf(a, "Expansion of \"%s\" (prefix for %s transport) failed: %s",
				o->message_prefix, t->name, xbuf_cstr(&err)));
			return;
		}
		j.prefix = xbuf_sv(&b);
	}
	if (o->message_suffix) {
		/* Exim 4.96 writes no suffix when its expansion fails, and carries on. */
		xbuf b, err;
		xbuf_init(&b, a);
		xbuf_init(&err, a);
		if (xp_expand(c->env, sv_cstr(o->message_suffix), &b, &err) == XP_OK)
			j.suffix = xbuf_sv(&b);
	}
	if (c->env->providers == &rp)
		c->env->providers = rp.next;
	if (c->dont_deliver) {    /* -N */
		set_all(a, addrs, ADDR_OK, NULL);
		return;
	}

	int in[2], out[2], rep[2], wrep[2];
	if (pipe2(in, O_CLOEXEC) != 0)
		goto no_pipes;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]); close(in[1]);
		goto no_pipes;
	}
	if (pipe2(rep, O_CLOEXEC) != 0) {
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		goto no_pipes;
	}
	if (pipe2(wrep, O_CLOEXEC) != 0) {
		close(in[0]); close(in[1]); close(out[0]); close(out[1]); close(rep[0]); close(rep[1]);
		goto no_pipes;
	}
	fflush(NULL);
	pipe_run r = { 0 };
	xbuf_init(&r.output, a);
	r.pid = fork();
	if (r.pid == 0) {
		close(in[1]); close(out[0]); close(rep[0]); close(wrep[0]); close(wrep[1]);
		run_child(o, &cmd, in[0], out[1], rep[1]);
	}
	int fork_errno = errno;
	close(in[0]); close(out[1]); close(rep[1]);
	if (r.pid < 0) {
		close(in[1]); close(out[0]); close(rep[0]); close(wrep[0]); close(wrep[1]);
		set_all(a, addrs, ADDR_DEFER, arena_printf(a, "Failed to create child process for %s transport: %s",
			t->name, strerror(fork_errno)));
		return;
	}
	setpgid(r.pid, r.pid);  /* also here, so kill(-pid) works before the child got to it */
	/* Did the exec work? A successful exec closes the report pipe with nothing written. */
	int ex = 0;
	ssize_t got;
	while ((got = read(rep[0], &ex, sizeof ex)) < 0 && errno == EINTR)
		;
	close(rep[0]);
	if (got == (ssize_t)sizeof ex)
		r.exec_errno = ex ? ex : ENOEXEC;

	pid_t writer = fork();
	if (writer == 0) {
		close(out[0]); close(wrep[0]);
		write_message(&j, in[1], wrep[1]);
	}
	close(in[1]); close(wrep[1]);
	if (writer < 0) {
		kill(-r.pid, SIGKILL);
		reap_blocking(r.pid, &r.status);
		close(out[0]); close(wrep[0]);
		set_all(a, addrs, ADDR_DEFER, arena_printf(a, "Failed to create child process for %s transport: %s",
			t->name, strerror(errno)));
		return;
	}
	watch(&j, &r, out[0]);
	close(out[0]);
	finish_writer(&j, &r, writer, wrep[0]);
	close(wrep[0]);
	judge(&j, &cmd, &r);
	return;

no_pipes:
	set_all(a, addrs, ADDR_DEFER, arena_printf(a, "Failed to create pipe for %s transport: %s",
		t->name, strerror(errno)));
}

static int pipe_batch_max(const driver_instance *t, xp_env *env)
{
	(void)env;
	const struct pipe_transport_options *o = t->priv;
	return o->batch_max > 0 ? o->batch_max : 1;
}

static const char *pipe_batch_id(const driver_instance *t, xp_env *env)
{
	return tp_expand_batch_id(env, ((const struct pipe_transport_options *)t->priv)->batch_id);
}

const transport_ops pipe_transport_ops = {
	.remote = false,
	.deliver = pipe_deliver,
	.batch_max = pipe_batch_max,
	.batch_id = pipe_batch_id,
};
