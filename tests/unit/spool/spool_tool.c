/* Test driver for the spool interoperability tests (tests/scenario/test_spool_interop.py); not
 * part of the product.
 *
 *   spool_tool reformat FILE        parse an -H file and print it as spool_format_header writes it
 *   spool_tool write SPOOLDIR SPLIT SENDER RCPT[,RCPT...] < message
 *                                   receive a message (headers + body, LF line ends) the way the
 *                                   SMTP server will and commit it to SPOOLDIR; prints the id.
 *                                   SPLIT is 0 or 1 (split_spool_directory). The envelope looks
 *                                   like a message received with ESMTP from 192.0.2.7, with one
 *                                   ACL variable and DSN data on the first recipient.
 *   spool_tool lock SPOOLDIR SPLIT ID
 *                                   take a message's lock as a delivery does, print "locked" (or
 *                                   why not), release it when a line arrives on stdin
 *   spool_tool bench SPOOLDIR N SIZE
 *                                   commit N messages of SIZE body bytes in one process and
 *                                   print the rate (the spool's share of bench/accept)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/spool.h"
#include "lib/arena.h"

static int reformat(const char *path)
{
	xbuf text, out, err;
	xbuf_init(&text, NULL);
	xbuf_init(&out, NULL);
	xbuf_init(&err, NULL);
	int e = 0;
	if (!spool_read_file(path, SPOOL_MAX_HEADER_FILE, &text, &e)) {
		fprintf(stderr, "%s: %s\n", path, strerror(e));
		return 2;
	}
	message m;
	msg_origin o;
	if (!spool_parse_header_ex(pool_msg, path, NULL, xbuf_sv(&text), &m, &o, NULL, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	spool_format_header(&m, &out);
	fwrite(out.p, 1, out.len, stdout);
	return 0;
}

/* Split the message on stdin into header lines (with folded continuations) and the body. */
static int write_message(const char *dir, bool split, const char *sender, const char *rcpts)
{
	xbuf in;
	xbuf_init(&in, NULL);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		xbuf_put(&in, chunk, n);

	static msg_origin o;
	o.host_address = sv_tainted(sv_cstr("192.0.2.7"));
	o.host_port = 40000;
	o.helo_name = sv_tainted(sv_cstr("client.example"));
	o.interface_address = sv_tainted(sv_cstr("127.0.0.1"));
	o.interface_port = 25;
	o.protocol = sv_cstr("esmtp");
	o.login = sv_cstr("root");
	o.uid = getuid();
	o.gid = getgid();

	message *m = message_new(pool_msg);
	m->origin = &o;
	m->sender = sv_tainted(sv_cstr(sender));
	m->deliver_firsttime = true;
	char *list = strdup(rcpts);
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		message_add_recipient(m, sv_tainted(sv_cstr(tok)));
		if (m->nrcpt == 1) {
			msg_recipient *r = message_last_recipient(m);
			r->orcpt = sv_cstr(arena_printf(pool_msg, "rfc822;%s", tok));
			r->dsn_flags = MSG_DSN_SUCCESS | MSG_DSN_FAILURE;
		}
	}
	m->dsn_envid = sv_tainted(sv_cstr("envid-1"));
	m->dsn_ret = MSG_DSN_RET_HDRS;
	message_set_aclvar(m, sv_cstr("acl_c0"), sv_cstr("conn\nvar"));
	message_set_aclvar(m, sv_cstr("acl_m_from"), sv_tainted(sv_cstr("192.0.2.7")));

	spool_config sc = { .directory = dir, .split = split, .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	xbuf err;
	xbuf_init(&err, NULL);
	spool_txn *t = spool_begin_message(&sc, m, &err);
	if (!t) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	/* Headers: a line not starting with white space begins a header; an empty line ends them. */
	const char *p = in.p, *end = in.p + in.len;
	const char *hstart = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		bool blank = (next - p == 1) || p == end;
		bool cont = *p == ' ' || *p == '\t';
		if (hstart && !cont) {
			sv text = sv_tainted(sv_make(hstart, (size_t)(p - hstart)));
			size_t colon = 0;
			while (colon < text.len && text.p[colon] != ':') colon++;
			message_add_header(m, message_header_type(sv_make(text.p, colon)), text);
			hstart = NULL;
		}
		if (blank) {
			p = next;
			break;
		}
		if (!hstart)
			hstart = p;
		p = next;
	}
	long long lines = 0, maxlen = 0, zeros = 0;
	const char *ls = p;
	for (const char *q = p; q < end; q++) {
		if (*q == 0)
			zeros++;
		if (*q == '\n') {
			lines++;
			if (q - ls > maxlen)
				maxlen = q - ls;
			ls = q + 1;
		}
	}
	m->body_linecount = lines;
	m->body_zerocount = zeros;
	m->max_received_linelength = maxlen;
	if (!spool_write_body(t, p, (size_t)(end - p), &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		spool_abort(t);
		return 1;
	}
	m->size = message_header_size(m) + 1 + (long long)(end - p);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	m->received_complete = tv.tv_sec;
	m->received_complete_usec = (int)tv.tv_usec;
	if (!spool_commit(t, m, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		spool_abort(t);
		return 1;
	}
	spool_end(t);
	printf("%s\n", m->id);
	free(list);
	xbuf_free(&in);
	return 0;
}

/* Commit n messages of size bytes each, one after another; prints the rate. */
static int bench(const char *dir, int n, size_t size)
{
	spool_config sc = { .directory = dir, .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	static msg_origin o;
	o.host_address = sv_tainted(sv_cstr("192.0.2.7"));
	o.protocol = sv_cstr("esmtp");
	o.login = sv_cstr("root");
	char *body = malloc(size);
	for (size_t i = 0; i < size; i++)
		body[i] = (i % 72 == 71) ? '\n' : 'a' + (char)(i % 26);
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	for (int i = 0; i < n; i++) {
		arena_mark mk = arena_getmark(pool_msg);
		message *m = message_new(pool_msg);
		m->origin = &o;
		m->sender = sv_cstr("s@b.example");
		message_add_recipient(m, sv_cstr("r@test.example"));
		message_add_header(m, ' ', sv_cstr("Subject: bench\n"));
		xbuf err;
		xbuf_init(&err, pool_msg);
		spool_txn *t = spool_begin_message(&sc, m, &err);
		if (!t || !spool_write_body(t, body, size, &err) || !spool_commit(t, m, &err)) {
			fprintf(stderr, "%s\n", xbuf_cstr(&err));
			return 1;
		}
		spool_end(t);
		arena_reset(pool_msg, mk);
	}
	gettimeofday(&t1, NULL);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
	printf("%d messages of %zu bytes in %.3f s: %.0f messages/s\n", n, size, secs, n / secs);
	free(body);
	return 0;
}

/* Hold the lock of a message (as a delivery would), print "locked", wait for a line on stdin. */
static int hold_lock(const char *dir, bool split, const char *id)
{
	spool_config sc = { .directory = dir, .split = split, .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	xbuf err;
	xbuf_init(&err, NULL);
	int fd = spool_open_locked(&sc, id, &err);
	if (fd < 0) {
		printf("%s\n", xbuf_cstr(&err));
		return 1;
	}
	printf("locked\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof line, stdin)) { /* end of input: release too */ }
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	arena_init_pools();
	if (argc == 5 && strcmp(argv[1], "lock") == 0)
		return hold_lock(argv[2], strcmp(argv[3], "1") == 0, argv[4]);
	if (argc == 5 && strcmp(argv[1], "bench") == 0)
		return bench(argv[2], atoi(argv[3]), (size_t)atol(argv[4]));
	if (argc == 3 && strcmp(argv[1], "reformat") == 0)
		return reformat(argv[2]);
	if (argc == 6 && strcmp(argv[1], "write") == 0)
		return write_message(argv[2], strcmp(argv[3], "1") == 0, argv[4], argv[5]);
	fprintf(stderr, "usage: spool_tool reformat FILE | write SPOOLDIR SPLIT SENDER RCPTS < message"
		" | bench SPOOLDIR N SIZE\n");
	return 2;
}
