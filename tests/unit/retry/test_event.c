/* Event actions: which option applies (main, transport event_action, the TPDA names and the
 * older aliases), the event's own environment ($event_*, $tpda_*, per-address values that never
 * leak from the caller's environment), ${acl} seeing the event's variables, and the failure log
 * lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "core/addr.h"
#include "core/event.h"
#include "core/message.h"
#include "core/transport.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "../unit.h"

static char tmpdir[] = "/tmp/event_test_XXXXXX";

static const char *config_text =
	"primary_hostname = mail.test.ex\n"
	"spool_directory = %s\n"
	"tpda_event_action = main:$event_name:<$local_part>:<$domain>:<$host>:$host_port:<$message_id>\n"
	"begin acl\n"
	"ev:\n"
	"  accept message = acl saw $event_name/$event_data/$local_part/$tpda_delivery_confirmation\n"
	"begin routers\n"
	"r1:\n"
	"  driver = accept\n"
	"  transport = t1\n"
	"begin transports\n"
	"t1:\n"
	"  driver = smtp\n"
	"  event_action = ${acl{ev}}\n"
	"t2:\n"
	"  driver = smtp\n"
	"  tpda_delivery_action = ${if eq{$tpda_delivery_ip}{}{}{${lookup{x}lsearch{/nonexistent/file}}}}\n"
	"  tpda_host_defer_action = host-defer $tpda_defer_errno $tpda_defer_errstr\n"
	"t3:\n"
	"  driver = smtp\n"
	"  delivery_event_action = t3:$tpda_event:$tpda_data:$tpda_delivery_ip:$tpda_delivery_port:"
	"$tpda_delivery_fqdn:$tpda_delivery_local_part:$tpda_delivery_domain:$router_name:$transport_name:"
	"$event_defer_errno:$sending_ip_address\n"
	"t4:\n"
	"  driver = smtp\n"
	"  event_action = ${if eq{$event_name}{tcp:connect}{no thanks}fail}\n"
	"t5:\n"
	"  driver = smtp\n"
	"  event_action = ${nosuchop{x}}\n";

static bool stale_var(void *ctx, sv name, xbuf *out)
{
	(void)ctx;
	if (sv_eq_cstr(name, "local_part") || sv_eq_cstr(name, "domain") || sv_eq_cstr(name, "host") ||
		sv_eq_cstr(name, "router_name")) {
		xbuf_puts(out, "STALE");
		return true;
	}
	if (sv_eq_cstr(name, "message_id")) {
		xbuf_puts(out, "1xUjZj-00020V-2Y");
		return true;
	}
	return false;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return strdup(buf);
}

static void test_which(void)
{
	const driver_instance *t1 = tp_find("t1"), *t2 = tp_find("t2"), *t3 = tp_find("t3");
	CHECK(t1 && t2 && t3);
	CHECK_STR(event_action_for(NULL, "msg:complete"),
		"main:$event_name:<$local_part>:<$domain>:<$host>:$host_port:<$message_id>");
	CHECK_STR(event_action_for(t1, "msg:delivery"), "${acl{ev}}");
	/* the transport's own option only: no fallback to the main one */
	CHECK(event_action_for(t2, "tcp:connect") == NULL);
	CHECK(event_action_for(t2, "msg:fail:delivery") == NULL);
	CHECK(event_action_for(t2, "msg:delivery") != NULL);
	CHECK_STR(event_action_for(t2, "msg:host:defer"), "host-defer $tpda_defer_errno $tpda_defer_errstr");
	CHECK(strncmp(event_action_for(t3, "tcp:close"), "t3:", 3) == 0);
}

