/* Generic transport options (Exim 4.96 "Generic options for transports") and their defaults. */
#ifndef POSTERN_DRIVERS_TRANSPORTS_TRANSPORT_H
#define POSTERN_DRIVERS_TRANSPORTS_TRANSPORT_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct transport_generic {
	bool body_only;
	const char *current_directory;
	const char *debug_print;
	bool delivery_date_add;
	bool disable_logging;
	const char *driver;
	bool envelope_to_add;
	const char *event_action;
	const char *group;
	const char *headers_add;
	bool headers_only;
	const char *headers_remove;
	const char *headers_rewrite;  /* rewrite rules (OPT_REWRITE), raw text */
	const char *home_directory;
	bool initgroups;
	const char *max_parallel;  /* expanded integer: kept as text (OPT_STRING) until use */
	const char *message_size_limit;  /* expanded size: kept as text (OPT_STRING) until use */
	bool rcpt_include_affixes;
	bool retry_use_local_part;  /* true for local transports: set by driver_instance_init */
	const char *return_path;
	bool return_path_add;
	const char *shadow_condition;
	const char *shadow_transport;
	const char *tpda_delivery_action;  /* TPDA (EXPERIMENTAL_TPDA, 4.82-4.84) predecessor of event_action */
	const char *transport_filter;
	int transport_filter_timeout;
	const char *user;
};

/* The mbox-style separator lines appendfile (plain files) and pipe use unless configured. */
#define TRANSPORT_MBOX_MESSAGE_PREFIX "From ${if def:return_path{$return_path}{MAILER-DAEMON}} ${tod_bsdinbox}\n"
#define TRANSPORT_MBOX_MESSAGE_SUFFIX "\n"

#define TRANSPORT_GENERIC_NOPTIONS 29
extern const opt_row transport_generic_options[TRANSPORT_GENERIC_NOPTIONS];  /* sorted by name */
extern const struct transport_generic transport_generic_defaults;

#endif
