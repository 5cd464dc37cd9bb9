/* Generic router options (Exim 4.96 "Generic options for routers") and their defaults. */
#include "drivers/routers/router.h"

#include <stddef.h>

/* OPT_BOOL_VERIFY writes two adjacent bools: the row's field and the one after it. */
_Static_assert(offsetof(struct router_generic, verify_recipient) ==
	offsetof(struct router_generic, verify_sender) + sizeof(bool), "verify pair not adjacent");
_Static_assert(offsetof(struct router_generic, fail_verify_recipient) ==
	offsetof(struct router_generic, fail_verify_sender) + sizeof(bool), "fail_verify pair not adjacent");

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct router_generic, field)

const opt_row router_generic_options[] = {
	ROW("address_data",                OPT_STRING,      OPTF_PUBLIC, address_data),
	ROW("address_test",                OPT_BOOL,        OPTF_PUBLIC, address_test),
	ROW("bmi_deliver_alternate",       OPT_BOOL,        OPTF_PUBLIC, bmi_deliver_alternate),
	ROW("bmi_deliver_default",         OPT_BOOL,        OPTF_PUBLIC, bmi_deliver_default),
	ROW("bmi_dont_deliver",            OPT_BOOL,        OPTF_PUBLIC, bmi_dont_deliver),
	ROW("bmi_rule",                    OPT_STRING,      OPTF_PUBLIC, bmi_rule),
	ROW("cannot_route_message",        OPT_STRING,      OPTF_PUBLIC, cannot_route_message),
	ROW("caseful_local_part",          OPT_BOOL,        OPTF_PUBLIC, caseful_local_part),
	ROW("check_local_user",            OPT_BOOL,        OPTF_PUBLIC, check_local_user),
	ROW("condition",                   OPT_STRING,      OPTF_PUBLIC, condition),
	ROW("debug_print",                 OPT_STRING,      OPTF_PUBLIC, debug_print),
	ROW("disable_logging",             OPT_BOOL,        OPTF_PUBLIC, disable_logging),
	ROW("dnssec_request_domains",      OPT_STRING,      OPTF_PUBLIC, dnssec_request_domains),
	ROW("dnssec_require_domains",      OPT_STRING,      OPTF_PUBLIC, dnssec_require_domains),
	ROW("domains",                     OPT_STRING,      OPTF_PUBLIC, domains),
	ROW("driver",                      OPT_STRING,      OPTF_PUBLIC, driver),
	ROW("dsn_lasthop",                 OPT_BOOL,        OPTF_PUBLIC, dsn_lasthop),
	ROW("errors_to",                   OPT_STRING,      OPTF_PUBLIC, errors_to),
	ROW("expn",                        OPT_BOOL,        OPTF_PUBLIC, expn),
	ROW("fail_verify",                 OPT_BOOL_VERIFY, OPTF_HIDDEN | OPTF_PUBLIC, fail_verify_sender),
	ROW("fail_verify_recipient",       OPT_BOOL,        OPTF_PUBLIC, fail_verify_recipient),
	ROW("fail_verify_sender",          OPT_BOOL,        OPTF_PUBLIC, fail_verify_sender),
	ROW("fallback_hosts",              OPT_STRING,      OPTF_PUBLIC, fallback_hosts),
	ROW("group",                       OPT_EXPAND_GID,  OPTF_PUBLIC, group),
	ROW("headers_add",                 OPT_STRING,      OPTF_PUBLIC, headers_add),
	ROW("headers_remove",              OPT_STRING,      OPTF_PUBLIC, headers_remove),
	ROW("ignore_target_hosts",         OPT_STRING,      OPTF_PUBLIC, ignore_target_hosts),
	ROW("initgroups",                  OPT_BOOL,        OPTF_PUBLIC, initgroups),
	ROW("local_part_prefix",           OPT_STRING,      OPTF_PUBLIC, local_part_prefix),
	ROW("local_part_prefix_optional",  OPT_BOOL,        OPTF_PUBLIC, local_part_prefix_optional),
	ROW("local_part_suffix",           OPT_STRING,      OPTF_PUBLIC, local_part_suffix),
	ROW("local_part_suffix_optional",  OPT_BOOL,        OPTF_PUBLIC, local_part_suffix_optional),
	ROW("local_parts",                 OPT_STRING,      OPTF_PUBLIC, local_parts),
	ROW("log_as_local",                OPT_BOOL,        OPTF_PUBLIC, log_as_local),
	ROW("more",                        OPT_EXPAND_BOOL, OPTF_PUBLIC, more),
	ROW("pass_on_timeout",             OPT_BOOL,        OPTF_PUBLIC, pass_on_timeout),
	ROW("pass_router",                 OPT_STRING,      OPTF_PUBLIC, pass_router),
	ROW("redirect_router",             OPT_STRING,      OPTF_PUBLIC, redirect_router),
	ROW("require_files",               OPT_STRING,      OPTF_PUBLIC, require_files),
	ROW("retry_use_local_part",        OPT_BOOL,        OPTF_PUBLIC, retry_use_local_part),
	ROW("router_home_directory",       OPT_STRING,      OPTF_PUBLIC, router_home_directory),
	ROW("self",                        OPT_STRING,      OPTF_PUBLIC, self),
	ROW("senders",                     OPT_STRING,      OPTF_PUBLIC, senders),
	ROW("set",                         OPT_STRING,      OPTF_PUBLIC, set),
	ROW("translate_ip_address",        OPT_STRING,      OPTF_PUBLIC, translate_ip_address),
	ROW("transport",                   OPT_STRING,      OPTF_PUBLIC, transport),
	ROW("transport_current_directory", OPT_STRING,      OPTF_PUBLIC, transport_current_directory),
	ROW("transport_home_directory",    OPT_STRING,      OPTF_PUBLIC, transport_home_directory),
	ROW("unseen",                      OPT_EXPAND_BOOL, OPTF_PUBLIC, unseen),
	ROW("user",                        OPT_EXPAND_UID,  OPTF_PUBLIC, user),
	ROW("verify",                      OPT_BOOL_VERIFY, OPTF_HIDDEN | OPTF_PUBLIC, verify_sender),
	ROW("verify_only",                 OPT_BOOL,        OPTF_PUBLIC, verify_only),
	ROW("verify_recipient",            OPT_BOOL,        OPTF_PUBLIC, verify_recipient),
	ROW("verify_sender",               OPT_BOOL,        OPTF_PUBLIC, verify_sender),
};
_Static_assert(sizeof router_generic_options / sizeof router_generic_options[0] == ROUTER_GENERIC_NOPTIONS, "ROUTER_GENERIC_NOPTIONS out of date");

const struct router_generic router_generic_defaults = {
	.address_test = true,
	.dnssec_request_domains = "*",
	.expn = true,
	.more = "true",
	.self = "freeze",
	.unseen = "false",
	.verify_recipient = true,
	.verify_sender = true,
};
