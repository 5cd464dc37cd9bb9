/* Authenticators through the generic flow with a scripted client: plaintext (PLAIN, LOGIN,
 * server_prompts, "=", $1..$n), cram_md5 (RFC 2195 vector and a live challenge), and the reply and
 * log texts. Expected values were observed with Exim 4.96 -bh on the same configuration. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "core/auth.h"
#include "drivers/auths/auth_servers.h"
#include "lib/arena.h"
#include "lib/codec.h"
#include "lib/digest.h"
#include "lib/log.h"
#include "unit.h"

static const char config[] =
	"primary_hostname = mx.test\n"
	"begin authenticators\n"
	"plain:\n  driver = plaintext\n  public_name = PLAIN\n  server_prompts = :\n"
	"  server_condition = ${if and {{eq{$auth2}{userx}}{eq{$auth3}{secret}}}}\n  server_set_id = $auth2\n"
	"login:\n  driver = plaintext\n  public_name = LOGIN\n  server_prompts = Username:: : Password::\n"
	"  server_condition = ${if and {{eq{$auth1}{userx}}{eq{$auth2}{secret}}}}\n  server_set_id = $auth1\n"
	"cram:\n  driver = cram_md5\n  public_name = CRAM-MD5\n"
	"  server_secret = ${if eq{$auth1}{ph10}{secret}fail}\n  server_set_id = $auth1\n"
	"p1:\n  driver = plaintext\n  server_condition = maybe\n  server_set_id = $auth1\n"
	"p2:\n  driver = plaintext\n  server_condition = ${lookup{x}lsearch{/nonexistent}}\n"
	"p3:\n  driver = plaintext\n  server_condition = ${if eq{$auth1}{a}{yes}fail}\n"
	"  server_set_id = ${lookup{x}lsearch{/nonexistent}}\n"
	"p4:\n  driver = plaintext\n  server_prompts = ${lookup{x}lsearch{/nonexistent}}\n  server_condition = yes\n"
	"p5:\n  driver = plaintext\n  server_prompts = a\\$x\n"
	"  server_condition = ${if eq{$1:$2:$3}{$auth1:$auth2:$auth3}}\n  server_set_id = $auth1/$auth2/$auth3/$4\n"
	"p6:\n  driver = plaintext\n  server_prompts = a : b\n  server_condition = yes\n"
	"  server_set_id = [$auth1][$auth2]\n"
	"noserver:\n  driver = plaintext\n  public_name = NOSRV\n"
	"adv_no:\n  driver = plaintext\n  public_name = ZZ\n  server_condition = yes\n  server_advertise_condition = no\n"
	"adv_err:\n  driver = plaintext\n  public_name = ERR\n  server_condition = yes\n"
	"  server_advertise_condition = ${lookup{x}lsearch{/nonexistent}}\n"
	"tim:\n  driver = cram_md5\n  public_name = TIM\n  server_secret = tanstaaftanstaaf\n  server_set_id = $auth1\n";

/* The scripted client: answers in order; records the challenges it was sent. */
typedef struct script {
	const char *const *answers;
	int next;
	char sent[512];
	bool dynamic_cram;  /* compute the CRAM-MD5 answer for user ph10 from the challenge */
} script;

static auth_rc scripted(void *ctx, sv b64, xbuf *resp)
{
	script *s = ctx;
	size_t l = strlen(s->sent);
	snprintf(s->sent + l, sizeof s->sent - l, "%s[" SV_FMT "]", l ? " " : "", SV_ARG(b64));
	if (s->dynamic_cram) {
		xbuf ch, ans;
		xbuf_init(&ch, NULL);
		xbuf_init(&ans, NULL);
		CHECK(codec_b64_decode(b64, &ch));
		uint8_t mac[DIGEST_MAX_LEN];
		digest_hmac(DIGEST_MD5, SV_LIT("secret"), xbuf_sv(&ch), mac);
		xbuf_puts(&ans, "ph10 ");
		codec_hex_encode(sv_make((const char *)mac, 16), false, &ans);
		codec_b64_encode(xbuf_sv(&ans), resp);
		/* the challenge is <pid.time@primary_hostname> */
		regex_t re;
		regcomp(&re, "^<[0-9]+\\.[0-9]+@mx\\.test>$", REG_EXTENDED);
		CHECK(regexec(&re, xbuf_cstr(&ch), 0, NULL, 0) == 0);
		regfree(&re);
		xbuf_free(&ch);
		xbuf_free(&ans);
		return AUTH_OK;
	}
	if (s->answers == NULL || s->answers[s->next] == NULL)
		return AUTH_EOF;
	xbuf_puts(resp, s->answers[s->next++]);
	return AUTH_OK;
}

