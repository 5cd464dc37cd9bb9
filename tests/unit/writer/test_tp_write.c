/* The message writer against Exim 4.96's own output (tests/golden/tpwrite: capture.sh made Exim
 * deliver each message through each transport of exim.conf with appendfile; the spool files it
 * wrote are kept beside what the transport wrote). Here the same spool files go through
 * tp_write_fd (push) and tp_reader (pull, in odd-sized pieces, rewound, measured), with the
 * same transport options, and the bytes must match. Plus the failure texts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/addr.h"
#include "core/spool.h"
#include "core/tp_write.h"
#include "core/transport.h"
#include "unit.h"

#define GOLD "../../golden/tpwrite/"

static xp_env env;

static bool slurp(const char *path, xbuf *out)
{
	int e;
	return spool_read_file(path, (size_t)64 << 20, out, &e);
}

/* Per-transport settings that belong to appendfile (its private options): the writer is told
 * them by the transport, here by this table. */
static const struct tcase {
	const char *transport;
	bool crlf;
	const char *check, *escape;
	const char *prefix;   /* NULL: the first line of the expected output (the mbox "From " line) */
	const char *suffix;
} tcases[] = {
	{ "t_plain", false, "From ", ">From ", NULL, "\n" },
	{ "t_crlf", true, ".", "..", "", "" },
	{ "t_crlfpfx", true, ".", "..", "P1\nP2\n.x\n", "S1\n.\n" },
	{ "t_bodyonly", false, "From ", ">From ", NULL, "\n" },
	{ "t_hdronly", false, "From ", ">From ", NULL, "\n" },
	{ "t_filter", false, "From ", ">From ", NULL, "\n" },
	{ "t_filtercrlf", true, ".", "..", "PFX\n", "SFX\n" },
	{ "t_filterargs", false, "From ", ">From ", NULL, "\n" },
	{ "t_fquiet", false, "From ", ">From ", NULL, "\n" },
	{ "t_longcheck", false, "abcdef", "Z", "", "" },
	{ "t_hrewrite", false, "From ", ">From ", NULL, "\n" },
};

typedef struct loaded {
	message m;
	msg_origin o;
	int fd;
	address_item *addr;
	message_vars mv;
	xp_provider rv;
	xp_env env;
} loaded;

static bool load_case(const char *name, loaded *L)
{
	char path[512];
	xbuf text, err;
	xbuf_init(&text, pool_msg);
	xbuf_init(&err, pool_msg);
	snprintf(path, sizeof path, GOLD "%s-H", name);
	if (!slurp(path, &text))
		return false;
	if (!spool_parse_header_ex(pool_msg, path, NULL, xbuf_sv(&text), &L->m, &L->o, NULL, &err)) {
		fprintf(stderr, "%s: %s\n", name, xbuf_cstr(&err));
		return false;
	}
	L->m.origin = &L->o;
	snprintf(path, sizeof path, GOLD "%s-D", name);
	L->fd = open(path, O_RDONLY);
	if (L->fd < 0)
		return false;
	/* What router r1 of exim.conf gives the address. */
	L->addr = route_new_address(pool_msg, sv_tainted(SV_LIT("u1@test.example")));
	L->addr->headers_add = SV_LIT("X-Router-Add: yes\nX-Router-Lp: u1");
	L->addr->headers_remove = SV_LIT("X-Kill-Router");
	L->env = env;
	message_vars_init(&L->mv, &L->m, &L->o);
	xp_env_push_provider(&L->env, &L->mv.p);
	route_vars_push(&L->env, &L->rv, L->addr);
	return true;
}

static void opts_for(loaded *L, const struct tcase *tc, sv prefix, tp_write_opts *o)
{
	memset(o, 0, sizeof *o);
	o->m = &L->m;
	o->data_fd = L->fd;
	o->t = tp_find(tc->transport);
	o->addrs = L->addr;
	o->env = &L->env;
	o->flags = tc->crlf ? TPW_CRLF : 0;
	o->prefix = prefix;
	o->suffix = sv_cstr(tc->suffix);
	o->check_string = sv_cstr(tc->check);
	o->escape_string = sv_cstr(tc->escape);
}

