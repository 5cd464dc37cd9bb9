/* The SMTP client engine, connection side: TCP connect with a deadline, the greeting, EHLO with
 * Exim's fallback to HELO (LHLO for LMTP), the extensions offered, the STARTTLS hook, client
 * authentication, and QUIT. Error texts are Exim 4.96's (observed with Exim as a client against
 * a scripted server; tests/scenario/test_smtpclient_exim.py compares them). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf_dump.h"
#include "core/auth.h"
#include "lib/printing.h"
#include "smtp/client_int.h"
#include "smtp/tfo.h"

static int ms(int seconds)
{
	return seconds > 0 ? seconds * 1000 : -1;
}

/* Run an event; true when its result is non-empty (in result). */
static bool event(smtpc_conn *c, const char *name, sv data, xbuf *result)
{
	xbuf_init(result, c->a);
	if (c->opt->event == NULL)
		return false;
	c->opt->event(c->opt->event_ctx, name, data, result);
	return result->len > 0;
}

/* The smtp:connect event, with the greeting as its data: a non-empty expansion defers the
 * host (QUIT sent). True when it did. */
static bool connect_event_defers(smtpc_conn *c)
{
	xbuf ev;
	if (!event(c, "smtp:connect", xbuf_sv(&c->greeting.text), &ev))
		return false;
	xbuf m;
	xbuf_init(&m, c->a);
	xbuf_printf(&m, "deferred by smtp:connect event expansion: " SV_FMT, SV_ARG(xbuf_sv(&ev)));
	smtpc_write_cmd(c, SV_LIT("QUIT"), true);
	smtpc_host_fail(c, SMTPC_DEFER, SMTPC_ERRNO_EXPANDFAIL, 0, xbuf_sv(&m));
	return true;
}

static void conn_close(smtpc_conn *c)
{
	if (c->fd < 0)
		return;
	if (c->tls_active && c->opt->tls_close)
		c->opt->tls_close(c->opt->tls_ctx, true);
	close(c->fd);
	c->fd = -1;
	xbuf ignored;
	event(c, "tcp:close", SV_LIT(""), &ignored);
}

void smtpc_host_fail(smtpc_conn *c, smtpc_status st, int err, int code, sv text)
{
	c->status = st;
	c->basic_errno = err;
	c->code = code;
	xbuf_reset(&c->message);
	xbuf_putsv(&c->message, text);
	c->usable = false;
	conn_close(c);
}

void smtpc_error_text(smtpc_conn *c, sv after, xbuf *out)
{
	/* Exim escapes the whole text: a UTF-8 address in the command shows as \303\251. */
	xbuf_puts(out, "SMTP error from remote mail server after ");
	printing_escape(after, PRINT_TAB_LITERAL, out);
	xbuf_puts(out, ": ");
	printing_escape(xbuf_sv(&c->reply.text), PRINT_TAB_LITERAL, out);
}

bool smtpc_flush(smtpc_conn *c, sv after)
{
	if (bio_flush(&c->io))
		return true;
	xbuf t;
	xbuf_init(&t, c->a);
	int e = c->io.err;
	if (e == ETIMEDOUT)
		xbuf_printf(&t, "SMTP timeout after " SV_FMT, SV_ARG(after));
	else
		xbuf_printf(&t, "send() to " SV_FMT " [" SV_FMT "] failed: %s", SV_ARG(c->host.name),
			SV_ARG(c->host.address), strerror(e));
	smtpc_host_fail(c, SMTPC_DEFER, e, 0, xbuf_sv(&t));
	return false;
}

bool smtpc_write_cmd(smtpc_conn *c, sv line, bool flush)
{
	if (c->fd < 0)
		return false;
	bio_write(&c->io, line.p, line.len);
	bio_write(&c->io, "\r\n", 2);
	return flush ? smtpc_flush(c, line) : !c->io.write_failed || smtpc_flush(c, line);
}

