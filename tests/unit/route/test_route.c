/* The router engine on a loaded configuration: preconditions (affixes, caseful local parts,
 * senders, condition, require_files, verify modes), redirect items and their errors, unseen,
 * pass_router, more, manualroute host lists with ports and self, variables seen by routers,
 * and route_verify() as the ACL verify callback uses it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/acl.h"
#include "core/addr.h"
#include "core/message.h"
#include "core/route_verify.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "../unit.h"

static char tmpdir[] = "/tmp/route_test_XXXXXX";

static const char *config_text =
	"primary_hostname = mail.test.ex\n"
	"qualify_domain = test.ex\n"
	"spool_directory = %s\n"
	"begin acl\n"
	"rcpt:\n"
	"  require verify = recipient\n"
	"  accept\n"
	"mail:\n"
	"  require verify = sender/no_details\n"
	"  accept\n"
	"begin routers\n"
	"affix:\n"
	"  driver = accept\n"
	"  local_part_prefix = pre- : *=\n"
	"  local_part_suffix = -sfx\n"
	"  local_part_suffix_optional\n"
	"  local_parts = base\n"
	"  address_data = P=$local_part_prefix V=$local_part_prefix_v S=$local_part_suffix L=$local_part\n"
	"  transport = t\n"
	"caseful:\n"
	"  driver = accept\n"
	"  caseful_local_part\n"
	"  local_parts = CaseOnly\n"
	"  transport = t\n"
	"senders:\n"
	"  driver = accept\n"
	"  local_parts = sendercheck\n"
	"  senders = boss@test.ex\n"
	"  transport = t\n"
	"files:\n"
	"  driver = accept\n"
	"  local_parts = needfile\n"
	"  require_files = %s/flag\n"
	"  transport = t\n"
	"rcptonly:\n"
	"  driver = accept\n"
	"  local_parts = vr\n"
	"  no_verify_sender\n"
	"  transport = t\n"
	"redir:\n"
	"  driver = redirect\n"
	"  local_parts = list : bad : nofail : blackhole : inc : single\n"
	"  allow_fail\n"
	"  data = ${if eq{$local_part}{list}{a, b@other.ex, |/bin/cmd, /var/f}{${if eq{$local_part}{bad}"
	"{:fail: bad one}{${if eq{$local_part}{blackhole}{:blackhole:}{${if eq{$local_part}{inc}"
	"{:include:%s/inc}{${if eq{$local_part}{single}{a}{:defer: no}}}}}}}}}}\n"
	"  pipe_transport = t\n"
	"fwdfile:\n"
	"  driver = redirect\n"
	"  local_parts = fwdmissing : fwddir\n"
	"  file = ${if eq{$local_part}{fwddir}{/nonexistent-dir/.forward}{%s/nofile}}\n"
	"seen:\n"
	"  driver = accept\n"
	"  local_parts = copy\n"
	"  unseen\n"
	"  transport = t\n"
	"passer:\n"
	"  driver = manualroute\n"
	"  domains = pass.ex\n"
	"  route_list = * 198.51.100.1\n"
	"  self = pass\n"
	"  ignore_target_hosts = 198.51.100.1\n"
	"  host_find_failed = pass\n"
	"  pass_router = remote\n"
	"  transport = t\n"
	"nomore:\n"
	"  driver = redirect\n"
	"  local_parts = stop\n"
	"  data =\n"
	"  no_more\n"
	"props:\n"
	"  driver = accept\n"
	"  local_parts = props\n"
	"  headers_add = <; X-A: $local_part ; X-B: ${if eq{1}{2}{x}fail} ; X-C: c\\td\n"
	"  headers_remove = X-D : X-$local_part\n"
	"  errors_to = err@test.ex\n"
	"  user = daemon\n"
	"  group = 0\n"
	"  transport = t\n"
	"shuffle:\n"
	"  driver = manualroute\n"
	"  domains = shuffle.ex\n"
	"  route_list = * 198.51.100.11:198.51.100.12:198.51.100.13:198.51.100.14:198.51.100.15 randomize\n"
	"  transport = t\n"
	"plain:\n"
	"  driver = accept\n"
	"  local_parts = a : b : copy : stop : vr\n"
	"  domains = test.ex\n"
	"  transport = t\n"
	"remote:\n"
	"  driver = manualroute\n"
	"  route_list = other.ex 198.51.100.2:198.51.100.5::2525 ; pass.ex 198.51.100.3 ; self.ex 127.0.0.1 ; "
	"^(.*)\\.regex\\.ex\\$ 198.51.100.$1\n"
	"  transport = t\n"
	"begin transports\n"
	"t:\n"
	"  driver = smtp\n";

static xp_env env;

static route_rc route_one(route_mode mode, const char *address, sv sender, route_ctx *c)
{
	route_ctx_init(c, pool_msg, &env, mode, sender);
	c->verify = mode == ROUTE_MODE_VERIFY_RECIPIENT || mode == ROUTE_MODE_VERIFY_SENDER;
	return route_chain(c, route_new_address(pool_msg, sv_cstr(address)));
}

static const char *str(sv v)
{
	return v.p ? sv_dup(pool_msg, v) : NULL;
}

static void test_affixes(void)
{
	route_ctx c;
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "pre-base-sfx@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK(c.res.remote && strcmp(c.res.remote->router->name, "affix") == 0);
	CHECK_STR(str(c.res.remote->address_data), "P=pre- V= S=-sfx L=base");
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "xyz=Base@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_STR(str(c.res.remote->address_data), "P=xyz= V=xyz S= L=base");
	/* The prefix is mandatory: "base" alone falls through to the end. */
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "base@test.ex", SV_NULL, &c), ROUTE_FAIL);
	CHECK_STR(str(c.res.failed->message), "Unrouteable address");
}