static void check_case(const char *name, const char *transport)
{
	const struct tcase *tc = NULL;
	for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++)
		if (strcmp(tcases[i].transport, transport) == 0)
			tc = &tcases[i];
	CHECK(tc != NULL);
	if (!tc)
		return;
	loaded L;
	CHECK(load_case(name, &L));
	char path[512];
	xbuf want;
	xbuf_init(&want, pool_msg);
	snprintf(path, sizeof path, GOLD "%s.out", name);
	CHECK(slurp(path, &want));
	sv prefix = sv_cstr(tc->prefix);
	if (!tc->prefix) {
		const char *nl = memchr(want.p, '\n', want.len);
		prefix = sv_make(want.p, nl ? (size_t)(nl - want.p) + 1 : 0);
	}
	tp_write_opts o;
	opts_for(&L, tc, prefix, &o);

	/* push */
	FILE *tmp = tmpfile();
	xbuf err, got;
	xbuf_init(&err, pool_msg);
	xbuf_init(&got, pool_msg);
	int errnum = 0;
	bool ok = tp_write_fd(&o, fileno(tmp), 10, &err, &errnum);
	if (!ok)
		fprintf(stderr, "%s: %s\n", name, xbuf_cstr(&err));
	CHECK(ok);
	long n = ftell(tmp) >= 0 ? lseek(fileno(tmp), 0, SEEK_END) : -1;
	xbuf_reserve(&got, (size_t)n + 1);
	got.len = (size_t)pread(fileno(tmp), got.p, (size_t)n, 0);
	fclose(tmp);
	bool same = got.len == want.len && memcmp(got.p, want.p, got.len) == 0;
	if (!same) {
		fprintf(stderr, "%s (%s): output differs from Exim's (%zu vs %zu bytes)\n", name, transport,
			got.len, want.len);
		snprintf(path, sizeof path, "/tmp/tpw-%s.got", name);
		FILE *f = fopen(path, "w");
		if (f) {
			fwrite(got.p, 1, got.len, f);
			fclose(f);
		}
	}
	CHECK(same);

	/* pull, in pieces of odd sizes, twice (rewind), unless a filter makes rewinding impossible */
	xbuf e2;
	xbuf_init(&e2, pool_msg);
	tp_reader *r = tp_reader_open(pool_msg, &o, &e2);
	CHECK(r != NULL);
	if (!r)
		return;
	bool filtered = tp_opt_str(o.t, "transport_filter") != NULL;
	for (int pass = 0; pass < (filtered ? 1 : 2); pass++) {
		xbuf p;
		xbuf_init(&p, NULL);
		char buf[37];
		ssize_t k;
		size_t piece = 1;
		while ((k = tp_reader_read(r, buf, piece)) > 0) {
			xbuf_put(&p, buf, (size_t)k);
			piece = piece % 37 + 1;
		}
		CHECK_INT(k, 0);
		CHECK(p.len == want.len && memcmp(p.p, want.p, p.len) == 0);
		xbuf_free(&p);
		if (pass == 0)
			CHECK(tp_reader_rewind(r) == !filtered);
	}
	tp_reader_close(r);

	/* measure: the unfiltered output's size and lines */
	if (!filtered) {
		long long bytes, lines, wl = 0;
		CHECK(tp_reader_measure(&o, &bytes, &lines, &e2));
		for (size_t i = 0; i < want.len; i++)
			wl += want.p[i] == '\n';
		CHECK_INT(bytes, (long long)want.len);
		CHECK_INT(lines, wl);
	}
	close(L.fd);
}

static void test_goldens(void)
{
	FILE *f = fopen(GOLD "cases", "r");
	CHECK(f != NULL);
	if (!f)
		return;
	char line[256], name[64], tp[64], msg[64];
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#' || sscanf(line, "%63s %63s %63s", name, tp, msg) != 3)
			continue;
		check_case(name, tp);
		n++;
	}
	fclose(f);
	CHECK(n >= 10);
}

