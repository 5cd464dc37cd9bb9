/* The spool: message ids, the -H writer and reader (against files Debian's Exim 4.96 wrote, in
 * data/), the balanced-tree order of ACL variables, damaged files, old forms, the durable
 * commit, and the -bp age/size columns. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/spool.h"
#include "unit.h"

#define B62 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

void bp_format_age(long long secs, xbuf *out);  /* prog/bp.c */
void bp_format_size(long long n, xbuf *out);

static char *slurp(const char *path, size_t *len)
{
	xbuf b;
	xbuf_init(&b, NULL);
	int e;
	if (!spool_read_file(path, 1 << 20, &b, &e)) {
		fprintf(stderr, "cannot read %s\n", path);
		*len = 0;
		return strdup("");
	}
	*len = b.len;
	return b.p;
}

static void test_ids(void)
{
	static const struct { long sec, usec, pid; int lhn; const char *want; } t[] = {
		{ 1795251664, 416358, 28462, -1, "1xUgy0-0007P4-1L" }, /* observed from Exim */
		{ 1795251702, 617706, 30628, 7, "1xUgyc-0007y0-OZ" },  /* localhost_number 7 */
		{ 0, 0, 0, -1, "000000-000000-00" },
		{ 0, 999999, 0, 16, "000000-000000-sp" },              /* 16*200 + 199 = 3399 */
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char id[MSG_ID_LEN + 1];
		spool_format_message_id(id, t[i].sec, t[i].usec, t[i].pid, t[i].lhn);
		CHECK_STR(id, t[i].want);
		CHECK(spool_valid_id(sv_cstr(id)));
	}
	static const struct { const char *s; bool ok; } v[] = {
		{ "1xUgy0-0007P4-1L", true }, { "1xUgy0-0007P4-1", false }, { "1xUgy0_0007P4-1L", false },
		{ "1xUgy0-0007P4-1L-", false }, { "1xUg/0-0007P4-1L", false }, { "", false },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		CHECK_INT(spool_valid_id(sv_cstr(v[i].s)), v[i].ok);
	time_t sec;
	int frac;
	CHECK(spool_id_time(sv_cstr("1xUgy0-0007P4-1L"), &sec, &frac));
	CHECK_INT(sec, 1795251664);
	CHECK_INT(frac, 83);
	/* Successive ids of one process differ and increase. */
	char a[MSG_ID_LEN + 1], b[MSG_ID_LEN + 1];
	spool_new_message_id(a);
	spool_new_message_id(b);
	CHECK(strcmp(a, b) != 0);
	CHECK(memcmp(a, b, 6) < 0 || (memcmp(a, b, 6) == 0 && memcmp(a + 14, b + 14, 2) < 0) ||
		(memcmp(a, b, 6) == 0 && memcmp(a + 14, b + 14, 2) == 0 && memcmp(a + 7, b + 7, 6) < 0));
	/* Many ids at once: no waiting for the next 5 ms unit; within a unit the middle part is
	 * pid + n * 2^22, never a pid, and every id is different. */
	enum { N = 500 };
	static char ids[N][MSG_ID_LEN + 1];
	for (int i = 0; i < N; i++)
		spool_new_message_id(ids[i]);
	int dup = 0, badpid = 0, stepped = 0;
	for (int i = 0; i < N; i++) {
		unsigned long long pf = 0;
		for (int k = 7; k < 13; k++)
			pf = pf * 62 + (unsigned long long)(strchr(B62, ids[i][k]) - B62);
		badpid += (long)(pf % (1ULL << 22)) != (long)getpid();
		stepped += pf >= (1ULL << 22);
		for (int j = 0; j < i; j++)
			dup += strcmp(ids[i], ids[j]) == 0;
	}
	CHECK_INT(dup, 0);
	CHECK_INT(badpid, 0);
	CHECK(stepped > 0);
}

/* Every Exim-written file parses and formats back to the same bytes. */
static void test_roundtrip_exim_files(void)
{
	static const char *files[] = { "data/exim_dsn-H", "data/exim_auth-H", "data/exim_local-H",
		"data/exim_aclvars_rewritten-H", "data/exim_tls-H", "data/exim_wireformat-H", "data/exim_ipv6-H" };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		size_t len;
		char *text = slurp(files[i], &len);
		message m;
		msg_origin o;
		xbuf err, out;
		xbuf_init(&err, NULL);
		xbuf_init(&out, NULL);
		bool ok = spool_parse_header_ex(pool_msg, files[i], NULL, sv_make(text, len), &m, &o, NULL, &err);
		CHECK_STR(ok ? "" : xbuf_cstr(&err), "");
		spool_format_header(&m, &out);
		CHECK_INT(out.len, len);
		CHECK(out.len == len && memcmp(out.p, text, len) == 0);
		if (out.len != len || memcmp(out.p, text, len) != 0)
			fprintf(stderr, "--- %s reformatted:\n%s", files[i], xbuf_cstr(&out));
		xbuf_free(&err);
		xbuf_free(&out);
		free(text);
	}
}