static void test_preconditions(void)
{
	route_ctx c;
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "CaseOnly@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "caseonly@test.ex", SV_NULL, &c), ROUTE_FAIL);
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "sendercheck@test.ex", SV_LIT("boss@test.ex"), &c), ROUTE_OK);
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "sendercheck@test.ex", SV_LIT("x@test.ex"), &c), ROUTE_FAIL);
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "needfile@test.ex", SV_NULL, &c), ROUTE_FAIL);
	char flag[300];
	snprintf(flag, sizeof flag, "%s/flag", tmpdir);
	FILE *f = fopen(flag, "w");
	fclose(f);
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "needfile@test.ex", SV_NULL, &c), ROUTE_OK);
	unlink(flag);
	/* no_verify_sender: skipped when verifying a sender, used otherwise. */
	CHECK_INT(route_one(ROUTE_MODE_VERIFY_RECIPIENT, "vr@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_STR(c.res.remote->router->name, "rcptonly");
	CHECK_INT(route_one(ROUTE_MODE_VERIFY_SENDER, "vr@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_STR(c.res.remote->router->name, "plain");
}

static size_t count(const address_item *a)
{
	size_t n = 0;
	for (; a; a = a->next)
		n++;
	return n;
}

static void test_redirect(void)
{
	route_ctx c;
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "list@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_INT(count(c.res.pfr), 2);
	CHECK_INT(count(c.res.remote), 2);
	/* Pipe/file items: the pipe has the router's pipe_transport, the file has none. */
	const address_item *pipe = c.res.pfr->next, *file = c.res.pfr;
	CHECK_INT(pipe->kind, ADDR_PIPE);
	CHECK_STR(pipe->transport, "t");
	CHECK_INT(file->kind, ADDR_FILE);
	CHECK(file->pfr_error);
	CHECK_STR(str(file->pfr_error_text), "file_transport unset in redir router");
	/* a (qualified with qualify_domain) and b@other.ex (remote, with its hosts). */
	const address_item *b = c.res.remote->next, *a = c.res.remote;
	CHECK_STR(str(b->address), "a@test.ex");
	CHECK_STR(str(a->address), "b@other.ex");
	CHECK_STR(str(a->parent->address), "list@test.ex");
	CHECK(a->hosts && a->hosts->port == -1 && a->hosts->next && a->hosts->next->port == 2525);
	CHECK_STR(str(a->hosts->next->address), "198.51.100.5");
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "bad@test.ex", SV_NULL, &c), ROUTE_FAIL);
	CHECK_STR(str(c.res.failed->message), "bad one");
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "nofail@test.ex", SV_NULL, &c), ROUTE_DEFER);
	CHECK_STR(str(c.res.deferred->message), "error in redirect data: \":defer: no\" is not permitted");
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "blackhole@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_INT(count(c.res.discarded), 1);
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "inc@test.ex", SV_NULL, &c), ROUTE_DEFER);
	CHECK(strstr(str(c.res.deferred->message), "failed to open included file") != NULL);
	char inc[300];
	snprintf(inc, sizeof inc, "%s/inc", tmpdir);
	FILE *f = fopen(inc, "w");
	fputs("# comment\na,\n  b\n", f);
	fclose(f);
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "inc@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_INT(count(c.res.remote), 2);
	/* A missing forward file declines; one in a missing directory defers. */
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "fwdmissing@test.ex", SV_NULL, &c), ROUTE_FAIL);
	CHECK_STR(str(c.res.failed->message), "Unrouteable address");
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "fwddir@test.ex", SV_NULL, &c), ROUTE_DEFER);
	CHECK_STR(str(c.res.deferred->message), "failed to stat /nonexistent-dir/. (No such file or directory)");
	/* Verification: several children succeed without being routed; one is followed. */
	CHECK_INT(route_one(ROUTE_MODE_VERIFY_RECIPIENT, "list@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_INT(count(c.res.remote), 0);
	CHECK_INT(route_one(ROUTE_MODE_VERIFY_RECIPIENT, "single@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_INT(count(c.res.remote), 1);
}

static void test_chain_controls(void)
{
	route_ctx c;
	/* unseen: delivered by "seen" and a copy goes on to "plain". */
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "copy@test.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_INT(count(c.res.remote), 2);
	CHECK(c.res.remote->parent && c.res.remote->next->parent);
	/* self = pass / host_find_failed = pass with pass_router: lands on "remote". */
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "x@pass.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_STR(c.res.remote->router->name, "remote");
	CHECK_STR(str(c.res.remote->hosts->address), "198.51.100.3");
	/* no_more: a declining router ends routing. */
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "stop@test.ex", SV_NULL, &c), ROUTE_FAIL);
	/* A host that is this machine: self = freeze (the default) defers. */
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "x@self.ex", SV_NULL, &c), ROUTE_DEFER);
	CHECK_STR(str(c.res.deferred->message), "remote host address is the local host");
	/* $1 from a regex domain pattern reaches the host list. */
	env.numeric[0] = SV_LIT("caller's");
	env.nnumeric = 1;
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "x@77.regex.ex", SV_NULL, &c), ROUTE_OK);
	CHECK_STR(str(c.res.remote->hosts->address), "198.51.100.77");
	/* The caller's $0 is back afterwards. */
	CHECK_INT(env.nnumeric, 1);
	CHECK_STR(str(env.numeric[0]), "caller's");
	env.nnumeric = 0;
}