/* Options whose results are not in the goldens: Delivery-date:, size limits, failures. */
static void test_failures(void)
{
	loaded L;
	CHECK(load_case("plain1", &L));
	const struct tcase plain = { "t_plain", false, NULL, NULL, "", "" };
	tp_write_opts o;
	opts_for(&L, &plain, SV_LIT(""), &o);
	o.t = NULL;
	o.flags = TPW_DELIVERY_DATE | TPW_NO_BODY;
	xbuf err;
	xbuf_init(&err, pool_msg);
	tp_reader *r = tp_reader_open(pool_msg, &o, &err);
	char buf[4096];
	ssize_t k = tp_reader_read(r, buf, sizeof buf - 1);
	CHECK(k > 20);
	buf[k > 0 ? k : 0] = 0;
	CHECK(strncmp(buf, "Delivery-date: ", 15) == 0);
	CHECK(strstr(buf, "\nX-Router-Add: yes\n") != NULL);
	tp_reader_close(r);

	/* a byte limit on what is written */
	o.flags = 0;
	o.size_limit = 100;
	FILE *tmp = tmpfile();
	int errnum = 0;
	CHECK(!tp_write_fd(&o, fileno(tmp), 0, &err, &errnum));
	CHECK_INT(errnum, EFBIG);
	fclose(tmp);
	o.size_limit = 0;

	/* the transport's message_size_limit, as Exim words it */
	xbuf_reset(&err);
	o.t = tp_find("t_sizelim");
	CHECK_INT(tp_message_size_check(o.t, o.env, o.m, &err), 1);
	CHECK_STR(xbuf_cstr(&err), "message is too big (transport limit = 100)");

	struct { const char *tp; int errnum; const char *text; } fails[] = {
		{ "t_ffail", TPW_ERRNO_FILTER_FAIL, "transport filter process failed (3) while writing to /x/mbox" },
		{ "t_fnoexec", TPW_ERRNO_FILTER_FAIL,
			"transport filter process failed (127) while writing to /x/mbox: unable to execute command" },
		{ "t_fexpfail", ADDR_ERRNO_UNKNOWN, "Expansion of \"${if}\" from command \"/bin/cat ${if}\" in "
			"transport filter failed: condition name expected, but found \"}\"" },
		{ "t_haddfail", TPW_ERRNO_HEADERS, "failed to expand headers_add or headers_remove while writing "
			"to /x/mbox: condition name expected, but found \"}\"" },
		{ "t_hremfail", TPW_ERRNO_HEADERS, "failed to expand headers_add or headers_remove while writing "
			"to /x/mbox: condition name expected, but found \"}\"" },
		{ "t_ftimeout", ETIMEDOUT, "error while writing to /x/mbox" },
		{ "t_ftaint", TPW_ERRNO_TAINT, "Tainted arg 2 for transport filter command: 'u1'" },
	};
	for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
		o.t = tp_find(fails[i].tp);
		CHECK(o.t != NULL);
		o.dest_name = "/x/mbox";
		xbuf_reset(&err);
		tmp = tmpfile();
		errnum = 0;
		CHECK(!tp_write_fd(&o, fileno(tmp), 0, &err, &errnum));
		CHECK_INT(errnum, fails[i].errnum);
		CHECK_STR(xbuf_cstr(&err), fails[i].text);
		fclose(tmp);
	}
	close(L.fd);
}

/* A big body streams through in constant memory: the peak resident size may not grow by more
 * than a few pieces. TPW_BIG_MB sets the size (default 24 MB; the report's figure used 100). */
static long max_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_big_body(void)
{
	loaded L;
	CHECK(load_case("crlf1", &L));
	close(L.fd);
	const char *mb_env = getenv("TPW_BIG_MB");
	long mb = mb_env ? atol(mb_env) : 24;
	FILE *d = tmpfile();
	fprintf(d, "%s-D\n", L.m.id);
	static char line[1024];
	memset(line, 'x', sizeof line - 1);
	line[sizeof line - 1] = '\n';
	line[0] = '.';
	for (long i = 0; i < mb * 1024; i++)
		fwrite(line, 1, sizeof line, d);
	fflush(d);
	L.fd = fileno(d);
	const struct tcase crlf = { "t_crlf", true, ".", "..", "", "" };
	tp_write_opts o;
	opts_for(&L, &crlf, SV_LIT(""), &o);
	long before = max_rss_kb();
	int devnull = open("/dev/null", O_WRONLY);
	xbuf err;
	xbuf_init(&err, pool_msg);
	int errnum;
	CHECK(tp_write_fd(&o, devnull, 0, &err, &errnum));
	long long bytes, lines;
	CHECK(tp_reader_measure(&o, &bytes, &lines, &err));
	/* every body line gains a CR and a second dot */
	CHECK(lines >= mb * 1024);
	CHECK(bytes >= mb * 1024 * (long long)(sizeof line + 2));
	long grew = max_rss_kb() - before;
	if (mb_env)
		fprintf(stderr, "big body: %ld MB written twice, peak RSS grew by %ld KB\n", mb, grew);
	CHECK(grew < 4096);
	close(devnull);
	fclose(d);
}

int main(void)
{
	arena_init_pools();
	xbuf err;
	xbuf_init(&err, pool_perm);
	conf_define defs[] = { { "SPOOL", "/nonexistent" } };
	if (!conf_load(GOLD "exim.conf", defs, 1, &err)) {
		fprintf(stderr, "config: %s\n", xbuf_cstr(&err));
		return 1;
	}
	xp_env_init(&env, pool_scratch);
	env.state = pool_perm;
	RUN(test_goldens);
	RUN(test_failures);
	RUN(test_big_body);
	return unit_report("test_tp_write");
}
