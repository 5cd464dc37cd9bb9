/* The lmtp transport (Exim 4.96 "The lmtp transport", RFC 2033): LMTP over a UNIX socket or
 * over the standard input and output of a command, one reply per recipient after the data.
 *
 * The dialogue is Exim's: greeting, LHLO <primary_hostname>, MAIL FROM:<sender> (no
 * extensions), RCPT TO:<address> (with IGNOREQUOTA when ignore_quota is set and the server
 * offered it), DATA, the message in CRLF form with dots doubled, ".", then one reply for each
 * recipient that RCPT accepted, in order; QUIT. Replies are read with the SMTP client engine's
 * bounded reader. The texts are Exim 4.96's ("LMTP error after RCPT TO:<x>: 550 ...", "LMTP
 * timeout after end of data (N bytes written)"), which differ from the smtp transport's, so the
 * dialogue lives here rather than in the smtp engine. */
#include "core/tp_child.h"
#include "drivers/transports/local_transports.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/tp_write.h"
#include "drivers/transports/lmtp.h"
#include "drivers/transports/pipe_internal.h"
#include "lib/bio.h"
#include "lib/printing.h"
#include "smtp/client.h"

/* Exim's error numbers in "defer (N)" (the smtp transport's, shared by lmtp). */
enum { LMTP_ERRNO_GENERIC = -1 };

typedef struct lmtp_conn {
	arena *a;
	const driver_instance *t;
	bio io;
	int fd_r, fd_w;
	pid_t pid;                   /* the command; -1 for a socket */
	int timeout_ms;
	smtpc_reply reply;
	xbuf cmd;                    /* the last command, as messages name it */
	long long data_bytes;
} lmtp_conn;

/* Outcome of one exchange. */
typedef enum { LX_OK, LX_REPLY_4XX, LX_REPLY_5XX, LX_BROKEN, LX_MALFORMED } lx_rc;

static void set_all(arena *a, address_item *addrs, addr_result r, int err, int code, const char *text)
{
	for (address_item *ad = addrs; ad; ad = ad->next)
		if (ad->result == ADDR_PENDING)
			tp_set_result(a, ad, r, err, code, "%s", text);
}

static const char *printable(arena *a, sv text)
{
	xbuf b;
	xbuf_init(&b, a);
	printing_escape(text, PRINT_TAB_LITERAL, &b);
	return xbuf_cstr(&b);
}

/* Read a reply to what c->cmd names ("initial connection", "MAIL FROM:<x>", "end of data").
 * On LX_BROKEN *text is Exim's wording of the failure. */
static lx_rc lmtp_read(lmtp_conn *c, int expect, const char **text)
{
	smtpc_read_rc rc = smtpc_read_reply(&c->io, &c->reply, c->timeout_ms);
	const char *after = xbuf_cstr(&c->cmd);
	switch (rc) {
	case SMTPC_READ_OK:
		break;
	case SMTPC_READ_TIMEOUT:
		if (c->data_bytes >= 0)
			*text = arena_printf(c->a, "LMTP timeout after %s (%lld bytes written)", after, c->data_bytes);
		else
			*text = arena_printf(c->a, "LMTP timeout after %s", after);
		return LX_BROKEN;
	case SMTPC_READ_MALFORMED:
		*text = arena_printf(c->a, "Malformed LMTP response after %s: %s", after,
			printable(c->a, xbuf_sv(&c->reply.text)));
		return LX_MALFORMED;
	case SMTPC_READ_CLOSED:
	case SMTPC_READ_ERROR:
	default:
		*text = arena_printf(c->a, "LMTP connection closed after %s", after);
		return LX_BROKEN;
	}
	if (c->reply.code / 100 == expect)
		return LX_OK;
	*text = arena_printf(c->a, "LMTP error after %s: %s", after, printable(c->a, xbuf_sv(&c->reply.text)));
	return c->reply.code / 100 == 4 ? LX_REPLY_4XX : LX_REPLY_5XX;
}

