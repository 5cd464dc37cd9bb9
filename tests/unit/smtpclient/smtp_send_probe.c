/* Not installed: drives the SMTP client engine for tests/scenario/test_smtpclient*.py.
 *
 *   smtp_send_probe [options] -f SENDER HOST-IP PORT RCPT... < message
 *
 * The message on stdin is in spool form (headers, blank line, body; LF line ends). Options:
 *   -C FILE        load a configuration (for authenticators and $primary_hostname)
 *   -helo NAME     helo_data (default "client.test")
 *   -lmtp -noesmtp -nopipe -nochunk -noprdr -tryauth -requireauth
 *   -maxrcpt N -sizeadd N -timeout SECONDS -size N (message size; default bytes on stdin minus
 *   the line count) -envid X -ret hdrs|full -utf8 -8bit -authsender X -authforce
 *   -notify RCPT-INDEX:never|s,f,d -orcpt RCPT-INDEX:TYPE;ADDR
 *   -repeat N      send the message N times on one connection (RSET between)
 *   -event NAME    the event action returns "refuse" for event NAME (prints every event)
 *   -transport T   take the options from smtp transport T of the -C configuration instead
 *                  (smtp_transport_client_options; PORT 0 = the transport's port)
 * Prints one line per fact: "connect <status> <errno> <message>", "greeting ...", "helo ...",
 * "auth <instance>", per message "rcpt <address> <OK|DEFER|FAIL> <errno> <code> <message>",
 * "prdr <address>" for a recipient whose transaction used PRDR, "reusable <0|1>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "drivers/transports/smtp_client_opts.h"
#include "lib/arena.h"
#include "smtp/client.h"

typedef struct mem_source {
	const char *p;
	size_t len, off;
} mem_source;

static ssize_t mem_read(void *ctx, char *buf, size_t n)
{
	mem_source *s = ctx;
	/* Small reads exercise the chunk and dot-stuffing boundaries. */
	size_t k = s->len - s->off;
	if (k > n) k = n;
	if (k > 7000) k = 7000;
	memcpy(buf, s->p + s->off, k);
	s->off += k;
	return (ssize_t)k;
}

static bool mem_rewind(void *ctx)
{
	mem_source *s = ctx;
	s->off = 0;
	return true;
}

static const char *refuse_event;
static void probe_event(void *ctx, const char *name, sv data, xbuf *result)
{
	(void)ctx;
	printf("event %s ", name);
	for (size_t i = 0; i < data.len; i++)
		if (data.p[i] == '\n') fputs("\\n", stdout);
		else putchar(data.p[i]);
	putchar('\n');
	if (refuse_event && strcmp(name, refuse_event) == 0)
		xbuf_puts(result, "refuse");
}

static const char *status_name(smtpc_status s)
{
	switch (s) {
	case SMTPC_OK: return "OK";
	case SMTPC_DEFER: return "DEFER";
	case SMTPC_FAIL: return "FAIL";
	default: return "PENDING";
	}
}

static void print_oneline(const char *tag, sv v)
{
	printf("%s ", tag);
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] == '\n') fputs("\\n", stdout);
		else putchar(v.p[i]);
	putchar('\n');
}