static void test_parse_fields(void)
{
	size_t len;
	char *text = slurp("data/exim_dsn-H", &len);
	message m;
	msg_origin o;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(spool_parse_header_ex(pool_msg, "f", "1xUgy2-0007Sr-14", sv_make(text, len), &m, &o, NULL, &err));
	CHECK_STR(m.id, "1xUgy2-0007Sr-14");
	CHECK(sv_eq_cstr(m.sender, "a@b.example"));
	CHECK_INT(m.received_time, 1795251666);
	CHECK_INT(m.received_usec, 331652);
	CHECK(sv_eq_cstr(o.helo_name, "client.example") && o.helo_name.taint);
	CHECK(sv_eq_cstr(o.host_address, "10.1.2.3") && o.host_address.taint);
	CHECK_INT(o.host_port, 4567);
	CHECK(sv_eq_cstr(o.interface_address, "127.0.0.1"));
	CHECK_INT(o.interface_port, 25);
	CHECK(sv_eq_cstr(o.ident, "root") && !o.ident.taint);
	CHECK(sv_eq_cstr(m.dsn_envid, "xyz"));
	CHECK_INT(m.dsn_ret, MSG_DSN_RET_HDRS);
	CHECK_INT(m.nrcpt, 3);
	CHECK(sv_eq_cstr(m.rcpt[0].orcpt, "rfc822;U1@test.example"));
	CHECK_INT(m.rcpt[0].dsn_flags, MSG_DSN_SUCCESS | MSG_DSN_FAILURE);
	CHECK_INT(m.rcpt[0].pno, -1);
	CHECK(sv_eq_cstr(m.rcpt[1].address, "u2@test.example"));
	CHECK_INT(m.rcpt[2].dsn_flags, MSG_DSN_NEVER);
	const msg_aclvar *v = message_get_aclvar(&m, sv_cstr("acl_c0"));
	CHECK(v && sv_eq_cstr(v->value, "conn\nvar"));
	v = message_get_aclvar(&m, sv_cstr("acl_m_foo"));
	CHECK(v && sv_eq_cstr(v->value, "mvar 10.1.2.3") && v->value.taint);
	CHECK_INT(m.body_linecount, 3);
	CHECK_INT(m.size, 198 + 12 + 18 + 20);
	CHECK(m.headers && m.headers->type == 'P');
	free(text);
	xbuf_free(&err);
}

/* Exim re-inserts ACL variables in file order when it reads a spool file; the rewrite it then
 * does (exim -Mar) has the order our tree gives. */
