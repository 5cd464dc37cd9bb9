/* plaintext authenticator, server side (Exim 4.96 "The plaintext authenticator").
 *
 * Data with the AUTH command answers the first prompt; each further prompt of server_prompts
 * (expanded, a colon list) is sent as a 334 challenge unless the client has already supplied at
 * least as many strings as the prompt's position - so "AUTH LOGIN <user>" skips "Username:". Each
 * answer is base64; its NUL-separated strings go to $auth1.. in order. "=" as initial data means
 * empty data. Then server_condition decides. */
#include "core/auth.h"
#include "drivers/auths/auth_clients.h"
#include "drivers/auths/auth_servers.h"
#include "drivers/auths/plaintext.h"
#include "lib/list.h"

static auth_rc plaintext_server(const driver_instance *d, auth_server_ctx *c, bool has_initial, sv initial)
{
	const struct plaintext_auth_options *ob = d->priv;
	if (has_initial) {
		if (initial.len == 0 || sv_eq_cstr(initial, "="))
			auth_add_strings(c, SV_LIT(""));
		else {
			xbuf dec;
			if (!auth_decode_b64(c, initial, &dec))
				return AUTH_BAD64;
			auth_add_strings(c, xbuf_sv(&dec));
		}
	}
	xbuf prompts, err;
	xbuf_init(&prompts, c->a);
	xbuf_init(&err, c->a);
	if (ob->server_prompts) {
		int r = xp_expand(c->env, sv_cstr(ob->server_prompts), &prompts, &err);
		if (r != XP_OK) {
			xbuf_putsv(&c->err, xbuf_sv(&err));
			return AUTH_DEFER;
		}
	}
	list_iter it;
	xbuf prompt;
	xbuf_init(&prompt, c->a);
	list_iter_init(&it, xbuf_sv(&prompts), 0);
	int number = 1;
	while (c->nstrings < XP_MAX_NUMERIC - 1 && list_next(&it, &prompt)) {
		if (number++ <= c->nstrings)
			continue;
		xbuf dec;
		auth_rc rc = auth_challenge(c, xbuf_sv(&prompt), &dec);
		if (rc != AUTH_OK)
			return rc;
		auth_add_strings(c, xbuf_sv(&dec));
	}
	return auth_check_condition(c, auth_generic_option(d, "server_condition"), AUTH_OK);
}

static bool plaintext_usable(const driver_instance *d)
{
	return auth_generic_option(d, "server_condition") != NULL;
}

const auth_ops plaintext_auth_ops = { .server = plaintext_server, .server_usable = plaintext_usable,
	.client = plaintext_client, .client_usable = plaintext_client_usable };