/* Send a command built by the caller into c->cmd and read its reply. */
static lx_rc lmtp_exchange(lmtp_conn *c, int expect, const char **text)
{
	bio_write(&c->io, c->cmd.p, c->cmd.len);
	bio_puts(&c->io, "\r\n");
	if (!bio_flush(&c->io)) {
		*text = arena_printf(c->a, "LMTP connection closed after %s", xbuf_cstr(&c->cmd));
		return LX_BROKEN;
	}
	return lmtp_read(c, expect, text);
}

/* The outcome an exchange gives the addresses it concerns: 5xx fails, the rest defers with
 * Exim's error number (errno_4xx for a 4xx reply at this stage). */
static void apply(lmtp_conn *c, address_item *ad, bool all, lx_rc rc, int errno_4xx, const char *text)
{
	addr_result r = rc == LX_REPLY_5XX ? ADDR_FAIL : ADDR_DEFER;
	int e = rc == LX_REPLY_4XX ? errno_4xx : rc == LX_MALFORMED ? SMTPC_ERRNO_SMTPFORMAT
		: rc == LX_BROKEN ? LMTP_ERRNO_GENERIC : 0;
	int code = rc == LX_REPLY_4XX || rc == LX_REPLY_5XX ? c->reply.code : 0;
	for (; ad; ad = all ? ad->next : NULL) {
		if (ad->result != ADDR_PENDING)
			continue;
		tp_set_result(c->a, ad, r, e, code, "%s", text);
		if (code)
			ad->smtp_response = sv_copy(c->a, xbuf_sv(&c->reply.text));
	}
}

static void set_cmd(lmtp_conn *c, const char *what)
{
	xbuf_reset(&c->cmd);
	xbuf_puts(&c->cmd, what);
}

/* ---- connecting ---- */

static bool open_socket(lmtp_conn *c, const char *path, const char **text)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1;
	int e = ENAMETOOLONG;
	if (strlen(path) < sizeof sa.sun_path) {
		memcpy(sa.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		e = errno;
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		*text = arena_printf(c->a, "Failed to connect to socket %s for %s transport: %s",
			path, c->t->name, strerror(e));
		return false;
	}
	c->fd_r = c->fd_w = fd;
	return true;
}

/* The command's words, split then expanded one by one (as the pipe transport does). */
static char **command_argv(lmtp_conn *c, xp_env *env, const char *command, const char **text,
	addr_result *r)
{
	sv words[PIPE_MAX_ARGS];
	int n;
	if (!pipe_split(c->a, sv_cstr(command), PIPE_MAX_ARGS, words, &n)) {
		*r = ADDR_FAIL;
		*text = arena_printf(c->a, "Too many arguments in command \"%s\" in %s transport", command, c->t->name);
		return NULL;
	}
	char **argv = arena_calloc(c->a, (size_t)n + 1, sizeof *argv);
	for (int i = 0; i < n; i++) {
		xbuf b, err;
		xbuf_init(&b, c->a);
		xbuf_init(&err, c->a);
		if (xp_expand(env, words[i], &b, &err) != XP_OK) {
			*r = ADDR_DEFER;
			*text = arena_printf(c->a, "Expansion of \"%s\" from command \"%s\" in %s transport failed: %s",
				sv_dup(c->a, words[i]), command, c->t->name, xbuf_cstr(&err));
			return NULL;
		}
		if (b.taint) {
			*r = ADDR_FAIL;
			*text = arena_printf(c->a, "Tainted arg %d for %s transport command: '%s'", i, c->t->name, xbuf_cstr(&b));
			return NULL;
		}
		argv[i] = arena_strndup(c->a, xbuf_cstr(&b), b.len);
	}
	if (n == 0) {
		*r = ADDR_DEFER;
		*text = arena_printf(c->a, "no command specified for %s transport", c->t->name);
		return NULL;
	}
	return argv;
}

