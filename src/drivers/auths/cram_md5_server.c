/* cram_md5 authenticator, server side (Exim 4.96 "The cram_md5 authenticator", RFC 2195).
 *
 * The challenge is "<pid.time@primary_hostname>". The answer is "<user> <32 hex digits>"; $auth1
 * is the user (up to the first white space or NUL, as Exim takes it), server_secret is
 * expanded with it, and the digits must be HMAC-MD5(secret, challenge). Initial data with the
 * AUTH command is refused with 553. A forced failure of server_secret means "no such user". */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/auth.h"
#include "drivers/auths/auth_clients.h"
#include "drivers/auths/auth_servers.h"
#include "drivers/auths/cram_md5.h"
#include "lib/codec.h"
#include "lib/digest.h"

auth_rc cram_md5_server_challenge(const driver_instance *d, auth_server_ctx *c, sv challenge)
{
	const struct cram_md5_auth_options *ob = d->priv;
	xbuf dec;
	auth_rc rc = auth_challenge(c, challenge, &dec);
	if (rc != AUTH_OK)
		return rc;
	/* Exim reads the answer as a C string (it ends at a NUL); the user is what comes before the
	 * first white space, the digest what follows the white space (observed with -bh). */
	sv ans = xbuf_sv(&dec);
	const char *nul = memchr(ans.p ? ans.p : "", '\0', ans.len);
	if (nul)
		ans.len = (size_t)(nul - ans.p);
	size_t u = 0;
	while (u < ans.len && !isspace((unsigned char)ans.p[u]))
		u++;
	size_t h = u;
	while (h < ans.len && isspace((unsigned char)ans.p[h]))
		h++;
	sv user = sv_sub(ans, 0, u);
	sv hex = sv_sub(ans, h, ans.len - h);
	c->strings[0] = c->vars[0] = user;
	c->nstrings = c->nvars = 1;
	if (hex.len != 32)
		return AUTH_FAIL;

	xbuf secret, err;
	xbuf_init(&secret, c->a);
	xbuf_init(&err, c->a);
	/* $1 is the user while server_secret is expanded, as in server_condition. */
	sv saved[2] = { c->env->numeric[0], c->env->numeric[1] };
	int saved_n = c->env->nnumeric;
	c->env->numeric[0] = SV_NULL;
	c->env->numeric[1] = user;
	c->env->nnumeric = 2;
	int r = ob->server_secret ? xp_expand(c->env, sv_cstr(ob->server_secret), &secret, &err) : XP_FORCEFAIL;
	c->env->numeric[0] = saved[0];
	c->env->numeric[1] = saved[1];
	c->env->nnumeric = saved_n;
	if (r == XP_FORCEFAIL)
		return AUTH_FAIL;
	if (r != XP_OK) {
		xbuf_putsv(&c->err, xbuf_sv(&err));
		return AUTH_DEFER;
	}
	uint8_t mac[DIGEST_MAX_LEN];
	size_t n = digest_hmac(DIGEST_MD5, xbuf_sv(&secret), challenge, mac);
	if (n != 16) {
		xbuf_puts(&c->err, "HMAC-MD5 unavailable");
		return AUTH_DEFER;
	}
	for (size_t i = 0; i < 16; i++) {
		int hi = codec_hex_digit((unsigned char)hex.p[2 * i]), lo = codec_hex_digit((unsigned char)hex.p[2 * i + 1]);
		if (hi < 0 || lo < 0 || (unsigned)(hi << 4 | lo) != mac[i])
			return AUTH_FAIL;
	}
	return auth_check_condition(c, auth_generic_option(d, "server_condition"), AUTH_OK);
}

static auth_rc cram_md5_server(const driver_instance *d, auth_server_ctx *c, bool has_initial, sv initial)
{
	if (has_initial)  /* even "=" (an empty response) */
		return AUTH_UNEXPECTED;
	xbuf host, err, ch;
	xbuf_init(&host, c->a);
	xbuf_init(&err, c->a);
	xbuf_init(&ch, c->a);
	if (xp_expand(c->env, SV_LIT("$primary_hostname"), &host, &err) != XP_OK) {
		xbuf_putsv(&c->err, xbuf_sv(&err));
		return AUTH_DEFER;
	}
	xbuf_printf(&ch, "<%d.%lld@%s>", (int)getpid(), (long long)time(NULL), xbuf_cstr(&host));
	return cram_md5_server_challenge(d, c, xbuf_sv(&ch));
}

static bool cram_md5_usable(const driver_instance *d)
{
	const struct cram_md5_auth_options *ob = d->priv;
	return ob && ob->server_secret != NULL;
}

const auth_ops cram_md5_auth_ops = { .server = cram_md5_server, .server_usable = cram_md5_usable,
	.client = cram_md5_client, .client_usable = cram_md5_client_usable };
