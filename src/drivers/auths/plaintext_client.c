/* plaintext authenticator, client side (Exim 4.96 "Using plaintext in a client").
 *
 * client_send is a colon list; each item is expanded just before it is sent: the first with the
 * AUTH command (an empty first item sends AUTH without data), the rest as answers to 334
 * prompts. The decoded prompts become $auth1..$auth3 in turn. A single '^' in an item is a NUL,
 * "^^" a literal circumflex. A forced expansion failure abandons the attempt (the caller tries
 * the next authenticator); other expansion failures defer. */
#include "core/auth.h"
#include "drivers/auths/auth_clients.h"
#include "drivers/auths/plaintext.h"
#include "lib/codec.h"
#include "lib/list.h"

/* '^' -> NUL, "^^" -> '^'. */
static void circumflex_to_nul(sv in, xbuf *out)
{
	for (size_t i = 0; i < in.len; i++) {
		if (in.p[i] == '^') {
			if (i + 1 < in.len && in.p[i + 1] == '^') {
				xbuf_putc(out, '^');
				i++;
			} else
				xbuf_putc(out, '\0');
		} else
			xbuf_putc(out, in.p[i]);
	}
}

/* Send "*" to end an exchange the server still waits on. */
static void cancel(auth_client_ctx *c)
{
	auth_client_command(c, SV_LIT("*"));
}

static auth_rc rc_of_code(int code)
{
	if (code == 0) return AUTH_EOF;
	if (code / 100 == 2) return AUTH_OK;
	if (code / 100 == 4) return AUTH_DEFER;
	return AUTH_FAIL;
}

auth_rc plaintext_client(const driver_instance *d, auth_client_ctx *c)
{
	const struct plaintext_auth_options *ob = d->priv;
	list_iter it;
	xbuf item, line;
	xbuf_init(&item, c->a);
	xbuf_init(&line, c->a);
	list_iter_init(&it, sv_cstr(ob->client_send), 0);
	bool first = true;
	while (list_next(&it, &item)) {
		/* The item is a literal list element; it is expanded on its own. */
		char *src = sv_dup(c->a, xbuf_sv(&item));
		xbuf val, err, data;
		int r = auth_client_expand(c, src, &val, &err);
		if (r != XP_OK) {
			if (!first) cancel(c);
			if (r == XP_FORCEFAIL) return AUTH_CANCELLED;
			xbuf_printf(&c->err, "expansion of \"%s\" failed in %s authenticator: " SV_FMT,
				src, d->name, SV_ARG(xbuf_sv(&err)));
			return AUTH_DEFER;
		}
		xbuf_init(&data, c->a);
		circumflex_to_nul(xbuf_sv(&val), &data);
		xbuf_reset(&line);
		if (first) {
			xbuf_printf(&line, "AUTH %s", auth_public_name(d));
			if (data.len > 0) {
				xbuf_putc(&line, ' ');
				codec_b64_encode(xbuf_sv(&data), &line);
			}
			first = false;
		} else
			codec_b64_encode(xbuf_sv(&data), &line);
		int code = auth_client_command(c, xbuf_sv(&line));
		if (code != 334)
			return rc_of_code(code);
		/* A prompt: keep it for the next item's expansion. */
		sv t = xbuf_sv(&c->reply);
		sv b64 = t.len > 4 ? sv_make(t.p + 4, t.len - 4) : SV_LIT("");
		xbuf dec;
		xbuf_init(&dec, c->a);
		if (!codec_b64_decode(b64, &dec)) {
			if (!ob->client_ignore_invalid_base64) {
				cancel(c);
				xbuf_printf(&c->err, "Invalid base64 string in server response \"" SV_FMT "\"", SV_ARG(t));
				return AUTH_DEFER;
			}
			xbuf_reset(&dec);
		}
		dec.taint = 1;
		if (c->nvars < AUTH_VARS)
			c->vars[c->nvars++] = xbuf_sv(&dec);
	}
	/* The server still prompts but the list is used up. */
	cancel(c);
	xbuf_printf(&c->err, "Too few items in client_send in %s authenticator", d->name);
	return AUTH_FAIL;
}

bool plaintext_client_usable(const driver_instance *d)
{
	const struct plaintext_auth_options *ob = d->priv;
	return ob->client_send != NULL;
}