static void test_tls_fields(void)
{
	size_t len;
	char *text = slurp("data/exim_tls-H", &len);
	message m;
	msg_origin o;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(spool_parse_header_ex(pool_msg, "f", NULL, sv_make(text, len), &m, &o, NULL, &err));
	CHECK(o.tls_certificate_verified);
	CHECK(sv_eq_cstr(o.tls_cipher, "TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256"));
	CHECK(sv_eq_cstr(o.tls_peerdn, "CN=client.example,O=Client Org") && o.tls_peerdn.taint);
	CHECK(sv_starts(o.tls_peercert, "-----BEGIN CERTIFICATE-----\nMIID") && o.tls_peercert.taint);
	CHECK(sv_starts(o.tls_ourcert, "-----BEGIN CERTIFICATE-----\n") && !o.tls_ourcert.taint);
	CHECK(o.tls_ourcert.len && o.tls_ourcert.p[o.tls_ourcert.len - 1] == '\n');
	CHECK_INT(o.tls_resumption, 1);
	CHECK(sv_eq_cstr(o.tls_ver, "TLS1.3"));
	/* a daemon-accepted connection's addresses are not tainted (only -oMa ones are) */
	CHECK(sv_eq_cstr(o.host_address, "127.0.0.1") && !o.host_address.taint);
	free(text);
	xbuf_free(&err);
}

static void test_aclvar_tree_order(void)
{
	size_t l1, l2;
	char *orig = slurp("data/exim_aclvars-H", &l1);
	char *rewritten = slurp("data/exim_aclvars_rewritten-H", &l2);
	message m;
	msg_origin o;
	xbuf err, out;
	xbuf_init(&err, NULL);
	xbuf_init(&out, NULL);
	CHECK(spool_parse_header_ex(pool_msg, "f", NULL, sv_make(orig, l1), &m, &o, NULL, &err));
	spool_format_header(&m, &out);
	const char *a = strstr(xbuf_cstr(&out), "-aclc"), *b = strstr(rewritten, "-aclc");
	const char *ae = a ? strstr(a, "-body_linecount") : NULL, *be = b ? strstr(b, "-body_linecount") : NULL;
	CHECK(a && b && ae && be && ae - a == be - b && memcmp(a, b, (size_t)(ae - a)) == 0);
	/* And a message built in the order Exim's ACL set them writes Exim's original order. */
	message *n = message_new(pool_msg);
	strcpy(n->id, "1xUgz1-0008Kp-1Y");
	static const char *names[] = { "acl_m_b", "acl_m_a", "acl_m9", "acl_c_z", "acl_m0", "acl_c1", "acl_m_c", "acl_m_ab" };
	for (size_t i = 0; i < 8; i++)
		message_set_aclvar(n, sv_cstr(names[i]), sv_cstr(names[i] + 5));
	xbuf_reset(&out);
	spool_format_header(n, &out);
	const char *c = strstr(xbuf_cstr(&out), "-aclc");
	CHECK_STR(c ? strndup(c, 94) : "",
		"-aclc _z 2\n_z\n-aclc 1 1\n1\n-aclm _a 2\n_a\n-aclm 9 1\n9\n-aclm 0 1\n0\n-aclm _b 2\n_b\n-aclm _ab 3\n_ab\n");
	free(orig);
	free(rewritten);
	xbuf_free(&err);
	xbuf_free(&out);
}

static const char HDR_START[] = "1xUgy2-0007Sr-14-H\nroot 0 0\n<a@b>\n1795251666 0\n";

