/* From an smtp transport instance to the client engine's options for one host: the expanded
 * strings (helo_data, interface, port, authenticated_sender), the timeouts, and the host lists
 * (hosts_avoid_esmtp, hosts_avoid_pipelining, hosts_try_chunking, hosts_try_auth,
 * hosts_require_auth) matched against the host's address and name. */
#include "drivers/transports/smtp_client_opts.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/transports/smtp.h"
#include "lib/ip.h"
#include "lib/list.h"
#include "search/match.h"
#include "search/search.h"

static bool expand(const driver_instance *t, xp_env *env, const char *name, const char *value,
	sv *out, xbuf *err)
{
	*out = SV_LIT("");
	if (value == NULL)
		return true;
	xbuf v, e;
	xbuf_init(&v, env->a);
	xbuf_init(&e, env->a);
	int r = xp_expand(env, sv_cstr(value), &v, &e);
	if (r == XP_OK) {
		*out = xbuf_sv(&v);
		return true;
	}
	xbuf_printf(err, "failed to expand %s in %s transport: " SV_FMT, name, t->name, SV_ARG(xbuf_sv(&e)));
	return false;
}

/* An expanded host list against the host: *yes when it matches. */
static bool host_in(const driver_instance *t, xp_env *env, const smtpc_host *h, const char *name,
	const char *list, bool *yes, xbuf *err)
{
	*yes = false;
	sv l;
	if (!expand(t, env, name, list, &l, err))
		return false;
	if (l.len == 0)
		return true;
	char *hn = sv_dup(env->a, h->name);
	match_ctx mc = { .host_name = hn };
	xbuf e;
	xbuf_init(&e, env->a);
	int rc = match_isinlist(h->address, l, 0, MATCH_HOST, false, &mc, &e);
	if (rc == SEARCH_DEFER) {
		xbuf_printf(err, "failed to check %s in %s transport: " SV_FMT, name, t->name, SV_ARG(xbuf_sv(&e)));
		return false;
	}
	*yes = rc == SEARCH_OK;
	return true;
}

/* interface: a list; the first address of the host's family is used, as Exim does. */
static sv pick_interface(sv list, sv host_address, arena *a)
{
	ip_addr want, have;
	if (!ip_parse(host_address, &want))
		return SV_LIT("");
	list_iter it;
	xbuf item;
	xbuf_init(&item, a);
	list_iter_init(&it, list, 0);
	while (list_next(&it, &item))
		if (ip_parse(xbuf_sv(&item), &have) && ip_max_bits(&have) == ip_max_bits(&want))
			return sv_copy(a, xbuf_sv(&item));
	return SV_LIT("");
}

bool smtp_transport_client_options(const driver_instance *t, xp_env *env, smtpc_host *host,
	smtpc_options *o, xbuf *err)
{
	const struct smtp_transport_options *ob = t->priv;
	memset(o, 0, sizeof *o);
	o->env = env;
	o->connect_timeout = ob->connect_timeout;
	o->command_timeout = ob->command_timeout;
	o->data_timeout = ob->data_timeout;
	o->final_timeout = ob->final_timeout;
	o->max_rcpt = ob->max_rcpt;
	o->size_addition = ob->size_addition;
	o->authenticated_sender_force = ob->authenticated_sender_force;
	sv v;
	if (!expand(t, env, "protocol", ob->protocol, &v, err))
		return false;
	o->lmtp = sv_eqi(v, SV_LIT("lmtp"));
	if (!expand(t, env, "helo_data", ob->helo_data, &o->helo_name, err))
		return false;
	if (!expand(t, env, "interface", ob->interface, &v, err))
		return false;
	o->interface = pick_interface(v, host->address, env->a);
	if (!expand(t, env, "authenticated_sender", ob->authenticated_sender, &o->authenticated_sender, err))
		return false;
	if (host->port == 0) {
		if (!expand(t, env, "port", ob->port, &v, err))
			return false;
		long long n;
		/* Unset: the service named after the protocol, as Exim ("lmtp" is missing from many
		 * services files, so Exim and Postern then say the port is not defined). */
		if (v.len == 0)
			v = o->lmtp ? SV_LIT("lmtp") : SV_LIT("smtp");
		if (sv_to_long(v, &n) && n > 0 && n < 65536)
			host->port = (int)n;
		else {
			char *name = sv_dup(env->a, v);
			struct servent *se = getservbyname(name, "tcp");
			if (se == NULL) {
				xbuf_printf(err, "TCP port \"%s\" is not defined for %s transport", name, t->name);
				return false;
			}
			host->port = ntohs((uint16_t)se->s_port);
		}
	}
	return host_in(t, env, host, "hosts_avoid_esmtp", ob->hosts_avoid_esmtp, &o->avoid_esmtp, err)
		&& host_in(t, env, host, "hosts_avoid_pipelining", ob->hosts_avoid_pipelining, &o->avoid_pipelining, err)
		&& host_in(t, env, host, "hosts_try_chunking", ob->hosts_try_chunking, &o->try_chunking, err)
		&& host_in(t, env, host, "hosts_try_auth", ob->hosts_try_auth, &o->try_auth, err)
		&& host_in(t, env, host, "hosts_require_auth", ob->hosts_require_auth, &o->require_auth, err);
}