typedef struct acase {
	const char *mech;
	const char *initial;        /* NULL: none */
	const char *answers[4];
	const char *sent;           /* challenges, "[b64] [b64]" */
	const char *reply, *log, *set_id;
} acase;

static const acase cases[] = {
	{ "PLAIN", "AHVzZXJ4AHNlY3JldA==", { NULL }, "", "235 Authentication succeeded", "", "userx" },
	{ "plain", NULL, { "AHVzZXJ4AHNlY3JldA==" }, "[]", "235 Authentication succeeded", "", "userx" },
	{ "PLAIN", "AHVzZXJ4AHdyb25n", { NULL }, "", "535 Incorrect authentication data",
		"535 Incorrect authentication data (set_id=userx)", "userx" },
	{ "PLAIN", "=", { NULL }, "", "535 Incorrect authentication data", "535 Incorrect authentication data", "" },
	{ "PLAIN", NULL, { "=" }, "[]", "501 Invalid base64 data", "501 Invalid base64 data", "" },
	{ "PLAIN", NULL, { "*" }, "[]", "501 Authentication cancelled", "501 Authentication cancelled", "" },
	{ "PLAIN", "!!!", { NULL }, "", "501 Invalid base64 data", "501 Invalid base64 data", "" },
	{ "PLAIN", "AHVzZXJ4", { NULL }, "", "535 Incorrect authentication data",
		"535 Incorrect authentication data (set_id=userx)", "userx" },
	{ "LOGIN", NULL, { "dXNlcng=", "c2VjcmV0" }, "[VXNlcm5hbWU6] [UGFzc3dvcmQ6]", "235 Authentication succeeded", "", "userx" },
	{ "LOGIN", "dXNlcng=", { "c2VjcmV0" }, "[UGFzc3dvcmQ6]", "235 Authentication succeeded", "", "userx" },
	{ "LOGIN", NULL, { "dXNlcng=", "*" }, "[VXNlcm5hbWU6] [UGFzc3dvcmQ6]", "501 Authentication cancelled",
		"501 Authentication cancelled", "userx" },
	{ "LOGIN", NULL, { "dXNlcng=" }, "[VXNlcm5hbWU6] [UGFzc3dvcmQ6]", "", "", NULL },  /* client vanished */
	{ "p1", "YQ==", { NULL }, "", "435 Unable to authenticate at present: maybe",
		"435 Unable to authenticate at present (set_id=a): maybe", "a" },
	{ "p2", "YQ==", { NULL }, "", "435 Unable to authenticate at present",
		"435 Unable to authenticate at present: failed to open /nonexistent for linear search: No such file or directory", NULL },
	{ "p3", "YQ==", { NULL }, "", "435 Unable to authenticate at present", "", NULL },
	{ "p3", "Yg==", { NULL }, "", "535 Incorrect authentication data", "535 Incorrect authentication data", NULL },
	{ "p4", NULL, { NULL }, "", "435 Unable to authenticate at present",
		"435 Unable to authenticate at present: failed to open /nonexistent for linear search: No such file or directory", NULL },
	{ "p5", NULL, { "YQBiAGMAZA==" }, "[YSR4]", "235 Authentication succeeded", "", "a/b/c/d" },
	{ "p6", NULL, { "", "Yg==" }, "[YQ==] [Yg==]", "235 Authentication succeeded", "", "[][b]" },
	{ "p6", "YQBiAGM=", { NULL }, "", "235 Authentication succeeded", "", "[a][b]" },
	{ "p6", "YQBiAA==", { NULL }, "", "235 Authentication succeeded", "", "[a][b]" },
	{ "p6", "AAA=", { NULL }, "", "235 Authentication succeeded", "", "[][]" },
	{ "CRAM-MD5", "YQ==", { NULL }, "", "553 Initial data not expected", "553 Initial data not expected", "" },
	{ "CRAM-MD5", NULL, { "YWJj" }, NULL, "535 Incorrect authentication data",
		"535 Incorrect authentication data (set_id=abc)", "abc" },
	{ "CRAM-MD5", NULL, { "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw" }, NULL,
		"535 Incorrect authentication data", "535 Incorrect authentication data (set_id=tim)", "tim" },
};

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const acase *t = &cases[i];
		const driver_instance *d = auth_find_server(sv_cstr(t->mech));
		if (d == NULL) {
			fprintf(stderr, "case %zu: no server for %s\n", i, t->mech);
			CHECK(d != NULL);
			continue;
		}
		arena_mark m = arena_getmark(pool_scratch);
		xp_env env;
		xp_env_init(&env, pool_scratch);
		script s = { .answers = t->answers };
		auth_io io = { scripted, &s };
		auth_server_ctx c;
		auth_server_ctx_init(&c, pool_scratch, &env, &io);
		auth_rc rc = auth_server_run(d, &c, t->initial != NULL, t->initial ? sv_cstr(t->initial) : SV_NULL);
		xbuf reply, log;
		xbuf_init(&reply, pool_scratch);
		xbuf_init(&log, pool_scratch);
		auth_result_text(&c, rc, &reply, &log);
		if (strcmp(xbuf_cstr(&reply), t->reply) != 0)
			fprintf(stderr, "case %zu (%s):\n", i, t->mech);
		CHECK_STR(xbuf_cstr(&reply), t->reply);
		CHECK_STR(xbuf_cstr(&log), t->log);
		if (t->sent)
			CHECK_STR(s.sent, t->sent);
		CHECK_STR(c.set_id.p ? sv_dup(pool_scratch, c.set_id) : NULL, t->set_id);
		for (int k = 0; k < c.nvars; k++)
			CHECK(c.vars[k].taint);
		/* $auth1 is gone once the run is over */
		xbuf out, err;
		xbuf_init(&out, pool_scratch);
		xbuf_init(&err, pool_scratch);
		CHECK(xp_expand(&env, SV_LIT("<$auth1>"), &out, &err) == XP_OK);
		CHECK_STR(xbuf_cstr(&out), "<>");
		xp_env_release(&env);
		arena_reset(pool_scratch, m);
	}
}

