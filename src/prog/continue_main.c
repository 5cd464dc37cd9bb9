/* -MC: deliver one message over the SMTP connection on standard input (prog/cmdline_continue.h,
 * core/deliver_continue.h). Exim's argument list is accepted as it is, so a connection can be
 * passed by either program. Only root and the Exim user may do this, as in Exim. */
#include "prog/cmdline_continue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/deliver.h"
#include "core/deliver_continue.h"
#include "core/queue.h"
#include "core/spool.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "prog/cmdline.h"
#include "prog/log_setup.h"

static bool bad(char *err, size_t errlen, const char *opt)
{
	snprintf(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", opt);
	return false;
}

bool cmdline_continue_option(cmdline *cl, int argc, char **argv, int *i, char *err, size_t errlen)
{
	const char *a = argv[*i];
	if (!cl->cont) {
		cl->cont = arena_calloc(pool_perm, 1, sizeof *cl->cont);
		cl->cont->queue_fd = -1;
	}
	cmd_continue *c = cl->cont;
	int left = argc - *i - 1;
	const char *o = a + 3;
	if (strcmp(o, "") == 0) {
		/* The last option, as Exim requires. */
		if (left != 5)
			return bad(err, errlen, a);
		c->transport = argv[*i + 1];
		c->host_name = argv[*i + 2];
		c->host_address = argv[*i + 3];
		char *end;
		long seq = strtol(argv[*i + 4], &end, 10);
		if (*end || seq < 1 || seq > 1000000)
			return bad(err, errlen, a);
		c->sequence = (int)seq;
		c->id = argv[*i + 5];
		if (!spool_valid_id(sv_cstr(c->id)))
			return bad(err, errlen, a);
		*i += 5;
		cl->mode = MODE_CONTINUE;
		return true;
	}
	if (strcmp(o, "A") == 0) c->authenticated = true;
	else if (strcmp(o, "D") == 0) c->dsn = true;
	else if (strcmp(o, "K") == 0) c->chunking = true;
	else if (strcmp(o, "P") == 0) c->pipelining = true;
	else if (strcmp(o, "S") == 0) c->size = true;
	else if (strcmp(o, "T") == 0) c->tls = true;
	else if (strcmp(o, "d") == 0 || strcmp(o, "G") == 0 || strcmp(o, "r") == 0 || strcmp(o, "s") == 0) {
		if (left < 1)
			return bad(err, errlen, a);
		const char *v = argv[++*i];
		if (o[0] == 'G')
			c->queue_name = v;
		else if (o[0] != 'd')
			c->sni = v;
	} else if (strcmp(o, "Q") == 0) {
		if (left < 2)
			return bad(err, errlen, a);
		char *e1, *e2;
		c->queue_pid = strtol(argv[*i + 1], &e1, 10);
		long fd = strtol(argv[*i + 2], &e2, 10);
		if (*e1 || *e2 || fd < 0 || fd > 65535)
			return bad(err, errlen, a);
		c->queue_fd = (int)fd;
		*i += 2;
	} else if (strcmp(o, "t") == 0 || strcmp(o, "L") == 0) {
		/* -MCt <ip> <port> <cipher>; -MCL <mails> <rcpts> <domains> (LIMITS, not offered by
		 * Postern's client: taken and ignored). */
		if (left < 3)
			return bad(err, errlen, a);
		if (o[0] == 't') {
			c->proxy_address = argv[*i + 1];
			char *end;
			long port = strtol(argv[*i + 2], &end, 10);
			if (*end || port < 0 || port > 65535)
				return bad(err, errlen, a);
			c->proxy_port = (int)port;
			c->proxy_cipher = argv[*i + 3];
		}
		*i += 3;
	} else if (strcmp(o, "p") == 0) {
		if (left < 4)              /* SOCKS proxy addresses: nothing to do with them here */
			return bad(err, errlen, a);
		*i += 4;
	} else
		return bad(err, errlen, a);
	return true;
}

int continue_main(const cmdline *cl)
{
	const cmd_continue *c = cl->cont;
	if (!c || !c->transport) {
		fprintf(stderr, "exim: -MC requires the transport, host, address, sequence and message id\n");
		return 1;
	}
	uid_t u = getuid();
	if (u != 0 && u != conf_main.exim_user) {
		fprintf(stderr, "exim: permission denied\n");
		return 1;
	}
	xbuf err;
	xbuf_init(&err, NULL);
	if (!log_setup_from_config(LOG_ECHO_NONE, NULL, &err)) {
		close(0);
		return 1;
	}
	spool_config sc;
	if (!spool_config_from_main(&sc, &err)) {
		log_write(LOG_MAIN | LOG_PANIC, "-MC: %s", xbuf_cstr(&err));
		close(0);
		return 1;
	}
	if (c->queue_name)
		sc.queue_name = c->queue_name;
	if (c->queue_fd >= 0) {
		dcont_queue_pipe_fd = c->queue_fd;
		dcont_queue_pid = (pid_t)c->queue_pid;
	}
	dcont_handoff h = {
		.transport = c->transport,
		.host_name = sv_cstr(c->host_name),
		.host_address = sv_cstr(c->host_address),
		.sequence = c->sequence,
		.id = c->id,
		.offered = (c->pipelining ? DCONT_PIPELINING : 0) | (c->size ? DCONT_SIZE : 0)
			| (c->chunking ? DCONT_CHUNKING : 0) | (c->dsn ? DCONT_DSN : 0),
		.authenticated = c->authenticated,
		.proxy_address = c->proxy_cipher ? c->proxy_address : NULL,
		.proxy_cipher = c->proxy_cipher,
		.proxy_port = c->proxy_port,
	};
	/* The connection may be handed back for the next message: that one is delivered here
	 * too, and so on, rather than by a new -MC process each time. */
	dcont_inprocess = true;
	dcont_deliver(&sc, &h, 0);
	dcont_run_pending(&sc);
	xbuf_free(&err);
	return 0;
}