/* Run the command with LMTP on its standard input and output. A command that cannot be run
 * exits at once, which shows as a closed connection at the greeting, as in Exim. */
static bool open_command(lmtp_conn *c, char **argv, const char **text)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) != 0) {
		*text = arena_printf(c->a, "Failed to create pipe for %s transport: %s", c->t->name, strerror(errno));
		return false;
	}
	if (pipe2(out, O_CLOEXEC) != 0) {
		*text = arena_printf(c->a, "Failed to create pipe for %s transport: %s", c->t->name, strerror(errno));
		close(in[0]);
		close(in[1]);
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (!tp_child_wire(in[0], out[1], -1, NULL))
			_exit(127);
		extern char **environ;
		execve(argv[0], argv, environ);
		_exit(127);
	}
	int e = errno;
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		*text = arena_printf(c->a, "Failed to create child process for %s transport: %s", c->t->name, strerror(e));
		return false;
	}
	c->pid = pid;
	c->fd_r = out[0];
	c->fd_w = in[1];
	return true;
}

static void lmtp_close(lmtp_conn *c)
{
	if (c->fd_r >= 0)
		close(c->fd_r);
	if (c->fd_w >= 0 && c->fd_w != c->fd_r)
		close(c->fd_w);
	c->fd_r = c->fd_w = -1;
	if (c->pid > 0) {
		/* It has had its QUIT (or lost its input): give it a moment, then make sure. */
		tp_child_reap(c->pid, NULL, 2000);
		c->pid = -1;
	}
}

/* ---- the message ---- */

static bool lmtp_write_data(lmtp_conn *c, tp_reader *rd, const char **text)
{
	if (!bio_flush(&c->io))
		goto broken;
	char buf[16384];
	c->data_bytes = 0;
	for (;;) {
		ssize_t n = tp_reader_read(rd, buf, sizeof buf);
		if (n < 0) {
			*text = arena_printf(c->a, "error reading message for %s transport: %s", c->t->name, strerror(errno));
			return false;
		}
		if (n == 0)
			break;
		bio_write(&c->io, buf, (size_t)n);
		if (c->io.write_failed)
			goto broken;
		c->data_bytes += n;
	}
	bio_puts(&c->io, ".\r\n");
	if (!bio_flush(&c->io))
		goto broken;
	c->data_bytes += 3;   /* Exim counts the final dot line among the bytes written */
	return true;
broken:
	*text = arena_printf(c->a, "LMTP error while writing message: %s", strerror(c->io.err ? c->io.err : EPIPE));
	return false;
}

/* Whether an EHLO/LHLO reply offers a keyword (a line "250-KEYWORD..." or "250 KEYWORD..."). */
static bool offers(sv reply, const char *keyword)
{
	size_t k = strlen(keyword);
	size_t i = 0;
	while (i < reply.len) {
		const char *nl = memchr(reply.p + i, '\n', reply.len - i);
		size_t end = nl ? (size_t)(nl - reply.p) : reply.len;
		if (end - i >= 4 + k && sv_eqi(sv_make(reply.p + i + 4, k), sv_cstr(keyword))
			&& (end - i == 4 + k || reply.p[i + 4 + k] == ' '))
			return true;
		i = end + 1;
	}
	return false;
}

/* The RCPT form of an address (Exim's transport_rcpt_address). */
static sv rcpt_address(arena *a, const driver_instance *t, const address_item *ad)
{
	if (ad->domain.len == 0)
		return ad->address;
	xbuf b;
	xbuf_init(&b, a);
	bool affixes = tp_opt_bool(t, "rcpt_include_affixes");
	if (affixes)
		xbuf_putsv(&b, ad->prefix);
	xbuf_putsv(&b, ad->local_part.p ? ad->local_part : ad->lc_local_part);
	if (affixes)
		xbuf_putsv(&b, ad->suffix);
	xbuf_putc(&b, '@');
	xbuf_putsv(&b, ad->domain);
	return xbuf_sv(&b);
}

