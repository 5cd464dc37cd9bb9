/* Not installed: runs the smtp transport (smtp_transport_ops.deliver) on a message in a spool,
 * for tests/scenario/test_smtp_transport.py.
 *
 *   smtp_tp_probe -C CONF -id MSGID -t TRANSPORT [-host NAME/IP/PORT/MX]... [-fallback LIST]
 *                 [-errors-to ADDR] [-N] RCPT...
 *
 * The configuration gives the spool, the logs (the transport's host lines go to the main log)
 * and the transport. -host adds a host to every address as a router would (PORT 0: the
 * transport's; MX -1: not from MX). Prints per address one line
 *   addr <address> <OK|DEFER|FAIL> <errno> <more_errno> host=<name>/<ip>/<port> msg=<message>
 * then "conf=<confirmation>", "resp=<smtp_response>", "greeting=...", "helo=...",
 * "sending=<ip>", and one "retry <key> <errno> <more> <remove> <text>" per retry item. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "core/message.h"
#include "core/spool.h"
#include "core/transport.h"
#include "drivers/transports/smtp_deliver.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "prog/log_setup.h"

static void show(const char *tag, sv v)
{
	printf(" %s=", tag);
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] == '\n') fputs("\\n", stdout);
		else putchar(v.p[i]);
	putchar('\n');
}

static const char *res_name(addr_result r)
{
	switch (r) {
	case ADDR_OK: return "OK";
	case ADDR_DEFER: return "DEFER";
	case ADDR_FAIL: return "FAIL";
	case ADDR_PANIC: return "PANIC";
	default: return "PENDING";
	}
}

int main(int argc, char **argv)
{
	arena_init_pools();
	const char *config = NULL, *id = NULL, *tname = NULL, *fallback = NULL, *errors_to = NULL;
	const char *hosts[32];
	int nhosts = 0;
	bool dont_deliver = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(a, "-C")) { config = v; i++; }
		else if (!strcmp(a, "-id")) { id = v; i++; }
		else if (!strcmp(a, "-t")) { tname = v; i++; }
		else if (!strcmp(a, "-host") && nhosts < 32) { hosts[nhosts++] = v; i++; }
		else if (!strcmp(a, "-fallback")) { fallback = v; i++; }
		else if (!strcmp(a, "-errors-to")) { errors_to = v; i++; }
		else if (!strcmp(a, "-N")) dont_deliver = true;
		else { fprintf(stderr, "unknown option %s\n", a); return 2; }
	}
	if (!config || !id || !tname || i >= argc) {
		fprintf(stderr, "usage: smtp_tp_probe -C conf -id msgid -t transport [-host n/ip/port/mx]... rcpt...\n");
		return 2;
	}
	xbuf err;
	xbuf_init(&err, NULL);
	if (!conf_load(config, NULL, 0, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	const char *spool = NULL;
	if (!log_setup_from_config(LOG_ECHO_NONE, &spool, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	spool_config sc;
	if (!spool_config_from_main(&sc, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	const driver_instance *t = tp_find(tname);
	if (t == NULL) {
		fprintf(stderr, "no transport %s\n", tname);
		return 2;
	}
	arena *a = pool_perm;
	message m;
	msg_origin origin;
	if (!spool_read_header_ex(a, &sc, id, &m, &origin, NULL, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	int fd = spool_open_locked(&sc, id, &err);
	if (fd < 0) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	log_set_id(m.id);
	xp_env env;
	xp_env_init(&env, a);
	message_vars mv;
	message_vars_init(&mv, &m, &origin);
	xp_env_push_provider(&env, &mv.p);

	address_item *list = NULL, **tail = &list;
	for (; i < argc; i++) {
		address_item *ad = route_new_address(a, sv_cstr(argv[i]));
		ad->transport = tname;
		ad->rcpt_index = -1;
		if (fallback) ad->fallback_hosts = sv_cstr(fallback);
		if (errors_to) ad->errors_address = sv_cstr(errors_to);
		route_host **ht = &ad->hosts;
		for (int h = 0; h < nhosts; h++) {
			char *copy = strdup(hosts[h]);
			char *name = strtok(copy, "/"), *ip = strtok(NULL, "/"), *port = strtok(NULL, "/"),
				*mx = strtok(NULL, "/");
			*ht = arena_calloc(a, 1, sizeof **ht);
			(*ht)->name = sv_cstr(name);
			(*ht)->address = sv_cstr(ip ? ip : "");
			(*ht)->port = port && atoi(port) > 0 ? atoi(port) : -1;
			(*ht)->mx = mx ? atoi(mx) : -1;
			ht = &(*ht)->next;
		}
		*tail = ad;
		tail = &ad->next;
	}
	tp_ctx c = { .a = a, .env = &env, .m = &m, .sc = &sc, .data_fd = fd, .dont_deliver = dont_deliver };
	const transport_ops *ops = t->info->ops;
	if (ops != &smtp_transport_ops) {
		fprintf(stderr, "%s is not an smtp transport\n", tname);
		return 2;
	}
	ops->deliver(t, &c, list);
	for (address_item *ad = list; ad; ad = ad->next) {
		printf("addr " SV_FMT " %s %d %d host=" SV_FMT "/" SV_FMT "/%d", SV_ARG(ad->address),
			res_name(ad->result), ad->basic_errno, ad->more_errno, SV_ARG(ad->host_used_name),
			SV_ARG(ad->host_used_address), ad->host_used_port);
		show("msg", ad->message);
		show(" conf", ad->confirmation);
		show(" resp", ad->smtp_response);
		show(" greeting", ad->smtp_greeting);
		show(" helo", ad->helo_response);
		show(" sending", ad->sending_address);
		for (const addr_retry *r = ad->retries; r; r = r->next) {
			printf(" retry " SV_FMT " %d %d %d", SV_ARG(r->key), r->basic_errno, r->more_errno, r->remove);
			show("text", r->text);
		}
	}
	fflush(stdout);
	return 0;
}
