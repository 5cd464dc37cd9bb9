/* The generic side of client authentication (smtp transport): expanding a client option with
 * the server's challenges visible as $auth1..$auth3, and one command/reply exchange through the
 * SMTP client's auth_client_io (core/auth.h). */
#include "core/auth.h"

#include <string.h>

static bool client_vars_get(void *ctx, sv name, xbuf *out)
{
	auth_client_ctx *c = ctx;
	/* $auth1..$auth3 and the older $1..$3 are not both needed on the client side: Exim documents
	 * $auth<n> for client_send. */
	if (name.len == 5 && memcmp(name.p, "auth", 4) == 0 && name.p[4] >= '1' && name.p[4] <= '3') {
		int i = name.p[4] - '1';
		if (i < c->nvars)
			xbuf_putsv(out, c->vars[i]);
		return true;
	}
	return false;
}

void auth_client_ctx_init(auth_client_ctx *c, arena *a, xp_env *env, const auth_client_io *io)
{
	memset(c, 0, sizeof *c);
	c->a = a;
	c->env = env;
	c->io = io;
	xbuf_init(&c->err, a);
	xbuf_init(&c->reply, a);
}

int auth_client_expand(auth_client_ctx *c, const char *option, xbuf *out, xbuf *err)
{
	xbuf_init(out, c->a);
	xbuf_init(err, c->a);
	if (c->env == NULL) {
		xbuf_puts(err, "no expansion environment for the client authenticator");
		return XP_ERROR;
	}
	xp_provider p = { client_vars_get, c, NULL };
	xp_provider *saved = c->env->providers;
	xp_env_push_provider(c->env, &p);
	int r = xp_expand(c->env, sv_cstr(option), out, err);
	c->env->providers = saved;
	return r;
}

int auth_client_command(auth_client_ctx *c, sv line)
{
	xbuf_reset(&c->reply);
	c->code = c->io->command(c->io->ctx, line, &c->reply);
	return c->code;
}