static void lmtp_deliver(const driver_instance *t, tp_ctx *ctx, address_item *addrs)
{
	const struct lmtp_transport_options *o = t->priv;
	arena *a = ctx->a;
	for (address_item *ad = addrs; ad; ad = ad->next)
		ad->result = ADDR_PENDING;
	if (ctx->dont_deliver) {
		for (address_item *ad = addrs; ad; ad = ad->next)
			tp_set_result(a, ad, ADDR_OK, 0, 0, NULL);
		return;
	}
	lmtp_conn c = { .a = a, .t = t, .fd_r = -1, .fd_w = -1, .pid = -1, .data_bytes = -1,
		.timeout_ms = o->timeout > 0 ? o->timeout * 1000 : -1 };
	xbuf_init(&c.reply.text, a);
	xbuf_init(&c.cmd, a);
	const char *text = NULL;

	/* The message first: a writer problem defers without bothering the server. */
	tp_write_opts w = { .m = ctx->m, .data_fd = ctx->data_fd, .t = t, .addrs = addrs, .env = ctx->env,
		.flags = TPW_CRLF | TPW_DOT_STUFF };
	xbuf err;
	xbuf_init(&err, a);
	tp_reader *rd = tp_reader_open(a, &w, &err);
	if (!rd) {
		set_all(a, addrs, ADDR_DEFER, 0, 0, xbuf_cstr(&err));
		return;
	}

	void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
	bool connected;
	if (o->socket) {
		xbuf path;
		xbuf_init(&path, a);
		if (xp_expand(ctx->env, sv_cstr(o->socket), &path, &err) != XP_OK) {
			set_all(a, addrs, ADDR_DEFER, 0, 0, arena_printf(a,
				"Expansion of \"%s\" (socket setting for %s transport) failed: %s", o->socket, t->name, xbuf_cstr(&err)));
			goto out;
		}
		connected = open_socket(&c, xbuf_cstr(&path), &text);
	} else if (o->command) {
		addr_result r = ADDR_DEFER;
		char **argv = command_argv(&c, ctx->env, o->command, &text, &r);
		if (!argv) {
			set_all(a, addrs, r, 0, 0, text);
			goto out;
		}
		connected = open_command(&c, argv, &text);
	} else {
		text = arena_printf(a, "either socket or command must be set for %s transport", t->name);
		connected = false;
	}
	if (!connected) {
		set_all(a, addrs, ADDR_DEFER, LMTP_ERRNO_GENERIC, 0, text);
		goto out;
	}
	bio_init(&c.io, c.fd_r, c.fd_w);
	c.io.write_timeout_ms = c.timeout_ms;

	/* Greeting, LHLO, MAIL: a failure here is every address's. */
	set_cmd(&c, "initial connection");
	lx_rc rc = lmtp_read(&c, 2, &text);
	bool ignorequota = false;
	if (rc == LX_OK) {
		xbuf_reset(&c.cmd);
		xbuf_printf(&c.cmd, "LHLO %s", conf_main.primary_hostname ? conf_main.primary_hostname : "localhost");
		rc = lmtp_exchange(&c, 2, &text);
		if (rc == LX_OK && o->ignore_quota)
			ignorequota = offers(xbuf_sv(&c.reply.text), "IGNOREQUOTA");
	}
	if (rc != LX_OK) {
		apply(&c, addrs, true, rc, LMTP_ERRNO_GENERIC, text);
		goto quit;
	}
	xbuf_reset(&c.cmd);
	xbuf_printf(&c.cmd, "MAIL FROM:<%.*s>", (int)ctx->m->sender.len, ctx->m->sender.p);
	rc = lmtp_exchange(&c, 2, &text);
	if (rc != LX_OK) {
		apply(&c, addrs, true, rc, SMTPC_ERRNO_MAIL4XX, text);
		goto quit;
	}

	/* One RCPT per address; only those accepted get a reply after the data. */
	int accepted = 0;
	for (address_item *ad = addrs; ad; ad = ad->next) {
		sv ra = rcpt_address(a, t, ad);
		xbuf_reset(&c.cmd);
		xbuf_printf(&c.cmd, "RCPT TO:<%.*s>%s", (int)ra.len, ra.p, ignorequota ? " IGNOREQUOTA" : "");
		rc = lmtp_exchange(&c, 2, &text);
		if (rc == LX_OK) {
			accepted++;
		} else if (rc == LX_BROKEN || rc == LX_MALFORMED) {
			apply(&c, addrs, true, rc, 0, text);
			goto quit;
		} else {
			apply(&c, ad, false, rc, SMTPC_ERRNO_RCPT4XX, text);
		}
	}
	if (accepted == 0)
		goto quit;

	set_cmd(&c, "DATA");
	rc = lmtp_exchange(&c, 3, &text);
	if (rc != LX_OK) {
		/* Exim gives a refused DATA to every address, also those RCPT had refused. */
		for (address_item *ad = addrs; ad; ad = ad->next)
			ad->result = ADDR_PENDING;
		apply(&c, addrs, true, rc, SMTPC_ERRNO_DATA4XX, text);
		goto quit;
	}
	if (!lmtp_write_data(&c, rd, &text)) {
		apply(&c, addrs, true, LX_BROKEN, 0, text);
		goto quit;
	}
	set_cmd(&c, "end of data");
	for (address_item *ad = addrs; ad; ad = ad->next) {
		if (ad->result != ADDR_PENDING)
			continue;
		rc = lmtp_read(&c, 2, &text);
		if (rc == LX_OK) {
			tp_set_result(a, ad, ADDR_OK, 0, 0, NULL);
			ad->confirmation = sv_copy(a, sv_cstr(printable(a, xbuf_sv(&c.reply.text))));
		} else if (rc == LX_BROKEN || rc == LX_MALFORMED) {
			/* This and every later recipient: we cannot know what happened to them. */
			apply(&c, addrs, true, rc, 0, text);
			goto quit;
		} else {
			apply(&c, ad, false, rc, SMTPC_ERRNO_DATA4XX, text);
		}
	}
quit:
	if (c.fd_w >= 0 && !c.io.write_failed) {
		bio_puts(&c.io, "QUIT\r\n");
		if (bio_flush(&c.io)) {
			xbuf_reset(&c.cmd);
			xbuf_puts(&c.cmd, "QUIT");
			int saved = c.timeout_ms;
			c.timeout_ms = saved < 0 || saved > 5000 ? 5000 : saved;  /* the answer matters little */
			smtpc_read_reply(&c.io, &c.reply, c.timeout_ms);
		}
	}
	lmtp_close(&c);
out:
	tp_reader_close(rd);
	signal(SIGPIPE, old_pipe);
	for (address_item *ad = addrs; ad; ad = ad->next) {
		if (ad->result == ADDR_PENDING)
			tp_set_result(a, ad, ADDR_DEFER, LMTP_ERRNO_GENERIC, 0, "%s", "LMTP delivery did not complete");
		ad->delivered_to_file = true;
	}
}

static int lmtp_batch_max(const driver_instance *t, xp_env *env)
{
	(void)env;
	const struct lmtp_transport_options *o = t->priv;
	return o->batch_max > 0 ? o->batch_max : 1;
}

static const char *lmtp_batch_id(const driver_instance *t, xp_env *env)
{
	return tp_expand_batch_id(env, ((const struct lmtp_transport_options *)t->priv)->batch_id);
}

const transport_ops lmtp_transport_ops = {
	.remote = false,
	.deliver = lmtp_deliver,
	.batch_max = lmtp_batch_max,
	.batch_id = lmtp_batch_id,
};