static void test_environment(void)
{
	arena *a = arena_new("t");
	xbuf res;
	xbuf_init(&res, a);
	/* the caller's environment holds a previous address's values */
	xp_env base;
	xp_env_init(&base, a);
	xp_provider stale = { .get = stale_var };
	xp_env_push_provider(&base, &stale);
	event_vars v = { 0 };
	event_raise_for(NULL, "msg:complete", SV_NULL, &v, &base, &res);
	CHECK_STR(xbuf_cstr(&res), "main:msg:complete:<>:<>:<>:0:<1xUjZj-00020V-2Y>");

	/* a delivery: the address's values and the host */
	address_item *ad = route_new_address(a, sv_cstr("User@Remote.Example"));
	ad->router = conf_driver_instances("routers");
	ad->confirmation = sv_cstr("250 OK queued as 12345");
	v.addr = ad;
	v.transport_name = "t3";
	v.host = sv_cstr("mx.remote.example");
	v.host_address = sv_cstr("127.0.0.1");
	v.host_port = 2599;
	v.sending_ip = sv_cstr("127.0.0.9");
	v.defer_errno = 111;
	event_raise_for(tp_find("t3"), "msg:delivery", sv_cstr("250 OK queued as 12345"), &v, &base, &res);
	CHECK_STR(xbuf_cstr(&res), "t3:msg:delivery:250 OK queued as 12345:127.0.0.1:2599:mx.remote.example:"
		"user:remote.example:r1:t3:111:127.0.0.9");

	/* connection events show no router (Exim 4.96), the address's local part still */
	event_raise_for(tp_find("t3"), "tcp:connect", SV_NULL, &v, &base, &res);
	CHECK_STR(xbuf_cstr(&res), "t3:tcp:connect::127.0.0.1:2599:mx.remote.example:"
		"user:remote.example::t3:111:127.0.0.9");

	/* ${acl} runs with the event's variables */
	event_raise_for(tp_find("t1"), "msg:delivery", sv_cstr("250 OK"), &v, &base, &res);
	CHECK_STR(xbuf_cstr(&res), "acl saw msg:delivery/250 OK/user/250 OK queued as 12345");

	/* without a base: the message's own variables */
	message *m = message_new(a);
	memcpy(m->id, "1xUjaP-0002dG-0K", 17);
	event_vars mv = { .m = m };
	event_raise_for(NULL, "msg:complete", SV_NULL, &mv, NULL, &res);
	CHECK_STR(xbuf_cstr(&res), "main:msg:complete:<>:<>:<>:0:<1xUjaP-0002dG-0K>");

	/* a non-empty result is returned; a forced failure says nothing */
	event_raise_for(tp_find("t4"), "tcp:connect", SV_NULL, &v, &base, &res);
	CHECK_STR(xbuf_cstr(&res), "no thanks");
	event_raise_for(tp_find("t4"), "tcp:close", SV_NULL, &v, &base, &res);
	CHECK_STR(xbuf_cstr(&res), "");
	/* no action: nothing */
	xbuf_puts(&res, "old");
	event_raise(NULL, "main", "msg:complete", SV_NULL, &v, &base, &res);
	CHECK_STR(xbuf_cstr(&res), "");
	/* TPDA actions' results are discarded */
	event_raise_for(tp_find("t2"), "msg:host:defer", SV_NULL, &v, &base, &res);
	CHECK_STR(xbuf_cstr(&res), "");
	arena_free(a);
}

static void test_failures(void)
{
	arena *a = arena_new("t");
	xbuf res;
	xbuf_init(&res, a);
	address_item *ad = route_new_address(a, sv_cstr("u@remote.example"));
	event_vars v = { .addr = ad, .host_address = sv_cstr("127.0.0.1"), .host_port = 25 };
	event_raise_for(tp_find("t5"), "msg:delivery", sv_cstr("250 OK"), &v, NULL, &res);
	CHECK_STR(xbuf_cstr(&res), "");
	event_raise_for(tp_find("t2"), "msg:delivery", sv_cstr("250 OK"), &v, NULL, &res);
	char path[300];
	snprintf(path, sizeof path, "%s/mainlog", tmpdir);
	char *log = read_file(path);
	CHECK(strstr(log, "failed to expand event_action msg:delivery in t5: \"${nosuchop\" is not a known operator") != NULL);
	CHECK(strstr(log, "failed to expand tpda_deliver_action in t2: ") != NULL);
	free(log);
	snprintf(path, sizeof path, "%s/paniclog", tmpdir);
	log = read_file(path);
	CHECK(strstr(log, "failed to expand event_action msg:delivery in t5") != NULL);
	free(log);
	arena_free(a);
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(tmpdir))
		return 1;
	char conf[300];
	snprintf(conf, sizeof conf, "%s/event.conf", tmpdir);
	FILE *f = fopen(conf, "w");
	fprintf(f, config_text, tmpdir);
	fclose(f);
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!conf_load(conf, NULL, 0, &err)) {
		fprintf(stderr, "config: %s\n", xbuf_cstr(&err));
		return 1;
	}
	log_config lc;
	log_config_default(&lc);
	char logpath[300];
	snprintf(logpath, sizeof logpath, "%s/%%slog", tmpdir);
	lc.file_path = logpath;
	lc.echo = LOG_ECHO_NONE;
	if (!log_configure(&lc, &err))
		return 1;
	RUN(test_which);
	RUN(test_environment);
	RUN(test_failures);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return unit_report("test_event");
}
