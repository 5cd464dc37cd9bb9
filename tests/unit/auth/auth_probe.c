/* auth_probe: run one server-side AUTH exchange outside an SMTP session, for the scenario tests
 * against a real Dovecot (and for trying authenticators by hand).
 *
 *   auth_probe CONFIG MECH INITIAL|- [REMOTE_IP [LOCAL_IP]]
 *
 * Each challenge is printed as "334 <b64>" and answered by the next line of stdin (EOF: the
 * client vanished). Then the final reply, "LOG: <instance> authenticator failed: <detail>" when
 * Exim would log, and "set_id=<id>" when server_set_id gave a value. */
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"
#include "core/auth.h"
#include "lib/arena.h"

static auth_rc from_stdin(void *ctx, sv b64, xbuf *resp)
{
	(void)ctx;
	printf("334 " SV_FMT "\n", SV_ARG(b64));
	fflush(stdout);
	char line[4096];
	if (!fgets(line, sizeof line, stdin))
		return AUTH_EOF;
	size_t n = strcspn(line, "\r\n");
	xbuf_put(resp, line, n);
	resp->taint = 1;
	return AUTH_OK;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: auth_probe CONFIG MECH INITIAL|- [REMOTE_IP [LOCAL_IP]]\n");
		return 2;
	}
	arena_init_pools();
	xbuf err;
	xbuf_init(&err, NULL);
	if (!conf_load(argv[1], NULL, 0, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 2;
	}
	const driver_instance *d = auth_find_server(sv_cstr(argv[2]));
	if (d == NULL) {
		printf("504 %s authentication mechanism not supported\n", argv[2]);
		return 1;
	}
	xp_env env;
	xp_env_init(&env, pool_scratch);
	auth_io io = { from_stdin, NULL };
	auth_server_ctx c;
	auth_server_ctx_init(&c, pool_scratch, &env, &io);
	if (argc > 4)
		c.remote_ip = sv_cstr(argv[4]);
	if (argc > 5)
		c.local_ip = sv_cstr(argv[5]);
	bool has_initial = strcmp(argv[3], "-") != 0;
	auth_rc rc = auth_server_run(d, &c, has_initial, has_initial ? sv_tainted(sv_cstr(argv[3])) : SV_NULL);
	xbuf reply, log;
	xbuf_init(&reply, pool_scratch);
	xbuf_init(&log, pool_scratch);
	auth_result_text(&c, rc, &reply, &log);
	printf("%s\n", rc == AUTH_EOF ? "(connection lost)" : xbuf_cstr(&reply));
	if (log.len)
		printf("LOG: %s authenticator failed: %s\n", d->name, xbuf_cstr(&log));
	if (c.set_id.p && c.set_id.len)
		printf("set_id=" SV_FMT "\n", SV_ARG(c.set_id));
	xp_env_release(&env);
	return rc == AUTH_OK ? 0 : 1;
}