int main(int argc, char **argv)
{
	arena_init_pools();
	smtpc_options o = {
		.helo_name = SV_LIT("client.test"), .connect_timeout = 10, .command_timeout = 10,
		.data_timeout = 10, .final_timeout = 10, .try_chunking = true, .max_rcpt = 100,
		.try_prdr = true,
		.size_addition = 1024,
	};
	smtpc_message m = { 0 };
	const char *config = NULL;
	int repeat = 1;
	const char *transport = NULL;
	long long size = -1;
	const char *notify[64] = { 0 }, *orcpt[64] = { 0 };
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(a, "-C")) { config = v; i++; }
		else if (!strcmp(a, "-f")) { m.sender = sv_cstr(v); i++; }
		else if (!strcmp(a, "-helo")) { o.helo_name = sv_cstr(v); i++; }
		else if (!strcmp(a, "-lmtp")) o.lmtp = true;
		else if (!strcmp(a, "-noesmtp")) o.avoid_esmtp = true;
		else if (!strcmp(a, "-nopipe")) o.avoid_pipelining = true;
		else if (!strcmp(a, "-nochunk")) o.try_chunking = false;
		else if (!strcmp(a, "-noprdr")) o.try_prdr = false;
		else if (!strcmp(a, "-tryauth")) o.try_auth = true;
		else if (!strcmp(a, "-requireauth")) o.require_auth = true;
		else if (!strcmp(a, "-maxrcpt")) { o.max_rcpt = atoi(v); i++; }
		else if (!strcmp(a, "-sizeadd")) { o.size_addition = atoi(v); i++; }
		else if (!strcmp(a, "-timeout")) {
			o.command_timeout = o.data_timeout = o.final_timeout = o.connect_timeout = atoi(v);
			i++;
		}
		else if (!strcmp(a, "-size")) { size = atoll(v); i++; }
		else if (!strcmp(a, "-envid")) { m.envid = sv_cstr(v); i++; }
		else if (!strcmp(a, "-ret")) { m.dsn_ret = !strcmp(v, "hdrs") ? MSG_DSN_RET_HDRS : MSG_DSN_RET_FULL; i++; }
		else if (!strcmp(a, "-utf8")) m.smtputf8 = true;
		else if (!strcmp(a, "-8bit")) m.body_8bitmime = true;
		else if (!strcmp(a, "-authsender")) { o.authenticated_sender = sv_cstr(v); i++; }
		else if (!strcmp(a, "-authforce")) o.authenticated_sender_force = true;
		else if (!strcmp(a, "-interface")) { o.interface = sv_cstr(v); i++; }
		else if (!strcmp(a, "-notify") || !strcmp(a, "-orcpt")) {
			int idx = atoi(v);
			const char *colon = strchr(v, ':');
			if (idx < 0 || idx >= 64 || !colon) return 2;
			(a[1] == 'n' ? notify : orcpt)[idx] = colon + 1;
			i++;
		}
		else if (!strcmp(a, "-repeat")) { repeat = atoi(v); i++; }
		else if (!strcmp(a, "-transport")) { transport = v; i++; }
		else if (!strcmp(a, "-event")) { refuse_event = v; i++; }
		else { fprintf(stderr, "unknown option %s\n", a); return 2; }
	}
	if (argc - i < 3) {
		fprintf(stderr, "usage: smtp_send_probe [options] -f sender host-ip port rcpt...\n");
		return 2;
	}
	xbuf err;
	xbuf_init(&err, NULL);
	if (config && !conf_load(config, NULL, 0, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	xp_env env;
	xp_env_init(&env, pool_scratch);
	o.env = &env;

	xbuf in;
	xbuf_init(&in, NULL);
	char buf[65536];
	size_t k;
	while ((k = fread(buf, 1, sizeof buf, stdin)) > 0)
		xbuf_put(&in, buf, k);
	long long lines = 0;
	for (size_t j = 0; j < in.len; j++)
		lines += in.p[j] == '\n';
	/* Exim's message size counts the blank line; its line count does not. */
	m.size = size >= 0 ? size : (long long)in.len;
	m.linecount = lines > 0 ? lines - 1 : 0;

	smtpc_host h = { .name = sv_cstr(argv[i]), .address = sv_cstr(argv[i]), .port = atoi(argv[i + 1]) };
	i += 2;
	size_t n = (size_t)(argc - i);
	smtpc_rcpt *r = calloc(n, sizeof *r);
	for (size_t j = 0; j < n; j++) {
		r[j].address = sv_cstr(argv[i + (int)j]);
		const char *nf = j < 64 ? notify[j] : NULL;
		if (nf) {
			if (!strcmp(nf, "never")) r[j].dsn_flags = MSG_DSN_NEVER;
			else {
				if (strchr(nf, 's')) r[j].dsn_flags |= MSG_DSN_SUCCESS;
				if (strchr(nf, 'f')) r[j].dsn_flags |= MSG_DSN_FAILURE;
				if (strchr(nf, 'd')) r[j].dsn_flags |= MSG_DSN_DELAY;
			}
		}
		if (j < 64 && orcpt[j]) r[j].orcpt = sv_cstr(orcpt[j]);
	}

	if (transport) {
		const driver_instance *t = conf_driver_instances("transports");
		while (t && strcmp(t->name, transport) != 0) t = t->next;
		if (t == NULL) { fprintf(stderr, "no transport %s\n", transport); return 2; }
		if (!smtp_transport_client_options(t, &env, &h, &o, &err)) {
			printf("options %s\n", xbuf_cstr(&err));
			return 0;
		}
		printf("options helo=" SV_FMT " port=%d lmtp=%d avoid_esmtp=%d avoid_pipelining=%d chunking=%d "
			"try_auth=%d require_auth=%d max_rcpt=%d\n", SV_ARG(o.helo_name), h.port, o.lmtp, o.avoid_esmtp,
			o.avoid_pipelining, o.try_chunking, o.try_auth, o.require_auth, o.max_rcpt);
	}
	if (refuse_event)
		o.event = probe_event;
	smtpc_conn *c = smtpc_connect(pool_perm, &o, &h);
	printf("connect %s %d %s\n", status_name(c->status), c->basic_errno, xbuf_cstr(&c->message));
	print_oneline("greeting", xbuf_sv(&c->greeting.text));
	print_oneline("helo", xbuf_sv(&c->helo_response.text));
	if (c->authenticator) printf("auth %s\n", c->authenticator);
	for (int t = 0; t < repeat; t++) {
		mem_source src = { in.p, in.len, 0 };
		m.read = mem_read;
		m.rewind = mem_rewind;
		m.read_ctx = &src;
		bool reusable = smtpc_send(c, &m, r, n);
		for (size_t j = 0; j < n; j++) {
			printf("rcpt %s %s %d %d ", argv[i + (int)j], status_name(r[j].status), r[j].basic_errno, r[j].code);
			print_oneline("", xbuf_sv(&r[j].message));
			if (r[j].prdr)
				printf("prdr %s\n", argv[i + (int)j]);
		}
		printf("reusable %d\n", reusable);
	}
	smtpc_close(c);
	fflush(stdout);
	return 0;
}
