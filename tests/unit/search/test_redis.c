/* redis lookup against real redis-server processes started in a private temp dir on loopback
 * ports and a Unix socket: reply mapping (with Exim's integer/nil bugs fixed), quote_redis,
 * errors, AUTH and SELECT, server fall-through, a 2-node cluster answering MOVED, and the
 * timeout against a server that accepts connections and never answers.
 * Exits 77 (skipped) when redis-server is not installed. */
#include "../unit.h"
#include "lookup_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "build_config.h"

static bool port_free(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		.sin_port = htons((uint16_t)port) };
	bool ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	return ok;
}

/* A free port below the ephemeral range whose cluster-bus port (+10000) is free too. */
static int free_port(void)
{
	for (int i = 0; i < 200; i++) {
		int p = 20000 + rand() % 10000;
		if (port_free(p) && port_free(p + 10000))
			return p;
	}
	return -1;
}

static int pids[4];
static int npids;

static void stop_servers(void)
{
	for (int i = 0; i < npids; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
			waitpid(pids[i], NULL, 0);
		}
}

/* Start a redis-server as our child (so we know its pid); extra is appended to its command
 * line. Returns the port, or -1. */
static int start_redis(const char *name, const char *extra)
{
	int port = free_port();
	if (port < 0 || npids >= 4)
		return -1;
	lt_sh("mkdir -p %s/%s", lt_dir, name);
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "exec redis-server --port %d --bind 127.0.0.1 --dir %s/%s --save '' "
		"--appendonly no --logfile %s/%s.log %s", port, lt_dir, name, lt_dir, name, extra);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	pids[npids++] = pid;
	for (int i = 0; i < 100; i++) {
		if (lt_sh("redis-cli -p %d ping >/dev/null 2>&1", port) == 0)
			return port;
		usleep(50000);
	}
	return -1;
}

static const char *redis(const char *servers, const char *cmd, unsigned quoter)
{
	char type[1024];
	snprintf(type, sizeof type, "redis,servers=%s", servers);
	return lt_lookup_ex(type, NULL, cmd, false, quoter != 0, quoter);
}

static const char *quote(const char *in)
{
	static char out[4][512];
	static int n;
	char *o = out[n++ % 4];
	xbuf b, err;
	xbuf_init(&b, NULL);
	xbuf_init(&err, NULL);
	if (!search_driver(SV_LIT("redis"))->quote(sv_cstr(in), SV_NULL, &b, &err))
		snprintf(o, 512, "ERR %s", xbuf_cstr(&err));
	else
		snprintf(o, 512, "%s", xbuf_cstr(&b));
	xbuf_free(&b);
	xbuf_free(&err);
	return o;
}