static void test_parse_errors(void)
{
	static const struct { const char *text; const char *want; bool envelope; } t[] = {
		{ "1xUgy2-0007Sr-14-X\nroot 0 0\n", "f: line 1: first line is not the file's name", false },
		{ "1xUgy2-0007Sr-14-H\nroot 0\n", "f: line 2: expected \"<login> <uid> <gid>\"", false },
		{ "1xUgy2-0007Sr-14-H\nroot 0 0\na@b\n", "f: line 3: sender is not in angle brackets", false },
		{ "1xUgy2-0007Sr-14-H\nroot 0 0\n<a@b>\nbad\n", "f: line 4: expected \"<received time> <warning count>\"", false },
		{ "%sXX\nabc\n", "f: line 6: bad recipient count", false },
		{ "%sXX\n2\na@b\n", "f: line 8: unexpected end of file", false },
		{ "%sXY\n", "f: line 5: malformed non-recipients tree line", false },
		{ "%sXX\n1\na@b\n", "f: line 8: unexpected end of file", true },
		{ "%sXX\n1\na@b\nx\n", "f: line 8: expected a blank line after the recipients", true },
		{ "%sXX\n1\na@b\n\n012  Subject: x\n", "f: line 9: header of length 12 runs past the end", true },
		{ "%sXX\n1\na@b\n\nabc Subject: x\n", "f: line 9: malformed header length/type", true },
		{ "%s-aclc 0 100\nabc\nXX\n", "f: line 5: ACL variable value of length 100 runs past", false },
		{ "%s-host_address [1.2.3.4]:99999\nXX\n", "f: line 5: bad -host_address", false },
		{ "%s-body_linecount x\nXX\n", "f: line 5: bad number in -body_linecount", false },
		/* found by fuzz_spool_header: values that could not be written back */
		{ "%s-host_address 1].0.0.1.1234\nXX\n", "f: line 5: bad -host_address", false },
		{ "%s-host_address [127.0.0.2:11384@]\nXX\n", "f: line 5: bad -host_address", false },
		{ "%sXX\n1\na@b\n\n012\001 Subject: x\n", "f: line 9: malformed header type", true },
		{ "%sYN a\n", "f: line 6: unexpected end of file", false },
		{ "%sXX\n1\na@b x 5,1#1\n", "f: line 7: malformed recipient line", false },
		{ "%sXX\n1\na@b", "f: line 7: line not terminated by a newline", false },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char buf[512];
		snprintf(buf, sizeof buf, t[i].text, HDR_START);
		message m;
		msg_origin o;
		spool_parse_info info;
		xbuf err;
		xbuf_init(&err, NULL);
		bool ok = spool_parse_header_ex(pool_msg, "f", NULL, sv_cstr(buf), &m, &o, &info, &err);
		CHECK(!ok);
		if (strncmp(xbuf_cstr(&err), t[i].want, strlen(t[i].want)) != 0)
			CHECK_STR(xbuf_cstr(&err), t[i].want);
		CHECK_INT(info.envelope_read, t[i].envelope);
		xbuf_free(&err);
	}
	/* Numbers are digits only: an embedded NUL or blank is not part of a number (fuzz finding:
	 * "#3\0x" was read as flags 3 by strtoll and the line could not be written back). */
	{
		static const char text[] = "1xUgy2-0007Sr-14-H\nroot 0 0\n<a@b>\n1795251666 0\nXX\n1\na#3\0x\n\n";
		message m;
		msg_origin o;
		xbuf err;
		xbuf_init(&err, NULL);
		CHECK(spool_parse_header_ex(pool_msg, "f", NULL, sv_make(text, sizeof text - 1), &m, &o, NULL, &err));
		CHECK(m.nrcpt == 1 && m.rcpt[0].address.len == 5); /* the whole line is the address */
		xbuf_reset(&err);
		static const char t2[] = "1xUgy2-0007Sr-14-H\nroot 0 0\n<a@b>\n 1795251666 0\nXX\n0\n\n";
		CHECK(!spool_parse_header_ex(pool_msg, "f", NULL, sv_make(t2, sizeof t2 - 1), &m, &o, NULL, &err));
		xbuf_free(&err);
	}
	/* A degenerate (chain) tree deeper than any balanced one is refused, not recursed into. */
	xbuf deep;
	xbuf_init(&deep, NULL);
	xbuf_puts(&deep, HDR_START);
	for (int i = 0; i < 150; i++)
		xbuf_printf(&deep, "NY a%03d\n", i);
	xbuf_puts(&deep, "NN z\n0\n\n");
	message m;
	msg_origin o;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(!spool_parse_header_ex(pool_msg, "f", NULL, xbuf_sv(&deep), &m, &o, NULL, &err));
	CHECK(strstr(xbuf_cstr(&err), "deeper than") != NULL);
	xbuf_free(&err);
	xbuf_free(&deep);
}

