/* Generic transport options (Exim 4.96 "Generic options for transports") and their defaults. */
#include "drivers/transports/transport.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct transport_generic, field)

const opt_row transport_generic_options[] = {
	ROW("body_only",                OPT_BOOL,        OPTF_PUBLIC, body_only),
	ROW("current_directory",        OPT_STRING,      OPTF_PUBLIC, current_directory),
	ROW("debug_print",              OPT_STRING,      OPTF_PUBLIC, debug_print),
	ROW("delivery_date_add",        OPT_BOOL,        OPTF_PUBLIC, delivery_date_add),
	/* Older names of event_action (issue 4 §7), hidden from -bP as in Exim 4.96 */
	ROW("delivery_event_action",    OPT_STRING,      OPTF_PUBLIC | OPTF_HIDDEN, event_action),
	ROW("disable_logging",          OPT_BOOL,        OPTF_PUBLIC, disable_logging),
	ROW("driver",                   OPT_STRING,      OPTF_PUBLIC, driver),
	ROW("envelope_to_add",          OPT_BOOL,        OPTF_PUBLIC, envelope_to_add),
	ROW("event_action",             OPT_STRING,      OPTF_PUBLIC, event_action),
	ROW("group",                    OPT_EXPAND_GID,  OPTF_PUBLIC, group),
	ROW("headers_add",              OPT_STRING,      OPTF_PUBLIC, headers_add),
	ROW("headers_only",             OPT_BOOL,        OPTF_PUBLIC, headers_only),
	ROW("headers_remove",           OPT_STRING,      OPTF_PUBLIC, headers_remove),
	ROW("headers_rewrite",          OPT_REWRITE,     OPTF_PUBLIC, headers_rewrite),
	ROW("home_directory",           OPT_STRING,      OPTF_PUBLIC, home_directory),
	ROW("initgroups",               OPT_BOOL,        OPTF_PUBLIC, initgroups),
	ROW("max_parallel",             OPT_STRING,      OPTF_PUBLIC, max_parallel),
	ROW("message_size_limit",       OPT_STRING,      OPTF_PUBLIC, message_size_limit),
	ROW("rcpt_include_affixes",     OPT_BOOL,        OPTF_PUBLIC, rcpt_include_affixes),
	ROW("retry_use_local_part",     OPT_BOOL,        OPTF_PUBLIC, retry_use_local_part),
	ROW("return_path",              OPT_STRING,      OPTF_PUBLIC, return_path),
	ROW("return_path_add",          OPT_BOOL,        OPTF_PUBLIC, return_path_add),
	ROW("shadow_condition",         OPT_STRING,      OPTF_PUBLIC, shadow_condition),
	ROW("shadow_transport",         OPT_STRING,      OPTF_PUBLIC, shadow_transport),
	ROW("tpda_delivery_action",     OPT_STRING,      OPTF_PUBLIC | OPTF_HIDDEN, tpda_delivery_action),
	ROW("tpda_event_action",        OPT_STRING,      OPTF_PUBLIC | OPTF_HIDDEN, event_action),
	ROW("transport_filter",         OPT_STRING,      OPTF_PUBLIC, transport_filter),
	ROW("transport_filter_timeout", OPT_TIME,        OPTF_PUBLIC, transport_filter_timeout),
	ROW("user",                     OPT_EXPAND_UID,  OPTF_PUBLIC, user),
};
_Static_assert(sizeof transport_generic_options / sizeof transport_generic_options[0] == TRANSPORT_GENERIC_NOPTIONS, "TRANSPORT_GENERIC_NOPTIONS out of date");

const struct transport_generic transport_generic_defaults = {
	.transport_filter_timeout = 300,
};
