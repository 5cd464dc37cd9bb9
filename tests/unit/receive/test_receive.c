/* receive.c end to end over a real spool directory: an SMTP message (CRLF, dot-stuffed, from a
 * remote host) becomes the -H and -D files Exim 4.96 wrote for the same conversation (recorded
 * with `exim -bs -oMa 10.0.0.1`; ids and times masked), and the limits give Exim's replies. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/receive.h"
#include "lib/log.h"
#include "../unit.h"

static char dir[] = "/tmp/test_receive.XXXXXX";

static void setup(const char *extra)
{
	char conf[512], text[1024];
	snprintf(conf, sizeof conf, "%s/conf", dir);
	snprintf(text, sizeof text, "spool_directory = %s/spool\nprimary_hostname = myhost.test.ex\n"
		"log_file_path = %s/log/%%slog\n%s\n", dir, dir, extra);
	FILE *f = fopen(conf, "w");
	fputs(text, f);
	fclose(f);
	xbuf err;
	xbuf_init(&err, NULL);
	if (!conf_load(conf, NULL, 0, &err))
		fprintf(stderr, "conf: %s\n", xbuf_cstr(&err));
	xbuf_free(&err);
	log_config lc;
	log_config_default(&lc);
	char lp[256];
	snprintf(lp, sizeof lp, "%s/log/%%slog", dir);
	lc.file_path = arena_strdup(pool_perm, lp);
	xbuf lerr;
	xbuf_init(&lerr, pool_scratch);
	log_configure(&lc, &lerr);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 16);
	*len = fread(buf, 1, (1 << 16) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Replace the message id, the times and the date with fixed text. */
/* The integrity line Postern adds as the fifth line (core/spool_integrity.h) is not in Exim's
 * file; Exim's reader ignores it. Check it is there, then take it out. */
static void strip_sum_line(char *s)
{
	char *p = strstr(s, "\n-postern_sum ");
	CHECK(p != NULL);
	if (!p)
		return;
	char *e = strchr(p + 1, '\n');
	memmove(p + 1, e + 1, strlen(e + 1) + 1);
}

static void mask(char *s, const char *id)
{
	for (char *p = strstr(s, id); p; p = strstr(p, id))
		memcpy(p, "IIIIII-IIIIII-II", 16);
	for (char *p = strstr(s, "-received_time"); p; p = strstr(p + 1, "-received_time"))
		for (char *q = strchr(p, ' ') + 1; *q != '\n'; q++)
			*q = 'T';
	char *l4 = s;
	for (int i = 0; i < 3 && l4; i++)
		l4 = strchr(l4, '\n') ? strchr(l4, '\n') + 1 : NULL;
	if (l4)
		memset(l4, 'T', 10);
	for (char *p = strstr(s, "+0000"); p; p = strstr(p + 1, "+0000")) {
		char *q = p;
		while (q > s && q[-1] != '\t' && q[-1] != ' ')
			q--;
		/* back over "Sat, 21 Nov 2026 09:00:46 " */
		q = p - 26;
		memset(q, 'D', 25);
	}
}

static const char exim_h[] =
	"IIIIII-IIIIII-II-H\n"
	"root 0 0\n"
	"<a@b.c>\n"
	"TTTTTTTTTT 0\n"
	"-received_time_usec TTTTTTT\n"
	"-received_time_complete TTTTTTTTTTTTTTTTT\n"
	"--helo_name foo\n"
	"--host_address [10.0.0.1]:0\n"
	"-ident root\n"
	"-received_protocol esmtp\n"
	"-body_linecount 5\n"
	"-max_received_linelength 13\n"
	"-body_zerocount 1\n"
	"-deliver_firsttime\n"
	"-tls_resumption A\n"
	"XX\n"
	"1\n"
	"x@y.z\n"
	"\n"
	"181P Received: from [10.0.0.1] (helo=foo ident=root)\n"
	"\tby myhost.test.ex with esmtp (Exim 4.96)\n"
	"\t(envelope-from <a@b.c>)\n"
	"\tid IIIIII-IIIIII-II\n"
	"\tfor x@y.z;\n"
	"\tDDDDDDDDDDDDDDDDDDDDDDDDD +0000\n"
	"011  Subject: a\n"
	"021  X-Y: b\n c: d\n X-Z: e\n";