static void test_find(void)
{
	CHECK(auth_find_server(SV_LIT("NOSRV")) == NULL);  /* plaintext without server_condition */
	CHECK(auth_find_server(SV_LIT("XOAUTH")) == NULL);
	const driver_instance *d = auth_find_server(SV_LIT("login"));
	CHECK(d != NULL && strcmp(d->name, "login") == 0);
	CHECK_STR(auth_public_name(auth_find_server(SV_LIT("P1"))), "p1");
}

static void test_cram(void)
{
	/* RFC 2195's example exchange */
	const driver_instance *d = auth_find_server(SV_LIT("TIM"));
	CHECK(d != NULL);
	xp_env env;
	xp_env_init(&env, pool_scratch);
	const char *ans[] = { "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", NULL };
	script s = { .answers = ans };
	auth_io io = { scripted, &s };
	auth_server_ctx c;
	auth_server_ctx_init(&c, pool_scratch, &env, &io);
	auth_rc rc = cram_md5_server_challenge(d, &c, SV_LIT("<1896.697170952@postoffice.reston.mci.net>"));
	CHECK_INT(rc, AUTH_OK);
	CHECK_STR(s.sent, "[PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+]");
	CHECK(c.nvars == 1 && sv_eq_cstr(c.vars[0], "tim"));
	/* one digit wrong */
	const char *bad[] = { "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkx", NULL };
	script s2 = { .answers = bad };
	io.ctx = &s2;
	auth_server_ctx_init(&c, pool_scratch, &env, &io);
	CHECK_INT(cram_md5_server_challenge(d, &c, SV_LIT("<1896.697170952@postoffice.reston.mci.net>")), AUTH_FAIL);

	/* a live challenge through the generic flow */
	script s3 = { .dynamic_cram = true };
	io.ctx = &s3;
	auth_server_ctx_init(&c, pool_scratch, &env, &io);
	CHECK_INT(auth_server_run(auth_find_server(SV_LIT("CRAM-MD5")), &c, false, SV_NULL), AUTH_OK);
	CHECK(c.set_id.p && sv_eq_cstr(c.set_id, "ph10"));
	xp_env_release(&env);
}

