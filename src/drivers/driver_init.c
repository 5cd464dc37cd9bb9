/* Derived option values at driver-instance initialisation (see driver_init.h).
 * Each rule below restates behaviour observed with Exim 4.96's -bP output. */
#include "drivers/driver_init.h"

#include <string.h>
#include <strings.h>

#include "drivers/auths/auth.h"
#include "drivers/auths/cyrus_sasl.h"
#include "drivers/auths/gsasl.h"
#include "drivers/auths/tls.h"
#include "drivers/routers/accept.h"
#include "drivers/routers/redirect.h"
#include "drivers/routers/router.h"
#include "drivers/transports/appendfile.h"
#include "drivers/transports/autoreply.h"
#include "drivers/transports/lmtp.h"
#include "drivers/transports/pipe.h"
#include "drivers/transports/queuefile.h"
#include "drivers/transports/smtp.h"
#include "drivers/transports/transport.h"

static bool given(const driver_instance *d, const char *option, driver_option_was_set *was_set, void *ctx)
{
	return was_set != NULL && was_set(d, option, ctx);
}

static void redirect_init(driver_instance *d, driver_option_was_set *was_set, void *ctx)
{
	const struct router_generic *g = d->generic;
	struct redirect_router_options *o = d->priv;
	/* Ownership checks of a redirect file follow whoever may own it. */
	if (!given(d, "check_owner", was_set, ctx))
		o->check_owner = g->check_local_user || o->owners != NULL;
	/* The group is checked when the local user's group may write the file (modemask lets
	 * the group write bit through) or when groups are listed. */
	if (!given(d, "check_group", was_set, ctx))
		o->check_group = (g->check_local_user && (o->modemask & 020) == 0) || o->owngroups != NULL;
	/* one_time routers may generate addresses only. */
	if (o->one_time)
		o->forbid_file = o->forbid_filter_reply = o->forbid_pipe = true;
}

static void router_init(driver_instance *d, driver_option_was_set *was_set, void *ctx)
{
	struct router_generic *g = d->generic;
	/* Only the accept router logs deliveries in the "local" style by default. */
	if (!given(d, "log_as_local", was_set, ctx))
		g->log_as_local = d->info == &accept_router_info;
	/* Routing that depends on the local part keys its retry hints on it too. */
	if (d->info == &redirect_router_info && d->priv != NULL)
		redirect_init(d, was_set, ctx);
	if (!given(d, "retry_use_local_part", was_set, ctx))
		g->retry_use_local_part = g->check_local_user || g->local_parts != NULL ||
			g->condition != NULL || g->local_part_prefix != NULL || g->local_part_suffix != NULL ||
			g->senders != NULL || g->require_files != NULL;
}