static const char exim_d[] = "IIIIII-IIIIII-II-D\nbody\ncr lf\nx\n.\nnul\0z\n";

static message *smtp_message(msg_origin *o)
{
	memset(o, 0, sizeof *o);
	o->host_address = sv_tainted(sv_cstr("10.0.0.1"));
	o->helo_name = sv_tainted(sv_cstr("foo"));
	o->ident = sv_cstr("root"); /* -bs: the caller's login, not a network ident */
	o->protocol = sv_cstr("esmtp");
	o->login = sv_cstr("root");
	message *m = message_new(pool_msg);
	m->origin = o;
	m->sender = sv_tainted(sv_cstr("a@b.c"));
	m->deliver_firsttime = true;
	message_add_recipient(m, sv_tainted(sv_cstr("x@y.z")));
	return m;
}

static void test_smtp_data(void)
{
	setup("");
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_msg);
	CHECK(spool_config_from_main(&sc, &err));
	msg_origin o;
	message *m = smtp_message(&o);
	receive_ctx *r = receive_begin(m, &sc, RECV_SMTP_DATA, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	static const char in[] = "Subject: a\r\nX-Y: b\nc: d\rX-Z: e\r\n\r\nbody\rcr\nlf\r\n.x\r\n..\r\nnul\0z\r\n.\r\nQUIT\r\n";
	size_t used = 0;
	/* In two pieces, split inside the end line. */
	receive_status st = receive_feed(r, in, sizeof in - 1 - 8, &used, false);
	CHECK_INT(st, RECV_MORE);
	size_t used2 = 0;
	st = receive_feed(r, in + used, sizeof in - 1 - used, &used2, false);
	CHECK_INT(st, RECV_END);
	CHECK_INT(used + used2, sizeof in - 1 - 6); /* "QUIT\r\n" left */
	CHECK(receive_prepare_headers(r, &err));
	CHECK(receive_commit(r, &err));
	receive_log_arrival(r);
	char id[MSG_ID_LEN + 1];
	memcpy(id, m->id, sizeof id);
	receive_end(r);

	char path[512];
	size_t len;
	snprintf(path, sizeof path, "%s/spool/input/%s-H", dir, id);
	char *h = slurp(path, &len);
	CHECK(h != NULL);
	if (h) {
		mask(h, id);
		strip_sum_line(h);
		CHECK_STR(h, exim_h);
		free(h);
	}
	snprintf(path, sizeof path, "%s/spool/input/%s-D", dir, id);
	char *d = slurp(path, &len);
	CHECK(d != NULL);
	if (d) {
		memcpy(d, "IIIIII-IIIIII-II", 16);
		CHECK_INT(len, sizeof exim_d - 1);
		CHECK(memcmp(d, exim_d, sizeof exim_d - 1) == 0);
		free(d);
	}
	/* Exim: "<= a@b.c H=(foo) [10.0.0.1] U=root P=esmtp S=235" */
	snprintf(path, sizeof path, "%s/log/mainlog", dir);
	char *log = slurp(path, &len);
	CHECK(log && strstr(log, " <= a@b.c H=(foo) [10.0.0.1] U=root P=esmtp S=235\n"));
	free(log);
}