bool smtpc_get_reply(smtpc_conn *c, sv after, bool final)
{
	if (c->fd < 0)
		return false;
	int t = final ? c->opt->final_timeout : c->opt->command_timeout;
	smtpc_read_rc rc = smtpc_read_reply(&c->io, &c->reply, ms(t));
	if (rc == SMTPC_READ_OK)
		return true;
	/* A reset is a close that raced with our last write: Exim reports both the same way. */
	if (rc == SMTPC_READ_ERROR && c->io.err == ECONNRESET)
		rc = SMTPC_READ_CLOSED;
	xbuf m;
	xbuf_init(&m, c->a);
	int err = 0;
	switch (rc) {
	case SMTPC_READ_TIMEOUT:
		err = ETIMEDOUT;
		xbuf_printf(&m, "SMTP timeout after " SV_FMT, SV_ARG(after));
		if (final)
			xbuf_printf(&m, " (%lld bytes written)", c->data_written);
		break;
	case SMTPC_READ_CLOSED:
		err = SMTPC_ERRNO_SMTPCLOSED;
		xbuf_printf(&m, "Remote host closed connection in response to " SV_FMT, SV_ARG(after));
		break;
	case SMTPC_READ_MALFORMED:
		err = SMTPC_ERRNO_SMTPFORMAT;
		if (c->reply.text.len == 0)
			xbuf_printf(&m, "Malformed SMTP reply (an empty line) in response to " SV_FMT, SV_ARG(after));
		else {
			xbuf_printf(&m, "Malformed SMTP reply in response to " SV_FMT ": ", SV_ARG(after));
			printing_escape(xbuf_sv(&c->reply.text), PRINT_TAB_LITERAL, &m);
		}
		break;
	default:
		err = c->io.err;
		xbuf_printf(&m, "%s in response to " SV_FMT, strerror(err), SV_ARG(after));
		break;
	}
	smtpc_host_fail(c, SMTPC_DEFER, err, 0, xbuf_sv(&m));
	return false;
}

/* A reply that is not the one wanted: an error for the host (greeting, HELO, AUTH). 5xx fails
 * the recipients, anything else defers them, as Exim does at connection time. */
static void reply_fail(smtpc_conn *c, sv after)
{
	xbuf m;
	xbuf_init(&m, c->a);
	smtpc_error_text(c, after, &m);
	int code = c->reply.code;
	/* Exim says goodbye politely after an error reply. */
	smtpc_write_cmd(c, SV_LIT("QUIT"), true);
	smtpc_host_fail(c, code / 100 == 5 ? SMTPC_FAIL : SMTPC_DEFER, 0, code, xbuf_sv(&m));
}

