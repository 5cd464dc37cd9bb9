/* Generic router options (Exim 4.96 "Generic options for routers") and their defaults. */
#ifndef POSTERN_DRIVERS_ROUTERS_ROUTER_H
#define POSTERN_DRIVERS_ROUTERS_ROUTER_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct router_generic {
	const char *address_data;
	bool address_test;
	bool bmi_deliver_alternate;  /* Brightmail (experimental build) */
	bool bmi_deliver_default;  /* Brightmail (experimental build) */
	bool bmi_dont_deliver;  /* Brightmail (experimental build) */
	const char *bmi_rule;  /* Brightmail (experimental build) */
	const char *cannot_route_message;
	bool caseful_local_part;
	bool check_local_user;
	const char *condition;
	const char *debug_print;
	bool disable_logging;
	const char *dnssec_request_domains;
	const char *dnssec_require_domains;
	const char *domains;
	const char *driver;
	bool dsn_lasthop;
	const char *errors_to;
	bool expn;
	/* "fail_verify" (OPT_BOOL_VERIFY) sets both: the row points at the _sender bool, the _recipient one follows it. */
	bool fail_verify_sender;
	bool fail_verify_recipient;
	const char *fallback_hosts;
	const char *group;
	const char *headers_add;
	const char *headers_remove;
	const char *ignore_target_hosts;
	bool initgroups;
	const char *local_part_prefix;
	bool local_part_prefix_optional;
	const char *local_part_suffix;
	bool local_part_suffix_optional;
	const char *local_parts;
	bool log_as_local;  /* true for accept: set by driver_instance_init */
	const char *more;  /* expanded bool: "true"/"false" or an expansion */
	bool pass_on_timeout;
	const char *pass_router;
	const char *redirect_router;
	const char *require_files;
	bool retry_use_local_part;  /* computed by driver_instance_init unless set */
	const char *router_home_directory;
	const char *self;
	const char *senders;
	const char *set;
	const char *translate_ip_address;  /* only in builds with SUPPORT_TRANSLATE_IP_ADDRESS */
	const char *transport;
	const char *transport_current_directory;
	const char *transport_home_directory;
	const char *unseen;  /* expanded bool: "true"/"false" or an expansion */
	const char *user;
	bool verify_only;
	/* "verify" (OPT_BOOL_VERIFY) sets both: the row points at the _sender bool, the _recipient one follows it. */
	bool verify_sender;
	bool verify_recipient;
};

#define ROUTER_GENERIC_NOPTIONS 54
extern const opt_row router_generic_options[ROUTER_GENERIC_NOPTIONS];  /* sorted by name */
extern const struct router_generic router_generic_defaults;

#endif
