/* cram_md5 authenticator, client side (Exim 4.96 "Using cram_md5 as a client", RFC 2195).
 *
 * AUTH CRAM-MD5, then the server's 334 challenge is answered with base64 of
 * "<client_name> <hex HMAC-MD5 of the challenge keyed with client_secret>". client_name defaults
 * to the primary host name. Both options are expanded; a forced failure abandons the attempt,
 * another failure defers. */
#include <string.h>

#include "core/auth.h"
#include "drivers/auths/auth_clients.h"
#include "drivers/auths/cram_md5.h"
#include "lib/codec.h"
#include "lib/digest.h"

void cram_md5_client_answer(sv name, sv secret, sv challenge, xbuf *out)
{
	uint8_t mac[DIGEST_MAX_LEN];
	size_t n = digest_hmac(DIGEST_MD5, secret, challenge, mac);
	xbuf_putsv(out, name);
	xbuf_putc(out, ' ');
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		xbuf_putc(out, hex[mac[i] >> 4]);
		xbuf_putc(out, hex[mac[i] & 15]);
	}
}

static auth_rc rc_of_code(int code)
{
	if (code == 0) return AUTH_EOF;
	if (code / 100 == 2) return AUTH_OK;
	if (code / 100 == 4) return AUTH_DEFER;
	return AUTH_FAIL;
}

/* Expand option (or the default); XP_* like xp_expand, with the message in c->err. */
static int expand_opt(const driver_instance *d, auth_client_ctx *c, const char *opt,
	const char *optname, xbuf *out)
{
	xbuf err;
	int r = auth_client_expand(c, opt, out, &err);
	if (r == XP_ERROR)
		xbuf_printf(&c->err, "expansion of \"%s\" failed in %s authenticator: " SV_FMT,
			optname, d->name, SV_ARG(xbuf_sv(&err)));
	return r;
}

auth_rc cram_md5_client(const driver_instance *d, auth_client_ctx *c)
{
	const struct cram_md5_auth_options *ob = d->priv;
	xbuf name, secret, line;
	/* Expand before talking, so a failure costs no exchange with the server. */
	int r = expand_opt(d, c, ob->client_name ? ob->client_name : "$primary_hostname", "client_name", &name);
	if (r == XP_OK)
		r = expand_opt(d, c, ob->client_secret, "client_secret", &secret);
	if (r == XP_FORCEFAIL) return AUTH_CANCELLED;
	if (r != XP_OK) return AUTH_DEFER;

	xbuf_init(&line, c->a);
	xbuf_printf(&line, "AUTH %s", auth_public_name(d));
	int code = auth_client_command(c, xbuf_sv(&line));
	if (code != 334)
		return rc_of_code(code);
	sv t = xbuf_sv(&c->reply);
	xbuf challenge;
	xbuf_init(&challenge, c->a);
	if (t.len < 4 || !codec_b64_decode(sv_make(t.p + 4, t.len - 4), &challenge)) {
		auth_client_command(c, SV_LIT("*"));
		xbuf_printf(&c->err, "Invalid base64 string in server response \"" SV_FMT "\"", SV_ARG(t));
		return AUTH_DEFER;
	}
	xbuf answer;
	xbuf_init(&answer, c->a);
	cram_md5_client_answer(xbuf_sv(&name), xbuf_sv(&secret), xbuf_sv(&challenge), &answer);
	xbuf_reset(&line);
	codec_b64_encode(xbuf_sv(&answer), &line);
	return rc_of_code(auth_client_command(c, xbuf_sv(&line)));
}

bool cram_md5_client_usable(const driver_instance *d)
{
	const struct cram_md5_auth_options *ob = d->priv;
	return ob->client_secret != NULL;
}