static bool tcp_connect(smtpc_conn *c)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char host[64], port[16];
	snprintf(host, sizeof host, SV_FMT, SV_ARG(c->host.address));
	snprintf(port, sizeof port, "%d", c->host.port);
	int e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0) {
		xbuf m;
		xbuf_init(&m, c->a);
		xbuf_printf(&m, "bad host address " SV_FMT ": %s", SV_ARG(c->host.address), gai_strerror(e));
		smtpc_host_fail(c, SMTPC_DEFER, EINVAL, 0, xbuf_sv(&m));
		return false;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	if (c->opt->interface.len) {
		struct addrinfo *li = NULL;
		char iface[64];
		snprintf(iface, sizeof iface, SV_FMT, SV_ARG(c->opt->interface));
		hints.ai_family = ai->ai_family;
		if (getaddrinfo(iface, "0", &hints, &li) != 0) {
			errno = EADDRNOTAVAIL;
			goto fail;
		}
		int b = bind(fd, li->ai_addr, li->ai_addrlen);
		freeaddrinfo(li);
		if (b < 0)
			goto fail;
	}
	/* hosts_try_fastopen: the SYN carries our Fast Open cookie for the server (src/smtp/tfo.c). */
	tfo_out_attempt tfo = TFO_OUT_NONE;
	int cr = c->opt->try_fastopen ? tfo_out_connect(fd, ai->ai_addr, ai->ai_addrlen, &tfo)
		: connect(fd, ai->ai_addr, ai->ai_addrlen);
	int cerr = errno;
	c->tcp_fastopen = cr == 0 || cerr == EINPROGRESS ? tfo_out_check(fd, tfo) : TFO_NOT_USED;
	errno = cerr;
	if (cr < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int pr;
		do
			pr = poll(&p, 1, ms(c->opt->connect_timeout));
		while (pr < 0 && errno == EINTR);
		if (pr == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	freeaddrinfo(ai);
	c->fd = fd;
	bio_init(&c->io, fd, fd);
	c->io.write_timeout_ms = ms(c->opt->command_timeout) < 0 ? 0x7fffffff : ms(c->opt->command_timeout);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		char a[NI_MAXHOST], p[NI_MAXSERV];
		if (getnameinfo((struct sockaddr *)&ss, sl, a, sizeof a, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
			c->local_address = sv_copy(c->a, sv_cstr(a));
			c->local_port = atoi(p);
		}
	}
	return true;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	smtpc_host_fail(c, SMTPC_DEFER, e, 0, sv_cstr(strerror(e)));
	return false;
}

/* The first word of an EHLO line after "250-"/"250 " names an extension. */
static void parse_ehlo(smtpc_conn *c)
{
	static const struct { const char *kw; unsigned bit; } ext[] = {
		{ "PIPELINING", SMTPC_OFFER_PIPELINING }, { "SIZE", SMTPC_OFFER_SIZE },
		{ "8BITMIME", SMTPC_OFFER_8BITMIME }, { "DSN", SMTPC_OFFER_DSN },
		{ "CHUNKING", SMTPC_OFFER_CHUNKING }, { "SMTPUTF8", SMTPC_OFFER_SMTPUTF8 },
		{ "STARTTLS", SMTPC_OFFER_STARTTLS }, { "AUTH", SMTPC_OFFER_AUTH }, { "PRDR", SMTPC_OFFER_PRDR },
		{ "PIPECONNECT", SMTPC_OFFER_PIPECONNECT },
	};
	c->offered = 0;
	c->auth_mechs = SV_LIT("");
	sv t = xbuf_sv(&c->helo_response.text);
	size_t pos = 0;
	bool first = true;
	while (pos < t.len) {
		const char *nl = memchr(t.p + pos, '\n', t.len - pos);
		size_t end = nl ? (size_t)(nl - t.p) : t.len;
		sv line = sv_make(t.p + pos, end - pos);
		pos = end + 1;
		if (first) {  /* the greeting line of the reply names the server, not an extension */
			first = false;
			continue;
		}
		if (line.len < 5)
			continue;
		sv rest = sv_make(line.p + 4, line.len - 4);
		size_t k = 0;
		while (k < rest.len && rest.p[k] != ' ' && rest.p[k] != '=')
			k++;
		sv kw = sv_make(rest.p, k);
		for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
			if (sv_eqi(kw, sv_cstr(ext[i].kw))) {
				c->offered |= ext[i].bit;
				if (ext[i].bit == SMTPC_OFFER_AUTH && k < rest.len && rest.p[k] == ' ')
					c->auth_mechs = sv_tainted(sv_copy(c->a, sv_make(rest.p + k + 1, rest.len - k - 1)));
			}
	}
	if (c->opt->avoid_pipelining)
		c->offered &= ~SMTPC_OFFER_PIPELINING;
	if (!c->opt->try_chunking)
		c->offered &= ~SMTPC_OFFER_CHUNKING;
}

/* EHLO (LHLO), falling back to HELO when EHLO gets any error reply. */
static bool say_hello(smtpc_conn *c)
{
	xbuf cmd;
	xbuf_init(&cmd, c->a);
	c->esmtp = false;
	if (!c->opt->avoid_esmtp || c->opt->lmtp) {
		xbuf_printf(&cmd, "%s " SV_FMT, c->opt->lmtp ? "LHLO" : "EHLO", SV_ARG(c->opt->helo_name));
		if (!smtpc_write_cmd(c, xbuf_sv(&cmd), true) || !smtpc_get_reply(c, xbuf_sv(&cmd), false))
			return false;
		if (c->reply.code / 100 == 2) {
			c->esmtp = true;
			xbuf_reset(&c->helo_response.text);
			xbuf_putsv(&c->helo_response.text, xbuf_sv(&c->reply.text));
			c->helo_response.code = c->reply.code;
			parse_ehlo(c);
			if (c->opt->pipe_connect && c->opt->ehlo_cache_put && !c->opt->lmtp)
				c->opt->ehlo_cache_put(c->opt->ehlo_cache_ctx, c->offered, c->auth_mechs, c->tls_active);
			xbuf ignored;
			event(c, "smtp:ehlo", xbuf_sv(&c->helo_response.text), &ignored);
			return true;
		}
		if (c->opt->lmtp) {
			reply_fail(c, xbuf_sv(&cmd));
			return false;
		}
	}
	xbuf_reset(&cmd);
	xbuf_printf(&cmd, "HELO " SV_FMT, SV_ARG(c->opt->helo_name));
	if (!smtpc_write_cmd(c, xbuf_sv(&cmd), true) || !smtpc_get_reply(c, xbuf_sv(&cmd), false))
		return false;
	xbuf_reset(&c->helo_response.text);
	xbuf_putsv(&c->helo_response.text, xbuf_sv(&c->reply.text));
	c->helo_response.code = c->reply.code;
	c->offered = 0;
	if (c->reply.code / 100 != 2) {
		reply_fail(c, xbuf_sv(&cmd));
		return false;
	}
	return true;
}

/* TLS is required but could not be had: QUIT, and the host fails (observed with Exim 4.96). */
static void tls_required_fail(smtpc_conn *c, const char *why)
{
	xbuf m;
	xbuf_init(&m, c->a);
	xbuf_printf(&m, "a TLS session is required, but %s", why);
	smtpc_write_cmd(c, SV_LIT("QUIT"), true);
	smtpc_host_fail(c, SMTPC_DEFER, SMTPC_ERRNO_TLSREQUIRED, 0, xbuf_sv(&m));
}

static bool run_tls_hook(smtpc_conn *c)
{
	xbuf err;
	xbuf_init(&err, c->a);
	if (!c->opt->tls_start(c->opt->tls_ctx, c, &err)) {
		smtpc_host_fail(c, SMTPC_DEFER, SMTPC_ERRNO_TLSFAILURE, 0, xbuf_sv(&err));
		return false;
	}
	c->tls_active = true;
	return true;
}

static bool start_tls(smtpc_conn *c)
{
	if (!smtpc_write_cmd(c, SV_LIT("STARTTLS"), true) || !smtpc_get_reply(c, SV_LIT("STARTTLS"), false))
		return false;
	if (c->reply.code / 100 != 2) {
		/* Exim goes on in clear, without a new EHLO, unless TLS is required. */
		if (c->opt->require_tls) {
			tls_required_fail(c, "an attempt to start TLS failed");
			return false;
		}
		return true;
	}
	if (!run_tls_hook(c))
		return false;
	return say_hello(c);  /* the extensions offered before TLS no longer count */
}

/* ---- client authentication ---- */

typedef struct auth_link {
	smtpc_conn *c;
	sv mech;
	bool lost;
	bool first;    /* the next line is the AUTH command */
	xbuf last;     /* the last line sent, masked, for error messages */
} auth_link;

static int auth_command(void *ctx, sv line, xbuf *reply_text)
{
	auth_link *l = ctx;
	smtpc_conn *c = l->c;
	/* Messages name the command with its secrets masked, as Exim 4.96 (observed): "AUTH
	 * PLAIN ****************" (a star per character of the initial response), a response
	 * line all stars. */
	xbuf after;
	xbuf_init(&after, c->a);
	size_t keep = 0;
	if (l->first) {
		xbuf_printf(&after, "AUTH " SV_FMT, SV_ARG(l->mech));
		keep = after.len < line.len ? after.len + 1 : line.len;
		if (keep > after.len)
			xbuf_putc(&after, ' ');
	}
	for (size_t i = keep; i < line.len; i++)
		xbuf_putc(&after, '*');
	l->first = false;
	xbuf_reset(&l->last);
	xbuf_putsv(&l->last, xbuf_sv(&after));
	bio_write(&c->io, line.p, line.len);
	bio_write(&c->io, "\r\n", 2);
	if (!smtpc_flush(c, xbuf_sv(&after))) {
		l->lost = true;
		xbuf_putsv(reply_text, xbuf_sv(&c->message));
		return 0;
	}
	/* PIPECONNECT: the AUTH command went with the early EHLO (as Exim 4.96 sends it); the
	 * banner and the EHLO reply come first. Observed: a refusing banner is named after the
	 * AUTH command. */
	if (c->early && !smtpc_early_finish(c, xbuf_sv(&after))) {
		l->lost = true;
		xbuf_putsv(reply_text, xbuf_sv(&c->message));
		return 0;
	}
	if (!smtpc_get_reply(c, xbuf_sv(&after), false)) {
		l->lost = true;
		xbuf_putsv(reply_text, xbuf_sv(&c->message));
		return 0;
	}
	xbuf_putsv(reply_text, xbuf_sv(&c->reply.text));
	return c->reply.code;
}

static bool mech_offered(sv mechs, sv name)
{
	size_t i = 0;
	while (i < mechs.len) {
		while (i < mechs.len && mechs.p[i] == ' ')
			i++;
		size_t j = i;
		while (j < mechs.len && mechs.p[j] != ' ')
			j++;
		if (j > i && sv_eqi(sv_make(mechs.p + i, j - i), name))
			return true;
		i = j;
	}
	return false;
}

static bool authenticate(smtpc_conn *c)
{
	const char *fail_reason = "server did not advertise AUTH support";
	if (c->offered & SMTPC_OFFER_AUTH) {
		fail_reason = "no common mechanisms were found";
		for (const driver_instance *d = conf_driver_instances("authenticators"); d; d = d->next) {
			const auth_ops *o = d->info ? d->info->ops : NULL;
			if (o == NULL || o->client == NULL || (o->client_usable && !o->client_usable(d)))
				continue;
			sv mech = sv_cstr(auth_public_name(d));
			if (!mech_offered(c->auth_mechs, mech))
				continue;
			const char *cond = auth_generic_option(d, "client_condition");
			if (cond && c->opt->env) {
				bool yes = false;
				xbuf err;
				xbuf_init(&err, c->a);
				if (xp_expand_bool(c->opt->env, sv_cstr(cond), &yes, &err) != XP_OK || !yes)
					continue;
			}
			auth_link link = { c, mech, false, true, { 0 } };
			xbuf_init(&link.last, c->a);
			auth_client_io io = { auth_command, &link };
			auth_client_ctx ac;
			auth_client_ctx_init(&ac, c->a, c->opt->env, &io);
			auth_rc rc = o->client(d, &ac);
			if (rc == AUTH_OK) {
				c->authenticator = d->name;
				return true;
			}
			if (link.lost || rc == AUTH_EOF)
				return false;  /* the host failure is recorded */
			if (rc == AUTH_DEFER) {
				xbuf m;
				xbuf_init(&m, c->a);
				/* A 4xx from the server is an ordinary SMTP error (errno 0, as Exim). */
				int err = ac.err.len ? SMTPC_ERRNO_AUTHFAIL : 0;
				if (ac.err.len)
					xbuf_putsv(&m, xbuf_sv(&ac.err));
				else
					smtpc_error_text(c, xbuf_sv(&link.last), &m);
				smtpc_write_cmd(c, SV_LIT("QUIT"), true);
				smtpc_host_fail(c, SMTPC_DEFER, err, ac.code, xbuf_sv(&m));
				return false;
			}
			if (rc == AUTH_FAIL) {
				fail_reason = "authentication attempt(s) failed";
				if (c->opt->auth_failed && ac.code / 100 == 5)
					c->opt->auth_failed(c->opt->auth_failed_ctx, d->name, xbuf_sv(&ac.reply));
			}
			/* AUTH_FAIL or a forced expansion failure: try the next one. */
		}
	}
	if (!c->opt->require_auth)
		return true;
	xbuf m;
	xbuf_init(&m, c->a);
	xbuf_printf(&m, "authentication required but %s", fail_reason);
	smtpc_write_cmd(c, SV_LIT("QUIT"), true);
	smtpc_host_fail(c, SMTPC_DEFER, SMTPC_ERRNO_AUTHFAIL, 0, xbuf_sv(&m));
	return false;
}

static smtpc_conn *conn_new(arena *a, const smtpc_options *opt, const smtpc_host *host)
{
	smtpc_conn *c = arena_alloc(a, sizeof *c);
	memset(c, 0, sizeof *c);
	c->a = a;
	c->opt = opt;
	c->host = *host;
	c->fd = -1;
	xbuf_init(&c->greeting.text, a);
	xbuf_init(&c->helo_response.text, a);
	xbuf_init(&c->reply.text, a);
	xbuf_init(&c->message, a);
	c->status = SMTPC_OK;
	return c;
}

/* PIPECONNECT: with a cached EHLO response that allows it, EHLO goes at once (with the first
 * transaction's commands, which smtpc_send adds before flushing). */
static bool start_early(smtpc_conn *c)
{
	const smtpc_options *opt = c->opt;
	unsigned offered;
	if (!opt->pipe_connect || !opt->ehlo_cache_get || opt->lmtp || opt->avoid_esmtp || opt->tls_on_connect
		|| opt->require_tls || c->tls_active)
		return false;
	xbuf mechs;
	xbuf_init(&mechs, c->a);
	unsigned tls_offered = 0;
	if (!opt->ehlo_cache_get(opt->ehlo_cache_ctx, &offered, &tls_offered, &mechs))
		return false;
	unsigned need = SMTPC_OFFER_PIPECONNECT | SMTPC_OFFER_PIPELINING;
	if ((offered & need) != need)
		return false;
	xbuf cmd;
	xbuf_init(&cmd, c->a);
	xbuf_printf(&cmd, "EHLO " SV_FMT, SV_ARG(opt->helo_name));
	if (!smtpc_write_cmd(c, xbuf_sv(&cmd), false))
		return false;
	/* Observed with Exim 4.96: STARTTLS goes with the early EHLO (finish_early_tls). */
	c->early_tls = (offered & SMTPC_OFFER_STARTTLS) && opt->tls_start;
	if (c->early_tls && !smtpc_write_cmd(c, SV_LIT("STARTTLS"), true))
		return false;
	c->early_tls_offered = tls_offered;
	c->early_tls_mechs = sv_tainted(xbuf_sv(&mechs));
	c->early = true;
	c->pipe_connect_used = true;
	c->esmtp = true;
	c->offered = offered;
	c->auth_mechs = sv_tainted(xbuf_sv(&mechs));
	if (!opt->try_chunking)
		c->offered &= ~SMTPC_OFFER_CHUNKING;
	c->usable = true;
	return true;
}

bool smtpc_early_finish(smtpc_conn *c, sv after)
{
	const smtpc_options *opt = c->opt;
	c->early = false;
	bool no_banner = c->early_no_banner;
	c->early_no_banner = false;
	unsigned cached = c->offered;
	sv cached_mechs = c->auth_mechs;
	if (no_banner)
		goto ehlo_reply;
	if (!smtpc_get_reply(c, after, false))
		return false;
	xbuf_putsv(&c->greeting.text, xbuf_sv(&c->reply.text));
	c->greeting.code = c->reply.code;
	/* Observed with Exim 4.96: a refusing banner is reported after the last pipelined
	 * command ("SMTP error ... after pipelined DATA: 421 busy"), errno 0, and the cached
	 * response goes. */
	if (c->reply.code / 100 != 2) {
		if (opt->ehlo_cache_put)
			opt->ehlo_cache_put(opt->ehlo_cache_ctx, 0, SV_NULL, false);
		reply_fail(c, after);
		return false;
	}
	if (connect_event_defers(c))
		return false;
ehlo_reply:
	if (!smtpc_get_reply(c, after, false))
		return false;
	if (c->reply.code / 100 != 2) {
		if (opt->ehlo_cache_put && !no_banner)
			opt->ehlo_cache_put(opt->ehlo_cache_ctx, 0, SV_NULL, false);
		reply_fail(c, after);
		return false;
	}
	xbuf_reset(&c->helo_response.text);
	xbuf_putsv(&c->helo_response.text, xbuf_sv(&c->reply.text));
	c->helo_response.code = c->reply.code;
	parse_ehlo(c);
	/* Observed: a different response replaces the cached one (a server no longer offering
	 * PIPECONNECT loses its record); the commands already sent stand. */
	/* A changed clear record loses its part after STARTTLS, which is then written again. */
	if ((c->offered != cached || !sv_eq(c->auth_mechs, cached_mechs) || (no_banner && c->ehlo_put_clear))
		&& opt->ehlo_cache_put) {
		opt->ehlo_cache_put(opt->ehlo_cache_ctx, c->offered, c->auth_mechs, no_banner);
		c->ehlo_put_clear = !no_banner;
	}
	xbuf ignored;
	event(c, "smtp:ehlo", xbuf_sv(&c->helo_response.text), &ignored);
	return true;
}

/* PIPECONNECT with STARTTLS, as Exim 4.96 (observed): EHLO and STARTTLS went before the
 * banner; then the banner, the EHLO reply, STARTTLS's reply and the handshake. The EHLO after
 * it goes without waiting, with the first transaction, when what the host offered under TLS
 * last time allows (PIPELINING) and no authentication follows; otherwise the conversation goes
 * on as usual. */
static smtpc_conn *finish_early_tls(smtpc_conn *c)
{
	const smtpc_options *opt = c->opt;
	c->early_tls = false;
	if (!smtpc_early_finish(c, SV_LIT("STARTTLS")) || !smtpc_get_reply(c, SV_LIT("STARTTLS"), false))
		return c;
	c->usable = false;
	if (c->reply.code / 100 != 2) {
		/* as start_tls: on in clear, unless TLS is required */
		if (opt->require_tls) {
			tls_required_fail(c, "an attempt to start TLS failed");
			return c;
		}
	} else {
		if (!run_tls_hook(c))
			return c;
		unsigned t = c->early_tls_offered;
		if ((t & SMTPC_OFFER_PIPELINING) && !opt->avoid_pipelining) {
			xbuf cmd;
			xbuf_init(&cmd, c->a);
			xbuf_printf(&cmd, "EHLO " SV_FMT, SV_ARG(opt->helo_name));
			if (!smtpc_write_cmd(c, xbuf_sv(&cmd), false))
				return c;
			c->early = c->early_no_banner = true;
			c->offered = opt->try_chunking ? t : t & ~SMTPC_OFFER_CHUNKING;
			/* Observed: the first AUTH command goes with that EHLO too (mechanisms as
			 * offered under TLS last time). */
			c->auth_mechs = c->early_tls_mechs;
			if ((opt->try_auth || opt->require_auth) && !authenticate(c))
				return c;
			c->usable = true;
			return c;
		}
		if (!say_hello(c))
			return c;
	}
	if ((opt->try_auth || opt->require_auth) && !authenticate(c))
		return c;
	c->usable = true;
	return c;
}

/* From the greeting on. */
static smtpc_conn *start_session(smtpc_conn *c)
{
	const smtpc_options *opt = c->opt;
	if (start_early(c)) {
		if (c->early_tls)
			return finish_early_tls(c);
		/* Observed with Exim 4.96: a client that authenticates sends the first AUTH command
		 * with the early EHLO (mechanisms from the cached response) and the rest of the
		 * exchange, then MAIL, after the replies; with no common mechanism MAIL goes early. */
		if ((opt->try_auth || opt->require_auth) && !authenticate(c)) {
			c->usable = false;
			return c;
		}
		return c;
	}
	if (!smtpc_get_reply(c, SV_LIT("initial connection"), false))
		return c;
	xbuf_putsv(&c->greeting.text, xbuf_sv(&c->reply.text));
	c->greeting.code = c->reply.code;
	if (c->reply.code / 100 != 2) {
		reply_fail(c, SV_LIT("initial connection"));
		return c;
	}
	if (connect_event_defers(c))
		return c;
	if (!say_hello(c))
		return c;
	if (!c->tls_active && (c->offered & SMTPC_OFFER_STARTTLS) && opt->tls_start && !start_tls(c))
		return c;
	if (!c->tls_active && opt->require_tls) {
		tls_required_fail(c, "the server did not offer TLS support");
		return c;
	}
	if ((opt->try_auth || opt->require_auth) && !authenticate(c))
		return c;
	c->usable = true;
	return c;
}

smtpc_conn *smtpc_connect(arena *a, const smtpc_options *opt, const smtpc_host *host)
{
	smtpc_conn *c = conn_new(a, opt, host);
	if (opt->refuse_text.len) {
		smtpc_host_fail(c, opt->refuse_status, opt->refuse_errno, 0, opt->refuse_text);
		return c;
	}
	xbuf ev;
	if (event(c, "tcp:connect", SV_LIT(""), &ev)) {
		smtpc_host_fail(c, SMTPC_DEFER, SMTPC_ERRNO_EVENT, 0, SV_LIT("Event requests alternate response"));
		return c;
	}
	if (!tcp_connect(c))
		return c;
	if (opt->tls_on_connect && opt->tls_start && !run_tls_hook(c))
		return c;
	return start_session(c);
}

smtpc_conn *smtpc_connect_fd(arena *a, const smtpc_options *opt, const smtpc_host *host, int fd)
{
	smtpc_conn *c = conn_new(a, opt, host);
	c->fd = fd;
	bio_init(&c->io, fd, fd);
	if (opt->layer)
		bio_set_layer(&c->io, opt->layer);
	c->io.write_timeout_ms = ms(opt->command_timeout) < 0 ? 0x7fffffff : ms(opt->command_timeout);
	return start_session(c);
}

smtpc_conn *smtpc_adopt_fd(arena *a, const smtpc_options *opt, const smtpc_host *host, int fd,
	unsigned offered, const char *authenticator)
{
	smtpc_conn *c = conn_new(a, opt, host);
	c->fd = fd;
	bio_init(&c->io, fd, fd);
	c->io.write_timeout_ms = ms(opt->command_timeout) < 0 ? 0x7fffffff : ms(opt->command_timeout);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		char la[NI_MAXHOST], lp[NI_MAXSERV];
		if (getnameinfo((struct sockaddr *)&ss, sl, la, sizeof la, lp, sizeof lp, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
			c->local_address = sv_copy(a, sv_cstr(la));
			c->local_port = atoi(lp);
		}
	}
	c->esmtp = true;
	c->offered = offered;
	c->authenticator = authenticator;
	c->usable = true;
	return c;
}

void smtpc_release(smtpc_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->usable = false;
}

void smtpc_close(smtpc_conn *c)
{
	if (c->fd < 0)
		return;
	if (c->quit_sent) {
		/* QUIT went with the data: its 221 is the reply left to read. */
		if (c->tls_active && c->opt->tls_close)
			c->opt->tls_close(c->opt->tls_ctx, false);
		shutdown(c->fd, SHUT_WR);
		smtpc_read_reply(&c->io, &c->reply, c->opt->command_timeout > 0 && c->opt->command_timeout < 5
			? c->opt->command_timeout * 1000 : 5000);
	} else if (c->usable) {
		/* Wait briefly for the 221 so the server sees an orderly end, not a reset. */
		if (smtpc_write_cmd(c, SV_LIT("QUIT"), true)) {
			if (c->tls_active && c->opt->tls_close)
				c->opt->tls_close(c->opt->tls_ctx, false);
			shutdown(c->fd, SHUT_WR);
			smtpc_read_reply(&c->io, &c->reply, c->opt->command_timeout > 0 && c->opt->command_timeout < 5
				? c->opt->command_timeout * 1000 : 5000);
		}
	}
	conn_close(c);
	c->usable = false;
}
