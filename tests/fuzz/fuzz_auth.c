/* Fuzz the server side of plaintext and cram_md5 authentication with client data from the
 * network: the AUTH command's initial response and the answers to 334 challenges (base64, NUL
 * splitting, "=", "*", prompts). Dovecot is not reached (its socket is refused by the sandbox).
 *
 * Input: first byte selects the mechanism; the rest is split at LF into the initial response
 * (first line; "-" means none) and the answers. Invariants: the run ends with a defined result;
 * every result except a lost connection has a reply with the code Exim gives for it; no more than
 * three $auth variables, all tainted; set_id is printable; the numeric variables are restored. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/conf.h"
#include "core/auth.h"
#include "fuzz_check.h"
#include "fuzz_sandbox.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static const char config[] =
	"primary_hostname = fuzz.test\n"
	"begin authenticators\n"
	"plain:\n  driver = plaintext\n  public_name = PLAIN\n  server_prompts = :\n"
	"  server_condition = ${if and {{eq{$auth2}{userx}}{eq{$auth3}{secret}}}}\n  server_set_id = $auth2\n"
	"login:\n  driver = plaintext\n  public_name = LOGIN\n  server_prompts = Username:: : Password::\n"
	"  server_condition = ${if eq{$auth1:$auth2}{userx:secret}}\n  server_set_id = $auth1/$1/$2/$3/$4\n"
	"cram:\n  driver = cram_md5\n  public_name = CRAM-MD5\n"
	"  server_secret = ${if eq{$auth1}{ph10}{secret}fail}\n  server_set_id = $auth1\n"
	"odd:\n  driver = plaintext\n  public_name = ODD\n  server_prompts = a : b : c : d\n"
	"  server_condition = $auth3\n  server_set_id = $auth1$auth2\n";

static const char *const mechs[] = { "PLAIN", "LOGIN", "CRAM-MD5", "ODD" };

typedef struct feed { const uint8_t *p, *end; int challenges; } feed;

static bool next_line(feed *f, sv *line)
{
	if (f->p >= f->end)
		return false;
	const uint8_t *nl = memchr(f->p, '\n', (size_t)(f->end - f->p));
	const uint8_t *stop = nl ? nl : f->end;
	*line = sv_tainted(sv_make((const char *)f->p, (size_t)(stop - f->p)));
	f->p = nl ? nl + 1 : f->end;
	return true;
}

static auth_rc answer(void *ctx, sv b64, xbuf *resp)
{
	(void)b64;
	feed *f = ctx;
	f->challenges++;
	sv line;
	if (!next_line(f, &line))
		return AUTH_EOF;
	xbuf_putsv(resp, line);
	return AUTH_OK;
}

static bool loaded;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_sandbox_enter();
	if (!loaded) {
		arena_init_pools();
		const char *path = fuzz_sandbox_write("auth.conf", config, sizeof config - 1);
		xbuf err;
		xbuf_init(&err, NULL);
		loaded = path && conf_load(path, NULL, 0, &err);
		xbuf_free(&err);
		if (!loaded)
			abort();
	}
	const driver_instance *d = auth_find_server(sv_cstr(mechs[data[0] % 4]));
	CHECK(d != NULL);
	arena_mark m = arena_getmark(pool_scratch);
	xp_env env;
	xp_env_init(&env, pool_scratch);
	feed f = { data + 1, data + size, 0 };
	sv initial;
	bool has_initial = next_line(&f, &initial) && !sv_eq_cstr(initial, "-");
	auth_io io = { answer, &f };
	auth_server_ctx c;
	auth_server_ctx_init(&c, pool_scratch, &env, &io);
	auth_rc rc = auth_server_run(d, &c, has_initial, has_initial ? initial : SV_NULL);
	CHECK(rc >= AUTH_OK && rc <= AUTH_UNEXPECTED);
	CHECK(f.challenges <= 4);  /* never more challenges than prompts */
	CHECK(c.nvars <= AUTH_VARS && c.nstrings <= XP_MAX_NUMERIC - 1);
	for (int i = 0; i < c.nvars; i++)
		CHECK(c.vars[i].taint);
	CHECK(env.nnumeric == 0);
	xbuf reply, log;
	xbuf_init(&reply, pool_scratch);
	xbuf_init(&log, pool_scratch);
	auth_result_text(&c, rc, &reply, &log);
	static const char codes[][4] = { "235", "535", "435", "435", "501", "501", "", "553" };
	CHECK(rc == AUTH_EOF ? reply.len == 0 : (reply.len > 4 && memcmp(reply.p, codes[rc], 3) == 0));
	if (c.set_id.p)
		for (size_t i = 0; i < c.set_id.len; i++)
			CHECK((unsigned char)c.set_id.p[i] >= 0x20 && (unsigned char)c.set_id.p[i] < 0x7f);
	xp_env_release(&env);
	arena_reset(pool_scratch, m);
	fuzz_sandbox_leave();
	return 0;
}
