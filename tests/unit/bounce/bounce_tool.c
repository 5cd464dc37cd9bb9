/* Test driver for tests/scenario/test_bounce.py (not part of the product): builds a failure
 * report, delay warning or success DSN about a message whose -H and -D files are given, and
 * submits it to the spool of CONF (which should set queue_only), as the delivery process will.
 *
 *   bounce_tool fail|warn|success CONF ORIG-H ORIG-D [AGE-SECONDS] < addresses
 *
 * One address per stdin line, tab-separated key=value fields ("\n" in values stands for a
 * newline, "\\" for a backslash): address, message, user_message, host, ip, port, reply, greeting, helo, transport,
 * orcpt, flags (MSG_DSN_* bits), kind (pipe/file), parent, domain, confirmation, output (what a
 * pipe printed, saved where the pipe transport keeps it). Prints the new message's id, or
 * "none" when nothing was sent. For warn, AGE-SECONDS back-dates the message's arrival.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/bounce.h"
#include "core/spool.h"
#include "core/tp_output.h"
#include "lib/arena.h"
#include "lib/log.h"

static sv unescape(const char *s)
{
	xbuf b;
	xbuf_init(&b, pool_msg);
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			xbuf_putc(&b, '\n');
			s++;
		} else if (s[0] == '\\' && s[1] == '\\') {
			xbuf_putc(&b, '\\');
			s++;
		} else if (s[0] == '\\' && s[1] == 't') {
			xbuf_putc(&b, '\t');
			s++;
		} else {
			xbuf_putc(&b, *s);
		}
	}
	return xbuf_sv(&b);
}

static address_item *read_addresses(void)
{
	address_item *head = NULL, **tail = &head;
	char line[16384];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!*line)
			continue;
		address_item *a = arena_calloc(pool_msg, 1, sizeof *a);
		a->host_used_mx = -1;
		a->rcpt_index = -1;
		for (char *f = strtok(line, "\t"); f; f = strtok(NULL, "\t")) {
			char *eq = strchr(f, '=');
			if (!eq)
				continue;
			*eq = 0;
			sv v = unescape(eq + 1);
			if (!strcmp(f, "address")) a->address = v;
			else if (!strcmp(f, "message")) a->message = v;
			else if (!strcmp(f, "user_message")) a->user_message = v;
			else if (!strcmp(f, "host")) a->host_used_name = v;
			else if (!strcmp(f, "ip")) a->host_used_address = v;
			else if (!strcmp(f, "port")) a->host_used_port = atoi(eq + 1);
			else if (!strcmp(f, "reply")) a->smtp_response = v;
			else if (!strcmp(f, "greeting")) a->smtp_greeting = v;
			else if (!strcmp(f, "helo")) a->helo_response = v;
			else if (!strcmp(f, "confirmation")) a->confirmation = v;
			else if (!strcmp(f, "transport")) a->transport = sv_dup(pool_msg, v);
			else if (!strcmp(f, "orcpt")) a->orcpt = v;
			else if (!strcmp(f, "flags")) a->dsn_flags = (unsigned)strtoul(eq + 1, NULL, 0);
			else if (!strcmp(f, "kind")) a->kind = !strcmp(eq + 1, "pipe") ? ADDR_PIPE : ADDR_FILE;
			else if (!strcmp(f, "parent")) {
				address_item *p = arena_calloc(pool_msg, 1, sizeof *p);
				p->address = v;
				a->parent = p;
			}
			else if (!strcmp(f, "domain")) a->domain = v;
			else if (!strcmp(f, "output")) a->delivery_detail = v;   /* saved below */
		}
		*tail = a;
		tail = &a->next;
	}
	return head;
}

int main(int argc, char **argv)
{
	arena_init_pools();
	if (argc < 5) {
		fprintf(stderr, "usage: bounce_tool fail|warn|success CONF ORIG-H ORIG-D [AGE] < addresses\n");
		return 2;
	}
	xbuf err;
	xbuf_init(&err, NULL);
	if (!conf_load(argv[2], NULL, 0, &err)) {
		fprintf(stderr, "conf: %s\n", xbuf_cstr(&err));
		return 2;
	}
	spool_config sc;
	if (!spool_config_from_main(&sc, &err)) {
		fprintf(stderr, "spool: %s\n", xbuf_cstr(&err));
		return 2;
	}
	log_config lc;
	log_config_default(&lc);
	lc.spool_directory = sc.directory;
	lc.file_path = conf_main.log_file_path;
	lc.echo = LOG_ECHO_NONE;
	log_configure(&lc, &err);

	xbuf text;
	xbuf_init(&text, NULL);
	int e = 0;
	if (!spool_read_file(argv[3], SPOOL_MAX_HEADER_FILE, &text, &e)) {
		fprintf(stderr, "%s: %s\n", argv[3], strerror(e));
		return 2;
	}
	static message m;
	static msg_origin o;
	if (!spool_parse_header_ex(pool_msg, argv[3], NULL, xbuf_sv(&text), &m, &o, NULL, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 2;
	}
	m.origin = &o;
	int fd = open(argv[4], O_RDONLY);
	if (fd < 0) {
		perror(argv[4]);
		return 2;
	}
	address_item *addrs = read_addresses();
	/* Command output a pipe transport kept for the bounce (core/tp_output.h). */
	for (address_item *a = addrs; a; a = a->next)
		if (a->delivery_detail.len) {
			if (!tp_output_save(pool_msg, &sc, m.id, a, a->delivery_detail, &err)) {
				fprintf(stderr, "%s\n", xbuf_cstr(&err));
				return 2;
			}
			a->delivery_detail = (sv){ "", 0, 0, 0 };
		}
	char id[MSG_ID_LEN + 1] = "";
	bool ok;
	if (!strcmp(argv[1], "fail")) {
		/* BOUNCE_TO: an errors_to address instead of the sender. */
		const char *to = getenv("BOUNCE_TO");
		ok = bounce_send_failure(&sc, &m, fd, addrs, to ? sv_cstr(to) : m.sender, id, &err);
	} else if (!strcmp(argv[1], "warn")) {
		time_t now = time(NULL);
		if (argc > 5)
			m.received_time = now - atol(argv[5]);
		int before = m.warning_count;
		ok = bounce_maybe_warn(&sc, &m, fd, addrs, now, &err);
		if (ok && m.warning_count == before)
			strcpy(id, "none");
	} else {
		ok = bounce_send_success_dsn(&sc, &m, fd, addrs, &err);
	}
	if (!ok) {
		fprintf(stderr, "failed: %s\n", xbuf_cstr(&err));
		return 1;
	}
	/* warn and success do not report the id: the newest message in the spool is it. */
	printf("%s\n", id[0] ? id : "sent");
	return 0;
}