static void test_basic(int port)
{
	char s[128], cmd[512];
	snprintf(s, sizeof s, "127.0.0.1::%d//", port);
	unsigned qid = search_quoter_id(search_driver(SV_LIT("redis")));
	CHECK_STR(quote("objvalue plus"), "objvalue\\ plus");
	CHECK_STR(quote("a\\b\tc"), "a\\\\b\\\tc");
	snprintf(cmd, sizeof cmd, "set keyname %s", quote("objvalue plus"));
	CHECK_STR(redis(s, cmd, qid), "OK");
	CHECK_STR(redis(s, "get keyname", 0), "objvalue plus");
	CHECK_STR(redis(s, "GET nosuchkey", 0), "FAIL");       /* nil: not found (Exim: empty success) */
	CHECK_STR(redis(s, "INCR counter", 0), "1");           /* integers as numbers (Exim: "true") */
	CHECK_STR(redis(s, "INCRBY counter 41", 0), "42");
	CHECK_STR(redis(s, "EXISTS nosuchkey", 0), "0");       /* Exim: "false" */
	CHECK_STR(redis(s, "RPUSH list a b c", 0), "3");
	CHECK_STR(redis(s, "LRANGE list 0 -1", 0), "a\nb\nc");
	CHECK_STR(redis(s, "LRANGE nolist 0 -1", 0), "FAIL");  /* empty array: no data */
	/* A nil inside an array contributes nothing but keeps its separator (facts §15). */
	CHECK_STR(redis(s, "MGET keyname nosuchkey keyname", 0), "objvalue plus\n\nobjvalue plus");
	CHECK_STR(redis(s, "HSET h f1 v1 f2 v2", 0), "2");
	CHECK_STR(redis(s, "HGET h f2", 0), "v2");
	CHECK_STR(redis(s, "SET \"quoted\" x", 0), "OK");
	CHECK_STR(redis(s, "GET \"quoted\"", 0), "x");
	CHECK(lt_defer_starts(redis(s, "NOSUCHCOMMAND x", 0), "DEFER: REDIS: lookup result failed: ERR unknown command"));
	CHECK(lt_defer_starts(redis(s, "LRANGE keyname 0 -1", 0), "DEFER: REDIS: lookup result failed: WRONGTYPE"));
	/* Arrays with integers and a nested array (EVAL returns what the script builds). */
	CHECK_STR(redis(s, "EVAL return\\ {1,'two',{3,'four'}} 0", 0), "1\ntwo\n3\nfour");
	/* Commands beyond the argument limit are refused, never truncated. */
	xbuf many;
	xbuf_init(&many, NULL);
	xbuf_puts(&many, "RPUSH biglist");
	for (int i = 0; i < 1100; i++)
		xbuf_printf(&many, " %d", i);
	CHECK(lt_defer_starts(redis(s, xbuf_cstr(&many), 0), "DEFER: REDIS: more than 1024 arguments in command"));
	xbuf_reset(&many);
	xbuf_puts(&many, "RPUSH biglist");
	for (int i = 0; i < 1000; i++)
		xbuf_printf(&many, " %d", i);
	CHECK_STR(redis(s, xbuf_cstr(&many), 0), "1000");
	xbuf_free(&many);
	/* The older "servers=...;" prefix form. */
	snprintf(cmd, sizeof cmd, "servers=%s; get keyname", s);
	CHECK_STR(lt_query("redis", cmd), "objvalue plus");
	/* No servers configured anywhere. */
	CHECK_STR(lt_query("redis", "get keyname"), "DEFER: lookup of \"get keyname\" gave DEFER: no REDIS servers defined (redis_servers option)");
}

static void test_select_auth_socket(int port)
{
	char s[600];
	snprintf(s, sizeof s, "127.0.0.1::%d/3/", port);
	CHECK_STR(redis(s, "SET indb3 yes", 0), "OK");
	CHECK_STR(redis(s, "GET indb3", 0), "yes");
	snprintf(s, sizeof s, "127.0.0.1::%d//", port);
	CHECK_STR(redis(s, "GET indb3", 0), "FAIL");
	snprintf(s, sizeof s, "(%s/r1/redis.sock)//", lt_dir);
	CHECK_STR(redis(s, "GET keyname", 0), "objvalue plus");
	snprintf(s, sizeof s, "(%s/r1/redis.sock)/3/", lt_dir);
	CHECK_STR(redis(s, "GET indb3", 0), "yes");
	/* Connection refused on the first server: the next one answers. */
	snprintf(s, sizeof s, "127.0.0.1::1// : 127.0.0.1::%d//", port);
	CHECK_STR(redis(s, "GET keyname", 0), "objvalue plus");
	CHECK(lt_defer_starts(redis("127.0.0.1::1//", "GET keyname", 0), "DEFER: REDIS connection to 127.0.0.1:1/ failed: "));
	/* Require a password from now on. */
	search_tidyup();
	CHECK_INT(lt_sh("redis-cli -p %d config set requirepass s3cret >/dev/null", port), 0);
	snprintf(s, sizeof s, "127.0.0.1::%d//", port);
	CHECK(lt_defer_starts(redis(s, "GET keyname", 0), "DEFER: REDIS: lookup result failed: NOAUTH"));
	snprintf(s, sizeof s, "127.0.0.1::%d//s3cret", port);
	CHECK_STR(redis(s, "GET keyname", 0), "objvalue plus");
	snprintf(s, sizeof s, "127.0.0.1::%d/3/s3cret", port);
	CHECK_STR(redis(s, "GET indb3", 0), "yes");
	snprintf(s, sizeof s, "127.0.0.1::%d//wrong", port);
	CHECK(lt_defer_starts(redis(s, "GET keyname", 0), "DEFER: REDIS: authentication failed: "));
	lt_sh("redis-cli -p %d -a s3cret --no-auth-warning config set requirepass '' >/dev/null", port);
	search_tidyup();
}