static void test_generic_props(void)
{
	route_ctx c;
	CHECK_INT(route_one(ROUTE_MODE_DELIVER, "props@test.ex", SV_NULL, &c), ROUTE_OK);
	const address_item *a = c.res.remote;
	CHECK_STR(str(a->headers_add), "X-A: props\nX-C: c\td");
	CHECK_STR(str(a->headers_remove), "X-D:X-props");
	CHECK_STR(str(a->errors_address), "err@test.ex");
	CHECK(a->uid_set && a->uid == 1 && a->gid_set && a->gid == 0);
	/* randomize: the five hosts come in more than one order over many routings. */
	bool seen_first[5] = { false };
	int distinct = 0;
	for (int i = 0; i < 60; i++) {
		CHECK_INT(route_one(ROUTE_MODE_DELIVER, "x@shuffle.ex", SV_NULL, &c), ROUTE_OK);
		int n = 0;
		for (const route_host *h = c.res.remote->hosts; h; h = h->next)
			n++;
		CHECK_INT(n, 5);
		int first = c.res.remote->hosts->address.p[c.res.remote->hosts->address.len - 1] - '1';
		if (first >= 0 && first < 5 && !seen_first[first]) {
			seen_first[first] = true;
			distinct++;
		}
	}
	CHECK(distinct >= 3);
}