static char tmpdir[64];

static void test_advertise(void)
{
	log_config lc;
	log_config_default(&lc);
	lc.file_path = arena_printf(pool_scratch, "%s/%%slog", tmpdir);
	lc.echo = LOG_ECHO_NONE;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(log_configure(&lc, &err));
	xp_env env;
	xp_env_init(&env, pool_scratch);
	auth_advertised adv;
	xbuf mechs;
	xbuf_init(&mechs, NULL);
	CHECK_INT(auth_advertise(&env, &adv, &mechs), 10);
	CHECK_STR(xbuf_cstr(&mechs), " PLAIN LOGIN CRAM-MD5 p1 p2 p3 p4 p5 p6 TIM");
	CHECK(auth_find_advertised(&adv, SV_LIT("login")) != NULL);
	CHECK(auth_find_advertised(&adv, SV_LIT("ZZ")) == NULL);   /* condition false */
	CHECK(auth_find_advertised(&adv, SV_LIT("ERR")) == NULL);  /* condition failed */
	CHECK(auth_find_server(SV_LIT("ZZ")) != NULL);              /* but it exists */
	char path[128];
	snprintf(path, sizeof path, "%s/mainlog", tmpdir);
	FILE *f = fopen(path, "r");
	char line[512] = "";
	CHECK(f && fgets(line, sizeof line, f));
	if (f)
		fclose(f);
	CHECK(strstr(line, "failed to expand condition \"${lookup{x}lsearch{/nonexistent}}\" for adv_err "
		"authenticator: failed to open /nonexistent for linear search: No such file or directory") != NULL);
	unlink(path);
	snprintf(path, sizeof path, "%s/paniclog", tmpdir);
	CHECK(unlink(path) == 0);
	xbuf_free(&mechs);
	xbuf_free(&err);
	xp_env_release(&env);
}

static void test_public_names(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(auth_check_public_names(conf_driver_instances("authenticators"), &err));
	/* a private copy of the list (the configuration is read-only) plus a second "login" */
	driver_instance copies[32];
	int n = 0;
	for (const driver_instance *d = conf_driver_instances("authenticators"); d && n < 31; d = d->next) {
		copies[n] = *d;
		if (n > 0)
			copies[n - 1].next = &copies[n];
		n++;
	}
	copies[n] = *auth_find_server(SV_LIT("LOGIN"));
	copies[n].name = "login2";
	copies[n].next = NULL;
	copies[n - 1].next = &copies[n];
	CHECK(!auth_check_public_names(copies, &err));
	CHECK_STR(xbuf_cstr(&err), "Exim configuration error:\n  two server authenticators (login and login2) have "
		"the same public name (LOGIN)");
	xbuf_free(&err);
}

int main(void)
{
	arena_init_pools();
	char *dir = tmpdir;
	strcpy(tmpdir, "/tmp/postern-auth-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	char path[64];
	snprintf(path, sizeof path, "%s/auth.conf", dir);
	FILE *f = fopen(path, "w");
	fputs(config, f);
	fclose(f);
	xbuf err;
	xbuf_init(&err, NULL);
	if (!conf_load(path, NULL, 0, &err)) {
		fprintf(stderr, "config: %s\n", xbuf_cstr(&err));
		return 1;
	}
	unlink(path);
	RUN(test_find);
	RUN(test_cases);
	RUN(test_cram);
	RUN(test_public_names);
	RUN(test_advertise);
	rmdir(dir);
	return unit_report("test_auth");
}