static void test_server_closed_connection(int port)
{
	/* The server drops our cached connection (as after its timeout): one fresh attempt. */
	char s[128];
	snprintf(s, sizeof s, "127.0.0.1::%d//", port);
	CHECK_STR(redis(s, "SET before kill", 0), "OK");
	CHECK_INT(lt_sh("redis-cli -p %d client kill type normal >/dev/null", port), 0);
	CHECK_STR(redis(s, "GET before", 0), "kill");
}

static void test_stalled_server(void)
{
	/* A listener that never accepts: the kernel completes the connection, nothing answers. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof a;
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(s, 8) == 0);
	CHECK(getsockname(s, (struct sockaddr *)&a, &l) == 0);
	char type[256];
	snprintf(type, sizeof type, "redis,timeout=1,servers=127.0.0.1::%d//", ntohs(a.sin_port));
	time_t t0 = time(NULL);
	const char *r = lt_lookup_ex(type, NULL, "GET x", false, false, 0);
	time_t took = time(NULL) - t0;
	CHECK(lt_defer_starts(r, "DEFER: REDIS: query failed on 127.0.0.1:"));
	CHECK(took <= 3);
	close(s);
}

static void test_cluster(void)
{
	int a = start_redis("c1", "--cluster-enabled yes --cluster-config-file nodes.conf");
	int b = start_redis("c2", "--cluster-enabled yes --cluster-config-file nodes.conf");
	if (a < 0 || b < 0) {
		printf("SKIP cluster test: could not start cluster nodes\n");
		return;
	}
	lt_sh("redis-cli -p %d cluster addslotsrange 0 8191 >/dev/null", a);
	lt_sh("redis-cli -p %d cluster addslotsrange 8192 16383 >/dev/null", b);
	lt_sh("redis-cli -p %d cluster meet 127.0.0.1 %d >/dev/null", a, b);
	bool ok = false;
	for (int i = 0; i < 100 && !ok; i++) {
		ok = lt_sh("redis-cli -p %d cluster info | grep -q 'cluster_state:ok' && "
			"redis-cli -p %d cluster info | grep -q 'cluster_state:ok'", a, b) == 0;
		if (!ok)
			usleep(100000);
	}
	if (!ok) {
		printf("SKIP cluster test: cluster did not become ready\n");
		return;
	}
	/* "foo" hashes to slot 12182 (node b), "bar" to 5061 (node a). */
	char servers[128];
	snprintf(servers, sizeof servers, "127.0.0.1::%d// : 127.0.0.1::%d//", a, b);
	CHECK_STR(redis(servers, "SET foo onb", 0), "OK");
	CHECK_STR(redis(servers, "SET bar ona", 0), "OK");
	CHECK_STR(redis(servers, "GET foo", 0), "onb");
	CHECK_STR(redis(servers, "GET bar", 0), "ona");
	char only_a[64];
	snprintf(only_a, sizeof only_a, "127.0.0.1::%d//", a);
	CHECK(lt_defer_starts(redis(only_a, "GET foo", 0), "DEFER: REDIS: lookup result failed: MOVED 12182 "));
}

int main(void)
{
#if !LOOKUP_REDIS
	printf("SKIP: built without hiredis\n");
	return 77;
#else
	if (!lt_have("redis-server") || !lt_have("redis-cli")) {
		printf("SKIP: redis-server/redis-cli not installed\n");
		return 77;
	}
	lt_init();
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	atexit(stop_servers);
	char extra[512];
	snprintf(extra, sizeof extra, "--unixsocket %s/r1/redis.sock --unixsocketperm 700", lt_dir);
	int port = start_redis("r1", extra);
	if (port < 0) {
		printf("SKIP: redis-server did not start\n");
		return 77;
	}
	test_basic(port);
	test_select_auth_socket(port);
	test_server_closed_connection(port);
	RUN(test_stalled_server);
	RUN(test_cluster);
	search_tidyup();
	return unit_report("test_redis");
#endif
}