static void test_verify_callback(void)
{
	xbuf user, log;
	xbuf_init(&user, pool_msg);
	xbuf_init(&log, pool_msg);
	CHECK_INT(route_verify(&env, pool_msg, SV_NULL, true, SV_LIT("a@test.ex"), SV_LIT(""), &user, &log, NULL, NULL, NULL), ACL_OK);
	CHECK_INT(route_verify(&env, pool_msg, SV_NULL, true, SV_LIT("nobody@test.ex"), SV_LIT(""), &user, &log, NULL, NULL, NULL), ACL_FAIL);
	CHECK_STR(xbuf_cstr(&user), "Unrouteable address");
	xbuf_reset(&user);
	xbuf_reset(&log);
	CHECK_INT(route_verify(&env, pool_msg, SV_NULL, true, SV_LIT("bad@test.ex"), SV_LIT(""), &user, &log, NULL, NULL, NULL), ACL_FAIL);
	CHECK_STR(xbuf_cstr(&user), "bad one");
	xbuf_reset(&user);
	xbuf_reset(&log);
	CHECK_INT(route_verify(&env, pool_msg, SV_NULL, true, SV_LIT("x@self.ex"), SV_LIT(""), &user, &log, NULL, NULL, NULL), ACL_DEFER);
	CHECK_STR(xbuf_cstr(&user), "");
	CHECK_STR(xbuf_cstr(&log), "remote host address is the local host");
	/* Unqualified addresses are qualified first; the acl_ops form gives the same answers. */
	acl_ops ops;
	route_verify_ctx v;
	route_acl_ops_init(&ops, &v, &env, pool_msg, SV_NULL, NULL, NULL, NULL, NULL);
	xbuf_reset(&user);
	xbuf_reset(&log);
	CHECK_INT(ops.verify_address(&v, true, SV_LIT("b"), SV_LIT(""), &user, &log, NULL), ACL_OK);
	CHECK_INT(ops.verify_address(&v, false, SV_LIT("vr"), SV_LIT(""), &user, &log, NULL), ACL_OK);
}

/* self = freeze writes a main-log line naming the domain and the address. */
static void test_self_logged(void)
{
	char path[300], line[512];
	snprintf(path, sizeof path, "%s/mainlog", tmpdir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	bool found = false;
	while (f && fgets(line, sizeof line, f))
		found = found || strstr(line, "remote host address is the local host: self.ex (while routing <x@self.ex>)");
	if (f)
		fclose(f);
	CHECK(found);
}

/* The ACL engine's verify conditions through the acl_ops this module provides. */
static void test_acl_integration(void)
{
	acl_ops ops;
	route_verify_ctx v;
	acl_ctx ac;
	acl_ctx_init(&ac, pool_msg, ACL_WHERE_RCPT, &env);
	route_acl_ops_init(&ops, &v, &env, pool_msg, SV_NULL, NULL, NULL, NULL, NULL);
	ac.ops = &ops;
	ac.ops_ctx = &v;
	acl_ctx_begin(&ac, ACL_WHERE_RCPT);
	ac.recipient = SV_LIT("a@test.ex");
	CHECK_INT(acl_check(&ac, SV_LIT("rcpt")), ACL_OK);
	acl_ctx_begin(&ac, ACL_WHERE_RCPT);
	ac.recipient = SV_LIT("bad@test.ex");
	CHECK_INT(acl_check(&ac, SV_LIT("rcpt")), ACL_FAIL);
	CHECK_STR(xbuf_cstr(&ac.user_msg), "bad one");
	acl_ctx_begin(&ac, ACL_WHERE_RCPT);
	ac.recipient = SV_LIT("x@self.ex");
	CHECK_INT(acl_check(&ac, SV_LIT("rcpt")), ACL_DEFER);
	CHECK_STR(xbuf_cstr(&ac.log_msg), "remote host address is the local host");
	/* Sender verification: the sender comes from the message. */
	message *m = message_new(pool_msg);
	m->sender = SV_LIT("nobody-here@test.ex");
	acl_ctx_begin(&ac, ACL_WHERE_MAIL);
	ac.msg = m;
	CHECK_INT(acl_check(&ac, SV_LIT("mail")), ACL_FAIL);
	CHECK_STR(xbuf_cstr(&ac.user_msg), "Sender verify failed");
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(tmpdir))
		return 1;
	char conf[300];
	snprintf(conf, sizeof conf, "%s/route.conf", tmpdir);
	FILE *f = fopen(conf, "w");
	fprintf(f, config_text, tmpdir, tmpdir, tmpdir, tmpdir);
	fclose(f);
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!conf_load(conf, NULL, 0, &err)) {
		fprintf(stderr, "config: %s\n", xbuf_cstr(&err));
		return 1;
	}
	xp_env_init(&env, pool_scratch);
	env.state = pool_perm;
	log_config lc;
	log_config_default(&lc);
	char logpath[300];
	snprintf(logpath, sizeof logpath, "%s/%%slog", tmpdir);
	lc.file_path = logpath;
	lc.echo = LOG_ECHO_NONE;
	if (!log_configure(&lc, &err))
		return 1;
	RUN(test_affixes);
	RUN(test_preconditions);
	RUN(test_redirect);
	RUN(test_chain_controls);
	RUN(test_generic_props);
	RUN(test_verify_callback);
	RUN(test_acl_integration);
	RUN(test_self_logged);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return unit_report("test_route");
}