/* Forms older Exims wrote, taint quoters, unknown options. */
static void test_old_forms(void)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s"
		"-host_address 10.0.0.1.1234\n"
		"-interface_address ::1.25\n"
		"-acl 3 2\nab\n-acl 12 3\nx\ny\n"
		"--(lsearch)aclm _q 3\nv'w\n"
		"-some_future_option 42\n"
		"-frozen 1795251000\n"
		"YY m@x\nNN a@x\nNN z@x\n"
		"3\nr1@x 7\nr2@x 5,1,0\nr3@x e@x 3,0#1\n\n"
		"008  X: abcd\n", HDR_START);
	message m;
	msg_origin o;
	xbuf err, out;
	xbuf_init(&err, NULL);
	xbuf_init(&out, NULL);
	bool ok = spool_parse_header_ex(pool_msg, "f", NULL, sv_cstr(buf), &m, &o, NULL, &err);
	CHECK_STR(ok ? "" : xbuf_cstr(&err), "");
	CHECK(sv_eq_cstr(o.host_address, "10.0.0.1"));
	CHECK_INT(o.host_port, 1234);
	CHECK(sv_eq_cstr(o.interface_address, "::1"));
	const msg_aclvar *v = message_get_aclvar(&m, sv_cstr("acl_c3"));
	CHECK(v && sv_eq_cstr(v->value, "ab"));
	v = message_get_aclvar(&m, sv_cstr("acl_m2"));
	CHECK(v && sv_eq_cstr(v->value, "x\ny"));
	v = message_get_aclvar(&m, sv_cstr("acl_m_q"));
	CHECK(v && v->value.taint && v->value.quoter != 0);
	CHECK_INT(m.nunknown, 1);
	CHECK_INT(m.frozen, 1795251000);
	CHECK_INT(m.nnonrcpt, 3);
	CHECK(message_is_nonrecipient(&m, sv_cstr("z@x")) && !message_is_nonrecipient(&m, sv_cstr("r1@x")));
	CHECK_INT(m.nrcpt, 3);
	CHECK(sv_eq_cstr(m.rcpt[0].address, "r1@x"));
	CHECK_INT(m.rcpt[0].pno, 7);
	CHECK(sv_eq_cstr(m.rcpt[1].address, "r2@x"));
	CHECK(sv_eq_cstr(m.rcpt[2].address, "r3@x") && sv_eq_cstr(m.rcpt[2].errors_to, "e@x"));
	spool_format_header(&m, &out);
	const char *s = xbuf_cstr(&out);
	CHECK(strstr(s, "--(lsearch)aclm _q 3\nv'w\n") != NULL);
	CHECK(strstr(s, "-host_address [10.0.0.1]:1234\n") != NULL);
	CHECK(strstr(s, "-some_future_option 42\n") != NULL);
	CHECK(strstr(s, "YY m@x\nNN a@x\nNN z@x\n3\nr1@x  0,0  0,7#3\n") != NULL);
	CHECK(strstr(s, "r3@x  0,0 e@x 3,0#3\n") != NULL);
	xbuf_free(&err);
	xbuf_free(&out);
}

