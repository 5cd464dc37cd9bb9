/* The generic side of server authentication (Exim 4.96 "SMTP authentication"): finding the
 * instance for a mechanism, running its driver with $auth1..$auth3 and $1..$n visible, applying
 * server_set_id, and turning the outcome into Exim's reply and log texts. */
#include "core/auth.h"

#include <string.h>

#include "conf/conf_dump.h"
#include "lib/codec.h"
#include "lib/log.h"
#include "lib/printing.h"

const char *auth_generic_option(const driver_instance *d, const char *name)
{
	/* The generic block's layout belongs to the drivers layer; find the field by its option
	 * row so this module needs no driver header. */
	if (d->generic == NULL)
		return NULL;
	const opt_row *r = opt_find(auth_class.generic, auth_class.ngeneric, name);
	if (r == NULL)
		return NULL;
	const char *v;
	memcpy(&v, (const char *)d->generic + r->offset, sizeof v);
	return v;
}

const char *auth_public_name(const driver_instance *d)
{
	const char *p = auth_generic_option(d, "public_name");
	return p ? p : d->name;
}

static const auth_ops *ops_of(const driver_instance *d)
{
	return d->info ? (const auth_ops *)d->info->ops : NULL;
}

const driver_instance *auth_find_server(sv mech)
{
	for (const driver_instance *d = conf_driver_instances("authenticators"); d; d = d->next) {
		const auth_ops *o = ops_of(d);
		if (o == NULL || o->server == NULL || (o->server_usable && !o->server_usable(d)))
			continue;
		if (sv_eqi(sv_cstr(auth_public_name(d)), mech))
			return d;
	}
	return NULL;
}

static bool can_serve(const driver_instance *d)
{
	const auth_ops *o = ops_of(d);
	return o && o->server && (!o->server_usable || o->server_usable(d));
}

bool auth_check_public_names(const driver_instance *list, xbuf *err)
{
	for (const driver_instance *a = list; a; a = a->next) {
		if (!can_serve(a))
			continue;
		for (const driver_instance *b = a->next; b; b = b->next)
			if (can_serve(b) && sv_eqi(sv_cstr(auth_public_name(a)), sv_cstr(auth_public_name(b)))) {
				xbuf_printf(err, "Exim configuration error:\n  two server authenticators (%s and %s) have the "
					"same public name (%s)", a->name, b->name, auth_public_name(a));
				return false;
			}
	}
	return true;
}

int auth_advertise(xp_env *env, auth_advertised *adv, xbuf *mechs)
{
	adv->n = 0;
	for (const driver_instance *d = conf_driver_instances("authenticators"); d; d = d->next) {
		if (!can_serve(d) || adv->n == AUTH_MAX_ADVERTISED)
			continue;
		const char *cond = auth_generic_option(d, "server_advertise_condition");
		if (cond) {
			bool yes = false;
			xbuf err;
			xbuf_init(&err, env->a);
			int r = xp_expand_bool(env, sv_cstr(cond), &yes, &err);
			if (r == XP_ERROR)
				log_write(LOG_MAIN | LOG_PANIC, "failed to expand condition \"%s\" for %s authenticator: %s", cond,
					d->name, xbuf_cstr(&err));
			if (r != XP_OK || !yes)
				continue;
		}
		adv->d[adv->n++] = d;
		xbuf_putc(mechs, ' ');
		xbuf_puts(mechs, auth_public_name(d));
	}
	return adv->n;
}

const driver_instance *auth_find_advertised(const auth_advertised *adv, sv mech)
{
	for (int i = 0; i < adv->n; i++)
		if (sv_eqi(sv_cstr(auth_public_name(adv->d[i])), mech))
			return adv->d[i];
	return NULL;
}

void auth_server_ctx_init(auth_server_ctx *c, arena *a, xp_env *env, const auth_io *io)
{
	memset(c, 0, sizeof *c);
	c->a = a;
	c->env = env;
	c->io = io;
	c->set_id = SV_NULL;
	xbuf_init(&c->err, a);
	xbuf_init(&c->user_msg, a);
}

static bool vars_get(void *ctx, sv name, xbuf *out)
{
	auth_server_ctx *c = ctx;
	if (name.len != 5 || memcmp(name.p, "auth", 4) != 0 || name.p[4] < '1' || name.p[4] > '0' + AUTH_VARS)
		return false;
	int i = name.p[4] - '1';
	if (i < c->nvars)
		xbuf_putsv(out, c->vars[i]);
	return true;
}

void auth_vars_provider(auth_server_ctx *c, xp_provider *p)
{
	p->get = vars_get;
	p->ctx = c;
	p->next = NULL;
}

void auth_add_strings(auth_server_ctx *c, sv d)
{
	size_t start = 0;
	for (size_t i = 0; i <= d.len; i++) {
		if (i < d.len && d.p[i] != '\0')
			continue;
		if (i == d.len && start == d.len && d.len > 0)
			break;  /* a trailing NUL does not start another string */
		if (c->nstrings < (int)(sizeof c->strings / sizeof c->strings[0])) {
			sv s = sv_tainted(sv_copy(c->a, sv_make(d.p + start, i - start)));
			c->strings[c->nstrings++] = s;
			if (c->nvars < AUTH_VARS)
				c->vars[c->nvars++] = s;
		}
		start = i + 1;
	}
}

bool auth_decode_b64(auth_server_ctx *c, sv b64, xbuf *out)
{
	xbuf_init(out, c->a);
	if (!codec_b64_decode(b64, out))
		return false;
	out->taint = 1;
	return true;
}

