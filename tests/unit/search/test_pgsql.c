/* pgsql lookup against a real PostgreSQL server: initdb into a private temp dir, started on a
 * loopback port and a Unix socket in that dir (as the "postgres" user when run as root).
 * Exits 77 (skipped) with the reason when the server cannot be set up. */
#include "../unit.h"
#include "lookup_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "build_config.h"

static int port;
static bool as_postgres;
static bool started;

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof a;
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(s, (struct sockaddr *)&a, &l) < 0)
		return -1;
	close(s);
	return ntohs(a.sin_port);
}

static const char *runas(void)
{
	return as_postgres ? "runuser -u postgres -- " : "";
}

static void stop_server(void)
{
	if (started)
		lt_sh("%spg_ctl -D %s/data -m immediate stop >/dev/null 2>&1", runas(), lt_dir);
}

static const char *pg(const char *servers, const char *query)
{
	char type[1024];
	snprintf(type, sizeof type, "pgsql,servers=%s", servers);
	return lt_lookup(type, NULL, query);
}

static const char *quote(const char *in)
{
	static char out[4][512];
	static int n;
	char *o = out[n++ % 4];
	xbuf b, err;
	xbuf_init(&b, NULL);
	xbuf_init(&err, NULL);
	search_driver(SV_LIT("pgsql"))->quote(sv_cstr(in), SV_NULL, &b, &err);
	snprintf(o, 512, "%s", xbuf_cstr(&b));
	xbuf_free(&b);
	xbuf_free(&err);
	return o;
}

static void test_queries(void)
{
	char s[512], q[1024];
	snprintf(s, sizeof s, "127.0.0.1::%d/postgres/pgu/", port);
	CHECK_STR(pg(s, "select 1"), "1");
	CHECK_STR(pg(s, "create table users (id text, home text, name text)"), "0");
	CHECK_STR(pg(s, "insert into users values ('userx', '/home/userx', 'Mister X'), ('usery', '/home/y', '')"), "2");
	CHECK_STR(pg(s, "select name from users where id='userx'"), "Mister X");
	CHECK_STR(pg(s, "select home,name from users where id='userx'"), "home=/home/userx name=\"Mister X\" ");
	CHECK_STR(pg(s, "select home,name from users order by id"),
		"home=/home/userx name=\"Mister X\" \nhome=/home/y name=\"\" ");
	CHECK_STR(pg(s, "select name from users where id='nobody'"), "FAIL");
	CHECK_STR(pg(s, "update users set home='/h' where id='nobody'"), "0");
	CHECK(lt_defer_starts(pg(s, "selec 1"), "DEFER: PGSQL: query failed: ERROR:  syntax error"));
	snprintf(q, sizeof q, "select name from users where id='%s'", quote("o'neil\\"));
	CHECK_STR(pg(s, q), "FAIL");
	CHECK_STR(pg(s, "select 'it''s'"), "it's");
	/* The first server refuses connections: the second answers. */
	snprintf(s, sizeof s, "127.0.0.1::1/postgres/pgu/ : 127.0.0.1::%d/postgres/pgu/", port);
	CHECK_STR(pg(s, "select 'second'"), "second");
	CHECK(lt_defer_starts(pg("127.0.0.1::1/postgres/pgu/", "select 1"), "DEFER: PGSQL connection failed: "));
	/* A Unix socket given as its path. */
	snprintf(s, sizeof s, "(%s/.s.PGSQL.%d)/postgres/pgu/", lt_dir, port);
	CHECK_STR(pg(s, "select 'socket'"), "socket");
	/* The older "servers=...;" prefix. */
	snprintf(q, sizeof q, "servers=127.0.0.1::%d/postgres/pgu/; select 'prefix'", port);
	CHECK_STR(lt_query("pgsql", q), "prefix");
	/* The server ends our cached session: one fresh attempt succeeds. */
	snprintf(s, sizeof s, "127.0.0.1::%d/postgres/pgu/", port);
	CHECK_STR(pg(s, "select 'before'"), "before");
	char other[512];
	snprintf(other, sizeof other, "(%s/.s.PGSQL.%d)/postgres/pgu/", lt_dir, port);
	const char *killed = pg(other, "select count(pg_terminate_backend(pid)) from pg_stat_activity "
		"where pid <> pg_backend_pid() and usename = 'pgu'");
	CHECK(atoi(killed) >= 1);
	CHECK_STR(pg(s, "select 'after'"), "after");
	CHECK_STR(lt_query("pgsql", "select 1"), "DEFER: lookup of \"select 1\" gave DEFER: no PostgreSQL servers defined (pgsql_servers option)");
	CHECK(lt_defer_starts(pg("justaname", "select 1"), "DEFER: server \"justaname\" not found"));
}

static void test_stalled_server(void)
{
	/* A listener that never accepts: connecting times out instead of hanging. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof a;
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(s, 8) == 0);
	CHECK(getsockname(s, (struct sockaddr *)&a, &l) == 0);
	char type[256];
	snprintf(type, sizeof type, "pgsql,timeout=2,servers=127.0.0.1::%d/db/u/", ntohs(a.sin_port));
	time_t t0 = time(NULL);
	const char *r = lt_lookup_ex(type, NULL, "select 1", false, false, 0);
	CHECK(lt_defer_starts(r, "DEFER: PGSQL connection failed: "));
	CHECK(time(NULL) - t0 <= 4);
	close(s);
	/* A query that outlasts the timeout is abandoned (and its connection not reused). */
	char srv[256];
	snprintf(srv, sizeof srv, "pgsql,timeout=1,servers=127.0.0.1::%d/postgres/pgu/", port);
	t0 = time(NULL);
	CHECK(lt_defer_starts(lt_lookup_ex(srv, NULL, "select pg_sleep(5)", false, false, 0),
		"DEFER: PGSQL: query timed out after 1 seconds"));
	CHECK(time(NULL) - t0 <= 3);
	CHECK_STR(lt_lookup_ex(srv, NULL, "select 'next'", false, false, 0), "next");
}

static void test_quote(void)
{
	/* Exim 4.96: ' doubled; " and \ backslashed; control characters as escapes. */
	CHECK_STR(quote("a'b\"c\\d"), "a''b\\\"c\\\\d");
	CHECK_STR(quote("a\nb\tc\rd\be"), "a\\nb\\tc\\rd\\be");
	CHECK_STR(quote("plain"), "plain");
}

int main(void)
{
#if !LOOKUP_PGSQL
	printf("SKIP: built without libpq\n");
	return 77;
#else
	if (!lt_have("initdb") || !lt_have("pg_ctl")) {
		printf("SKIP: initdb/pg_ctl not installed\n");
		return 77;
	}
	lt_init();
	test_quote();
	as_postgres = geteuid() == 0;
	if (as_postgres && lt_sh("chown postgres %s", lt_dir) != 0) {
		printf("SKIP: cannot hand the temp dir to the postgres user\n");
		return 77;
	}
	port = free_port();
	if (lt_sh("%sinitdb -N -D %s/data -A trust -U pgu >%s/initdb.log 2>&1", runas(), lt_dir, lt_dir) != 0) {
		printf("SKIP: initdb failed (see its log)\n");
		return 77;
	}
	if (lt_sh("%spg_ctl -D %s/data -o \"-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off\" "
		"-l %s/pg.log -w start >/dev/null 2>&1", runas(), lt_dir, port, lt_dir, lt_dir) != 0) {
		printf("SKIP: postgres did not start\n");
		return 77;
	}
	started = true;
	atexit(stop_server);
	test_queries();
	test_stalled_server();
	search_tidyup();
	return unit_report("test_pgsql");
#endif
}