static void test_too_big(void)
{
	setup("message_size_limit = 100");
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_msg);
	CHECK(spool_config_from_main(&sc, &err));
	msg_origin o;
	message *m = smtp_message(&o);
	receive_ctx *r = receive_begin(m, &sc, RECV_SMTP_DATA, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	xbuf in;
	xbuf_init(&in, pool_msg);
	xbuf_puts(&in, "Subject: aaaaaaaaaaaaaaaaaaaaaaaa\r\nX: y\r\nX: y\r\nX: y\r\n\r\nbody\r\n");
	for (int i = 0; i < 12; i++)
		xbuf_puts(&in, "bodybodybodybody\r\n");
	xbuf_puts(&in, ".\r\n");
	size_t used;
	receive_status st = receive_feed(r, in.p, in.len, &used, false);
	CHECK_INT(st, RECV_TOO_BIG);
	CHECK_INT(used, in.len);
	xbuf reply;
	xbuf_init(&reply, pool_msg);
	CHECK_INT(receive_reject(r, st, "H=(foo) [10.0.0.1]", &reply), 552);
	CHECK_STR(xbuf_cstr(&reply), "Message size exceeds maximum permitted");
	char id[MSG_ID_LEN + 1];
	memcpy(id, m->id, sizeof id);
	receive_abort(r);
	char path[512];
	snprintf(path, sizeof path, "%s/spool/input/%s-D", dir, id);
	CHECK(access(path, F_OK) != 0);
	size_t len;
	snprintf(path, sizeof path, "%s/log/mainlog", dir);
	char *log = slurp(path, &len);
	/* Exim: "rejected from <a@b.c> H=(foo) [10.0.0.1] U=root: message too big: read=259 max=100" */
	CHECK(log && strstr(log, " rejected from <a@b.c> H=(foo) [10.0.0.1] U=root: message too big: read=259 max=100\n"));
	free(log);
	snprintf(path, sizeof path, "%s/log/rejectlog", dir);
	log = slurp(path, &len);
	CHECK(log && strstr(log, "max=100\nEnvelope-from: <a@b.c>\nEnvelope-to: <x@y.z>\n  Subject: aaaaaaaaaaaaaaaaaaaaaaaa\n  X: y\n"));
	free(log);
}

/* control = submission/domain=sub.example for an authenticated session: Exim 4.96 removed the
 * Sender:, added one from $authenticated_id and made it the envelope sender too. */
static void test_submission(void)
{
	setup("");
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_msg);
	CHECK(spool_config_from_main(&sc, &err));
	msg_origin o;
	message *m = smtp_message(&o);
	o.protocol = sv_cstr("esmtpa");
	o.auth_id = sv_tainted(sv_cstr("fred"));
	receive_ctx *r = receive_begin(m, &sc, RECV_SMTP_DATA, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	acl_controls ctl;
	memset(&ctl, 0, sizeof ctl);
	ctl.submission = true;
	ctl.submission_domain = sv_cstr("sub.example");
	receive_apply_controls(r, &ctl);
	static const char in[] = "Subject: a\r\nFrom: other@else\r\nSender: s@s\r\n\r\nb\r\n.\r\n";
	size_t used;
	CHECK_INT(receive_feed(r, in, sizeof in - 1, &used, false), RECV_END);
	CHECK(receive_prepare_headers(r, &err));
	xbuf got;
	xbuf_init(&got, pool_msg);
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != 'P')
			xbuf_printf(&got, "%03zu%c " SV_FMT, h->text.len, h->type, SV_ARG(h->text));
	char *g = (char *)xbuf_cstr(&got);
	for (char *p = strstr(g, m->id); p; p = strstr(p, m->id))
		memcpy(p, "IIIIII-IIIIII-II", 16);
	char *date = strstr(g, "Date: ");
	if (date)
		memset(date + 6, 'D', 25);
	CHECK_STR(g, "011  Subject: a\n017F From: other@else\n012* Sender: s@s\n"
		"047I Message-Id: <EIIIIII-IIIIII-II@myhost.test.ex>\n025S Sender: fred@sub.example\n"
		"038  Date: DDDDDDDDDDDDDDDDDDDDDDDDD +0000\n");
	CHECK_STR(sv_dup(pool_msg, m->sender), "fred@sub.example");
	CHECK(strstr(m->headers->text.p, "(envelope-from <fred@sub.example>)") != NULL);
	receive_abort(r);
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(dir))
		return 1;
	RUN(test_smtp_data);
	RUN(test_too_big);
	RUN(test_submission);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return unit_report("test_receive");
}