static void test_nonrecipient_tree(void)
{
	message *m = message_new(pool_msg);
	strcpy(m->id, "1xUgy2-0007Sr-14");
	static const char *addrs[] = { "c@x", "b@x", "a@x", "d@x", "e@x", "b@x" };
	for (size_t i = 0; i < 6; i++)
		message_add_nonrecipient(m, sv_cstr(addrs[i]));
	CHECK_INT(m->nnonrcpt, 5);
	xbuf out;
	xbuf_init(&out, NULL);
	spool_format_header(m, &out);
	/* c,b,a: rotate to b(a,c); d, e: rotate at c to d(c,e): b(a, d(c, e)) */
	CHECK(strstr(xbuf_cstr(&out), "\nYY b@x\nNN a@x\nYY d@x\nNN c@x\nNN e@x\n0\n\n") != NULL);
	xbuf_free(&out);
}

static void test_commit(void)
{
	char dir[] = "/tmp/postern-spool-test-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	for (int split = 0; split <= 1; split++) {
		spool_config sc = { .directory = dir, .split = split, .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		message *m = message_new(pool_msg);
		static msg_origin o;
		o.login = sv_cstr("root");
		m->origin = &o;
		m->sender = sv_cstr("s@x");
		message_add_recipient(m, sv_cstr("r@x"));
		message_add_header(m, 'T', sv_cstr("To: r@x\n"));
		m->body_linecount = 1;
		xbuf err;
		xbuf_init(&err, NULL);
		spool_txn *t = spool_begin_message(&sc, m, &err);
		CHECK(t != NULL);
		if (!t)
			return;
		CHECK(spool_write_body(t, "body\n", 5, &err));
		char back[8] = { 0 };
		int dfd = spool_data_fd(t);
		CHECK(dfd >= 0 && pread(dfd, back, 5, MSG_ID_LEN + 3) == 5 && strcmp(back, "body\n") == 0);
		CHECK(spool_commit(t, m, &err));
		spool_end(t);
		const char *d = spool_path(pool_msg, &sc, "input", m->id, "-D");
		const char *h = spool_path(pool_msg, &sc, "input", m->id, "-H");
		CHECK(split ? strstr(d, "/input/") && d[strlen(dir) + 7] == m->id[5] : true);
		struct stat st;
		CHECK(stat(h, &st) == 0 && (st.st_mode & 0777) == 0640);
		CHECK(stat(d, &st) == 0 && (st.st_mode & 0777) == 0640 && st.st_size == MSG_ID_LEN + 3 + 5);
		message r;
		msg_origin ro;
		spool_parse_info info;
		CHECK(spool_read_header_ex(pool_msg, &sc, m->id, &r, &ro, &info, &err));
		CHECK_INT(r.size, 8 + 5 + 1);
		char (*ids)[MSG_ID_LEN + 1];
		CHECK_INT(spool_list_ids(pool_msg, &sc, &ids, &err), 1); /* the first round removed its message */
		/* abort removes what begin created */
		message *m2 = message_new(pool_msg);
		m2->origin = &o;
		spool_txn *t2 = spool_begin_message(&sc, m2, &err);
		const char *d2 = spool_path(pool_msg, &sc, "input", m2->id, "-D");
		CHECK(t2 && stat(d2, &st) == 0);
		spool_abort(t2);
		CHECK(stat(d2, &st) != 0);
		/* the id of an existing -D is refused */
		CHECK(spool_begin(&sc, m->id, &err) == NULL);
		/* delivery side: lock, rewrite -H with a delivered address, remove */
		int fd = spool_open_locked(&sc, m->id, &err);
		CHECK(fd >= 0);
		pid_t child = fork();
		if (child == 0) /* another process cannot take the lock while we hold it */
			_exit(spool_open_locked(&sc, m->id, &err) < 0 && errno == EAGAIN ? 0 : 1);
		int status = -1;
		waitpid(child, &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		message_add_nonrecipient(&r, sv_cstr("r@x"));
		CHECK(spool_rewrite_header(&sc, &r, &err));
		message r2;
		msg_origin ro2;
		CHECK(spool_read_header(pool_msg, &sc, m->id, &r2, &ro2, &err));
		CHECK(message_is_nonrecipient(&r2, sv_cstr("r@x")));
		close(fd);
		CHECK(spool_remove_message(&sc, m->id, &err));
		CHECK(stat(h, &st) != 0 && stat(d, &st) != 0);
		CHECK(spool_open_locked(&sc, m->id, &err) < 0 && errno == ENOENT);
		xbuf_free(&err);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

static void test_bp_columns(void)
{
	static const struct { long long secs; const char *want; } ages[] = {
		{ 0, " 0m" }, { 59, " 0m" }, { 60, " 1m" }, { 5459, "90m" }, { 5460, " 2h" }, { 8999, " 2h" },
		{ 9000, " 3h" }, { 259201, "72h" }, { 262799, " 3d" }, { 302399, " 4d" }, { 432000, " 5d" },
		{ 12000000LL * 60, "8333d" },
	};
	for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++) {
		xbuf b;
		xbuf_init(&b, NULL);
		bp_format_age(ages[i].secs, &b);
		CHECK_STR(xbuf_cstr(&b), ages[i].want);
		xbuf_free(&b);
	}
	static const struct { long long n; const char *want; } sizes[] = {
		{ 283, "  283" }, { 1023, " 1023" }, { 1024, " 1.0K" }, { 1075, " 1.0K" }, { 1076, " 1.1K" },
		{ 10239, "10.0K" }, { 10240, "  10K" }, { 10751, "  10K" }, { 10752, "  11K" },
		{ 1048575, "1024K" }, { 1048576, " 1.0M" }, { 10485759, "10.0M" }, { 10485760, "  10M" },
		{ 1073741824, "1024M" },
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		xbuf b;
		xbuf_init(&b, NULL);
		bp_format_size(sizes[i].n, &b);
		CHECK_STR(xbuf_cstr(&b), sizes[i].want);
		xbuf_free(&b);
	}
}

static void test_vars(void)
{
	static msg_origin o;
	o.host_address = sv_cstr("10.1.2.3");
	o.host_port = 4567;
	o.host_name = sv_cstr("client.host");
	o.helo_name = sv_cstr("other");
	o.ident = sv_cstr("root");
	message *m = message_new(pool_msg);
	m->origin = &o;
	strcpy(m->id, "1xUgy2-0007Sr-14");
	m->sender = sv_cstr("a@b.example");
	message_add_recipient(m, sv_cstr("r1@x"));
	message_add_recipient(m, sv_cstr("r2@x"));
	message_vars v;
	message_vars_init(&v, m, NULL);
	static const struct { const char *name; const char *want; bool recip; } t[] = {
		{ "message_exim_id", "1xUgy2-0007Sr-14", false },
		{ "sender_address_domain", "b.example", false },
		{ "sender_address_local_part", "a", false },
		{ "sender_host_port", "4567", false },
		{ "sender_fullhost", "client.host (other) [10.1.2.3]", false },
		{ "sender_rcvhost", "client.host\n\t([10.1.2.3] helo=other ident=root)", false },
		{ "recipients_count", "2", false },
		{ "recipients", "r1@x, r2@x", true },
		{ "received_port", "-1", false },
		{ "proxy_session", "no", false },
		{ "proxy_target_port", "0", false },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		xbuf b;
		xbuf_init(&b, NULL);
		v.allow_recipients = t[i].recip;
		CHECK(v.p.get(v.p.ctx, sv_cstr(t[i].name), &b));
		CHECK_STR(xbuf_cstr(&b), t[i].want);
		xbuf_free(&b);
	}
	xbuf b;
	xbuf_init(&b, NULL);
	v.allow_recipients = false;
	CHECK(!v.p.get(v.p.ctx, sv_cstr("recipients"), &b)); /* not here: the engine's empty default */
	CHECK(!v.p.get(v.p.ctx, sv_cstr("no_such_variable"), &b));
	/* without a name: "[addr] (helo=.. ident=..)", and a literal HELO of the address is dropped */
	o.host_name = SV_NULL;
	o.helo_name = sv_cstr("[10.1.2.3]");
	xbuf_reset(&b);
	message_sender_rcvhost(&o, &b);
	CHECK_STR(xbuf_cstr(&b), "[10.1.2.3] (ident=root)");
	xbuf_reset(&b);
	message_sender_fullhost(&o, &b);
	CHECK_STR(xbuf_cstr(&b), "([10.1.2.3]) [10.1.2.3]");
	xbuf_free(&b);
}

static void test_model(void)
{
	message *m = message_new(pool_msg);
	message_add_header(m, message_header_type(sv_cstr("Subject")), sv_cstr("Subject: hi\n"));
	message_add_header(m, message_header_type(sv_cstr("FROM")), sv_cstr("FROM: a@b\n"));
	msg_header *old = message_add_header(m, '*', sv_cstr("To: old@x\n"));
	message_add_header(m, message_header_type(sv_cstr("to")), sv_cstr("To: x@y,\n  z@w\n"));
	message_insert_header(m, NULL, 'P', sv_cstr("Received: by me\n"));
	message_insert_header(m, old, ' ', sv_cstr("X-Before-Old: 1\n"));
	CHECK(m->headers->type == 'P' && m->headers_tail->type == 'T');
	CHECK(message_find_header(m, sv_cstr("to")) == m->headers_tail); /* the deleted one is skipped */
	CHECK(message_find_header(m, sv_cstr("from"))->type == 'F');
	CHECK(message_find_header(m, sv_cstr("cc")) == NULL);
	static const struct { const char *n; char t; } types[] = {
		{ "Bcc", 'B' }, { "cc", 'C' }, { "Message-ID", 'I' }, { "reply-to", 'R' }, { "Sender", 'S' },
		{ "X-Other", ' ' }, { "Received", 'P' },
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		CHECK_INT(message_header_type(sv_cstr(types[i].n)), types[i].t);
	m->body_linecount = 2;
	m->size = 99;
	CHECK_INT(message_header_size(m), 16 + 16 + 12 + 10 + 15); /* not the deleted To: */
	xp_message x;
	message_to_xp(m, sv_cstr("b1\nb2\n"), &x, pool_msg);
	CHECK_INT(x.nheaders, 5);
	CHECK(sv_eq_cstr(x.headers[4].name, "To") && sv_eq_cstr(x.headers[4].text, " x@y,\n  z@w\n"));
	CHECK_INT(x.message_linecount, 6 + 2);
	CHECK(sv_eq_cstr(x.body, "b1\nb2\n"));
	message_add_recipient(m, sv_cstr("r@x"));
	message_add_nonrecipient(m, sv_cstr("r@x"));
	message_add_nonrecipient(m, sv_cstr("r@x"));
	CHECK_INT(m->nnonrcpt, 1);
	CHECK(message_is_nonrecipient(m, sv_cstr("r@x")) && !message_is_nonrecipient(m, sv_cstr("q@x")));
	message_set_aclvar(m, sv_cstr("acl_m1"), sv_cstr("a"));
	message_set_aclvar(m, sv_cstr("acl_m1"), sv_cstr("b"));
	CHECK(sv_eq_cstr(message_get_aclvar(m, sv_cstr("acl_m1"))->value, "b") && !m->aclvars->next);
}

int main(void)
{
	arena_init_pools();
	RUN(test_ids);
	RUN(test_roundtrip_exim_files);
	RUN(test_parse_fields);
	RUN(test_tls_fields);
	RUN(test_aclvar_tree_order);
	RUN(test_parse_errors);
	RUN(test_old_forms);
	RUN(test_nonrecipient_tree);
	RUN(test_commit);
	RUN(test_bp_columns);
	RUN(test_vars);
	RUN(test_model);
	return unit_report("test_spool");
}