/* A plain boolean word, as opposed to an expansion, in an expanded-bool option. */
static bool bool_word(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no" };
	for (size_t i = 0; s != NULL && i < sizeof words / sizeof words[0]; i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

/* What a user is sent when quota_warn_threshold is crossed, unless configured. */
#define APPENDFILE_QUOTA_WARN_MESSAGE                                                      \
	"To: $local_part@$domain\nSubject: Your mailbox\n\n"                                    \
	"This message is automatically created by mail delivery software (Exim).\n\n"          \
	"The size of your mailbox has exceeded a warning threshold that is\n"                  \
	"set by the system administrator.\n"

static void appendfile_init(driver_instance *d, driver_option_was_set *was_set, void *ctx)
{
	struct appendfile_transport_options *o = d->priv;
	if (o->quota_warn_threshold != NULL && o->quota_warn_message == NULL)
		o->quota_warn_message = APPENDFILE_QUOTA_WARN_MESSAGE;
	/* Exim keeps an expansion given for maildir_use_size_file in a twin that -bP also shows. */
	if (o->maildir_use_size_file != NULL && !bool_word(o->maildir_use_size_file))
		o->expand_maildir_use_size_file = o->maildir_use_size_file;
	if (o->use_bsmtp) {
		/* BSMTP dot-stuffs lines starting with "."; the configured escape is overridden. */
		o->check_string = ".";
		o->escape_string = "..";
		return;
	}
	if (o->mbx_format) {
		if (!given(d, "use_lockfile", was_set, ctx))
			o->use_lockfile = false;
		if (!given(d, "use_mbx_lock", was_set, ctx))
			o->use_mbx_lock = true;
	}
	/* One file per message (maildir, mailstore, or any directory delivery): no separators to
	 * escape; Exim 4.96 leaves the mbox defaults unset whenever directory is set. */
	if (o->maildir_format || o->mailstore_format || o->directory != NULL)
		return;
	if (o->check_string == NULL)
		o->check_string = "From ";
	if (o->escape_string == NULL)
		o->escape_string = ">From ";
	/* mbx keeps the mbox prefix and suffix too (Exim 4.96 -bP shows them; they are written). */
	if (o->message_prefix == NULL)
		o->message_prefix = TRANSPORT_MBOX_MESSAGE_PREFIX;
	if (o->message_suffix == NULL)
		o->message_suffix = TRANSPORT_MBOX_MESSAGE_SUFFIX;
}

static void pipe_init(driver_instance *d)
{
	struct pipe_transport_options *o = d->priv;
	if (o->use_bsmtp) {
		o->check_string = ".";
		o->escape_string = "..";
		return;
	}
	if (o->message_prefix == NULL)
		o->message_prefix = TRANSPORT_MBOX_MESSAGE_PREFIX;
	if (o->message_suffix == NULL)
		o->message_suffix = TRANSPORT_MBOX_MESSAGE_SUFFIX;
}

static void smtp_init(driver_instance *d)
{
	struct smtp_transport_options *o = d->priv;
	/* The default port follows the protocol: smtp, lmtp or smtps. */
	if (o->port == NULL)
		o->port = o->protocol != NULL && (strcmp(o->protocol, "lmtp") == 0 ||
			strcmp(o->protocol, "smtps") == 0) ? o->protocol : "smtp";
}

static void transport_init(driver_instance *d, driver_option_was_set *was_set, void *ctx)
{
	struct transport_generic *g = d->generic;
	const driver_info *i = d->info;
	/* Local deliveries key retries on the whole address; remote ones on the host. */
	bool local = i == &appendfile_transport_info || i == &autoreply_transport_info ||
		i == &lmtp_transport_info || i == &pipe_transport_info || i == &queuefile_transport_info;
	if (!given(d, "retry_use_local_part", was_set, ctx))
		g->retry_use_local_part = local;
	if (d->priv == NULL)
		return;
	if (i == &appendfile_transport_info)
		appendfile_init(d, was_set, ctx);
	else if (i == &pipe_transport_info)
		pipe_init(d);
	else if (i == &smtp_transport_info)
		smtp_init(d);
}

static void auth_init(driver_instance *d)
{
	struct auth_generic *g = d->generic;
	/* The tls authenticator is known by its instance name whatever public_name says. */
	if (g->public_name == NULL || d->info == &tls_auth_info)
		g->public_name = d->name;
	/* The SASL library drivers offer the mechanism advertised under public_name by default. */
	if (d->priv == NULL)
		return;
	if (d->info == &cyrus_sasl_auth_info) {
		struct cyrus_sasl_auth_options *o = d->priv;
		if (o->server_mech == NULL)
			o->server_mech = g->public_name;
	} else if (d->info == &gsasl_auth_info) {
		struct gsasl_auth_options *o = d->priv;
		if (o->server_mech == NULL)
			o->server_mech = g->public_name;
	}
}

void driver_instance_init(const driver_class *cls, driver_instance *d, driver_option_was_set *was_set,
	void *ctx)
{
	if (cls == NULL || d == NULL || d->generic == NULL)
		return;
	if (cls == &router_class)
		router_init(d, was_set, ctx);
	else if (cls == &transport_class)
		transport_init(d, was_set, ctx);
	else if (cls == &auth_class)
		auth_init(d);
}
