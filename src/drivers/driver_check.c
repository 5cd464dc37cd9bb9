/* Startup checks of driver instances (see driver_check.h). Each rule and message restates
 * what Exim 4.96 reports for the same configuration. */
#include "drivers/driver_check.h"

#include <ctype.h>
#include <string.h>

#include "drivers/auths/auth.h"
#include "drivers/auths/cram_md5.h"
#include "drivers/auths/spa.h"
#include "drivers/routers/accept.h"
#include "drivers/routers/dnslookup.h"
#include "drivers/routers/ipliteral.h"
#include "drivers/routers/iplookup.h"
#include "drivers/routers/manualroute.h"
#include "drivers/routers/queryprogram.h"
#include "drivers/routers/redirect.h"
#include "drivers/routers/router.h"
#include "drivers/transports/appendfile.h"
#include "drivers/transports/lmtp.h"
#include "drivers/transports/pipe.h"
#include "drivers/transports/queuefile.h"
#include "drivers/transports/transport.h"
#include "lib/list.h"

/* Exim words these messages in two shapes: "... error for NAME KIND:\n  problem" for a driver's
 * own checks, "... error:\n  problem" for the others. */
static bool fail_for(xbuf *err, const driver_instance *d, const char *kind, const char *problem)
{
	xbuf_printf(err, "Exim configuration error for %s %s:\n  %s", d->name, kind, problem);
	return false;
}

static bool fail(xbuf *err, const char *problem)
{
	xbuf_printf(err, "Exim configuration error:\n  %s", problem);
	return false;
}

static bool one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

/* self = freeze | defer | fail | send | pass | reroute:<domain> (case-sensitive). */
static bool self_valid(const char *self)
{
	static const char *const words[] = { "freeze", "defer", "fail", "send", "pass", NULL };
	return one_of(self, words) || strncmp(self, "reroute:", 8) == 0;
}

static bool router_check(const driver_instance *d, xbuf *err)
{
	const struct router_generic *g = d->generic;
	const driver_info *i = d->info;
	bool needs_transport = i == &accept_router_info || i == &dnslookup_router_info ||
		i == &ipliteral_router_info;
	bool refuses_transport = i == &iplookup_router_info || i == &redirect_router_info;
	if (needs_transport && g->transport == NULL && !g->verify_only) {
		xbuf_printf(err, "Exim configuration error:\n  %s router:\n  a transport is required for this router",
			d->name);
		return false;
	}
	if (refuses_transport && g->transport != NULL) {
		xbuf_printf(err, "Exim configuration error:\n  %s router:\n  a transport must not be defined for this router",
			d->name);
		return false;
	}
	if (g->self != NULL && !self_valid(g->self)) {
		xbuf_printf(err, "Exim configuration error for %s router:\n  %s is not valid for the self option",
			d->name, g->self);
		return false;
	}
	if (d->priv == NULL)
		return true;
	if (i == &manualroute_router_info) {
		static const char *const actions[] = { "ignore", "decline", "defer", "fail", "freeze", "pass", NULL };
		const struct manualroute_router_options *o = d->priv;
		if ((o->route_list == NULL) == (o->route_data == NULL))
			return fail_for(err, d, "router", "route_list or route_data (but not both) must be specified");
		if (o->host_find_failed && !one_of(o->host_find_failed, actions))
			return fail_for(err, d, "router", "unrecognized setting for host_find_failed option");
		if (o->host_all_ignored && !one_of(o->host_all_ignored, actions))
			return fail_for(err, d, "router", "unrecognized setting for host_all_ignored option");
	} else if (i == &iplookup_router_info) {
		const struct iplookup_router_options *o = d->priv;
		if (o->port <= 0)
			return fail_for(err, d, "router", "a port must be specified");
		if (o->hosts == NULL)
			return fail_for(err, d, "router", "a host list must be specified");
		if (o->protocol != NULL && strcmp(o->protocol, "udp") != 0 && strcmp(o->protocol, "tcp") != 0)
			return fail_for(err, d, "router", "protocol not specified as udp or tcp");
	} else if (i == &queryprogram_router_info) {
		const struct queryprogram_router_options *o = d->priv;
		if (o->command == NULL)
			return fail_for(err, d, "router", "a command specification is required");
		if (o->command_user == (uid_t)-1)
			return fail_for(err, d, "router", "command_user must be specified");
	} else if (i == &redirect_router_info) {
		const struct redirect_router_options *o = d->priv;
		if (o->file == NULL && o->data == NULL)
			return fail_for(err, d, "router", "one of \"file\" or \"data\" must be specified");
		if (o->file != NULL && o->data != NULL)
			return fail_for(err, d, "router", "only one of \"file\" or \"data\" must be specified");
		if (o->one_time && (g->headers_add != NULL || g->headers_remove != NULL))
			return fail_for(err, d, "router",
				"\"headers_add\" and \"headers_remove\" are not permitted with \"one_time\"");
		if (o->one_time && g->unseen != NULL && strcmp(g->unseen, "false") != 0)
			return fail_for(err, d, "router", "\"unseen\" may not be used with \"one_time\"");
	}
	return true;
}