auth_rc auth_challenge(auth_server_ctx *c, sv clear, xbuf *decoded)
{
	xbuf b64, resp;
	xbuf_init(&b64, c->a);
	xbuf_init(&resp, c->a);
	codec_b64_encode(clear, &b64);
	auth_rc rc = c->io->challenge(c->io->ctx, xbuf_sv(&b64), &resp);
	if (rc != AUTH_OK)
		return rc;
	if (resp.len == 1 && resp.p[0] == '*')
		return AUTH_CANCELLED;
	return auth_decode_b64(c, xbuf_sv(&resp), decoded) ? AUTH_OK : AUTH_BAD64;
}

/* Make $1..$n the client's strings while an option is expanded; returns the saved state. */
typedef struct numeric_save { sv v[XP_MAX_NUMERIC]; int n; } numeric_save;

static void numeric_push(auth_server_ctx *c, numeric_save *s)
{
	memcpy(s->v, c->env->numeric, sizeof s->v);
	s->n = c->env->nnumeric;
	c->env->numeric[0] = SV_NULL;
	for (int i = 0; i < c->nstrings; i++)
		c->env->numeric[i + 1] = c->strings[i];
	c->env->nnumeric = c->nstrings + 1;
}

static void numeric_pop(auth_server_ctx *c, const numeric_save *s)
{
	memcpy(c->env->numeric, s->v, sizeof s->v);
	c->env->nnumeric = s->n;
}

auth_rc auth_check_condition(auth_server_ctx *c, const char *cond, auth_rc unset_rc)
{
	if (cond == NULL)
		return unset_rc;
	numeric_save save;
	numeric_push(c, &save);
	xbuf out, err;
	xbuf_init(&out, c->a);
	xbuf_init(&err, c->a);
	int r = xp_expand(c->env, sv_cstr(cond), &out, &err);
	numeric_pop(c, &save);
	if (r == XP_FORCEFAIL)
		return AUTH_FAIL;
	if (r != XP_OK) {
		xbuf_putsv(&c->err, xbuf_sv(&err));
		return AUTH_DEFER;
	}
	sv v = xbuf_sv(&out);
	if (v.len == 0 || sv_eq_cstr(v, "0") || sv_eqi(v, SV_LIT("no")) || sv_eqi(v, SV_LIT("false")))
		return AUTH_FAIL;
	if (sv_eq_cstr(v, "1") || sv_eqi(v, SV_LIT("yes")) || sv_eqi(v, SV_LIT("true")))
		return AUTH_OK;
	xbuf_putsv(&c->err, v);
	xbuf_puts(&c->user_msg, ": ");
	xbuf_putsv(&c->user_msg, v);
	return AUTH_DEFER;
}

auth_rc auth_server_run(const driver_instance *d, auth_server_ctx *c, bool has_initial, sv initial)
{
	const auth_ops *o = ops_of(d);
	if (o == NULL || o->server == NULL) {
		xbuf_printf(&c->err, "%s authenticator has no server code", d->name);
		return AUTH_DEFER;
	}
	xp_provider p;
	auth_vars_provider(c, &p);
	xp_provider *saved = c->env->providers;
	xp_env_push_provider(c->env, &p);

	auth_rc rc = o->server(d, c, has_initial, initial);

	/* server_set_id is expanded whatever the outcome: Exim logs it with failures. */
	const char *set_id = auth_generic_option(d, "server_set_id");
	if (set_id && rc != AUTH_EOF) {
		numeric_save save;
		numeric_push(c, &save);
		xbuf out, err;
		xbuf_init(&out, c->a);
		xbuf_init(&err, c->a);
		int r = xp_expand(c->env, sv_cstr(set_id), &out, &err);
		numeric_pop(c, &save);
		if (r == XP_OK) {
			xbuf pr;
			xbuf_init(&pr, c->a);
			printing_escape(xbuf_sv(&out), 0, &pr);
			/* an empty id is still an id: Exim logs "A=plain:" for it */
			c->set_id = pr.len ? xbuf_sv(&pr) : SV_LIT("");
		} else if (rc == AUTH_OK) {
			rc = AUTH_ERROR;  /* Exim answers 435 and logs nothing */
		}
	}
	c->env->providers = saved;
	return rc;
}

void auth_result_text(const auth_server_ctx *c, auth_rc rc, xbuf *reply, xbuf *log)
{
	bool with_id = c->set_id.p != NULL && c->set_id.len > 0;
	switch (rc) {
	case AUTH_OK:
		xbuf_puts(reply, "235 Authentication succeeded");
		break;
	case AUTH_FAIL:
		xbuf_puts(reply, "535 Incorrect authentication data");
		xbuf_puts(log, "535 Incorrect authentication data");
		if (with_id)
			xbuf_printf(log, " (set_id=" SV_FMT ")", SV_ARG(c->set_id));
		break;
	case AUTH_DEFER:
		xbuf_puts(reply, "435 Unable to authenticate at present");
		xbuf_putsv(reply, xbuf_sv(&c->user_msg));
		xbuf_puts(log, "435 Unable to authenticate at present");
		if (with_id)
			xbuf_printf(log, " (set_id=" SV_FMT ")", SV_ARG(c->set_id));
		xbuf_puts(log, ": ");
		xbuf_putsv(log, xbuf_sv(&c->err));
		break;
	case AUTH_ERROR:
		xbuf_puts(reply, "435 Unable to authenticate at present");
		break;
	case AUTH_CANCELLED:
		xbuf_puts(reply, "501 Authentication cancelled");
		xbuf_puts(log, "501 Authentication cancelled");
		break;
	case AUTH_BAD64:
		xbuf_puts(reply, "501 Invalid base64 data");
		xbuf_puts(log, "501 Invalid base64 data");
		break;
	case AUTH_UNEXPECTED:
		xbuf_puts(reply, "553 Initial data not expected");
		xbuf_puts(log, "553 Initial data not expected");
		break;
	case AUTH_EOF:
		break;
	}
}