/* temp_errors: "*" alone, or a list of decimal exit codes. */
static bool temp_errors_valid(const char *list)
{
	if (strcmp(list, "*") == 0)
		return true;
	list_iter it;
	xbuf item;
	bool ok = true;
	xbuf_init(&item, NULL);
	list_iter_init(&it, sv_cstr(list), 0);
	while (ok && list_next(&it, &item)) {
		const char *s = xbuf_cstr(&item);
		ok = *s != '\0';
		for (; ok && *s; s++)
			ok = isdigit((unsigned char)*s);
	}
	xbuf_free(&item);
	return ok;
}

static bool create_file_valid(const char *v)
{
	static const char *const words[] = { "anywhere", "belowhome", "inhome", NULL };
	return v[0] == '/' || one_of(v, words);
}

static bool transport_check(const driver_instance *d, xbuf *err)
{
	const struct transport_generic *g = d->generic;
	const driver_info *i = d->info;
	if (g->body_only && g->headers_only) {
		xbuf_printf(err, "Exim configuration error:\n  %s transport: body_only and headers_only are mutually exclusive",
			d->name);
		return false;
	}
	if (d->priv == NULL)
		return true;
	if (i == &appendfile_transport_info) {
		const struct appendfile_transport_options *o = d->priv;
		if (o->file != NULL && o->directory != NULL)
			return fail_for(err, d, "transport", "only one of \"file\" or \"directory\" can be specified");
		if (o->create_file != NULL && !create_file_valid(o->create_file)) {
			xbuf_printf(err, "Exim configuration error:\n  invalid value given for \"create_file\" for the %s transport: '%s'",
				d->name, o->create_file);
			return false;
		}
		if (!o->use_fcntl_lock && !o->use_flock_lock && !o->use_lockfile && !o->use_mbx_lock)
			return fail_for(err, d, "transport", "no locking configured");
	} else if (i == &lmtp_transport_info) {
		const struct lmtp_transport_options *o = d->priv;
		if ((o->command == NULL) == (o->socket == NULL)) {
			xbuf_printf(err, "Exim configuration error:\n  one (and only one) of command or socket must be set for the %s transport",
				d->name);
			return false;
		}
	} else if (i == &pipe_transport_info) {
		const struct pipe_transport_options *o = d->priv;
		if (o->restrict_to_path && o->use_shell) {
			xbuf_printf(err, "Exim configuration error:\n  both restrict_to_path and use_shell set for %s transport",
				d->name);
			return false;
		}
		if (o->temp_errors != NULL && !temp_errors_valid(o->temp_errors)) {
			xbuf_printf(err, "Exim configuration error:\n  temp_errors must be a list of numbers or an asterisk for the %s transport",
				d->name);
			return false;
		}
	} else if (i == &queuefile_transport_info) {
		/* No Exim 4.96 reference here (Debian lacks the driver): wording from its documentation. */
		const struct queuefile_transport_options *o = d->priv;
		if (o->directory == NULL) {
			xbuf_printf(err, "Exim configuration error:\n  directory must be set for the %s transport", d->name);
			return false;
		}
	}
	return true;
}

static bool auth_check(const driver_instance *d, const bool public_name_given, xbuf *err)
{
	if (d->info == &cram_md5_auth_info && !public_name_given) {
		xbuf_printf(err, "Exim configuration error:\n  no public name specified for the %s authenticator",
			d->name);
		return false;
	}
	if (d->info == &spa_auth_info && d->priv != NULL) {
		const struct spa_auth_options *o = d->priv;
		if ((o->client_username == NULL) != (o->client_password == NULL))
			return fail_for(err, d, "authenticator",
				"one of client_username and client_password cannot be set without the other");
	}
	return true;
}

bool driver_instance_check(const driver_class *cls, const driver_instance *d,
	driver_option_was_set *was_set, void *ctx, xbuf *err)
{
	if (cls == NULL || d == NULL || d->generic == NULL || d->info == NULL)
		return fail(err, "internal error: incomplete driver instance");
	if (cls == &router_class)
		return router_check(d, err);
	if (cls == &transport_class)
		return transport_check(d, err);
	if (cls == &auth_class) {
		/* cram_md5 is the one authenticator Exim checks before public_name takes the instance
		 * name, so it needs to know whether public_name was configured. */
		const struct auth_generic *g = d->generic;
		bool given = was_set != NULL ? was_set(d, "public_name", ctx)
			: g->public_name != NULL && g->public_name != d->name;
		return auth_check(d, given, err);
	}
	return true;
}
