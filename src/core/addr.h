/* The address model and the router engine (Exim 4.96 "Generic options for routers", "How Exim
 * routes an address" and the router driver chapters).
 *
 * An address_item is one address on its way through the router chain: the address as given,
 * its local part (with prefix/suffix removed) and domain, what the routers attached to it (data,
 * home directory, headers, errors address, transport name, hosts) and where it came from (parent
 * chain for redirected addresses). route_address() runs one address through the chain with
 * Exim's preconditions in Exim's order; route_chain() routes a top address and all the
 * addresses redirection generates, sorting them into results (delivery, verification, -bt).
 *
 * Drivers (src/drivers/routers/<name>_route.c) hang a router_ops off driver_info.ops. The
 * generic option block belongs to the drivers layer; the engine reads it through
 * route_opt_str/route_opt_bool, by option name.
 */
#ifndef POSTERN_CORE_ADDR_H
#define POSTERN_CORE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/driver.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/str.h"

/* A host a remote delivery may go to. */
typedef struct route_host {
	struct route_host *next;
	sv name;
	sv address;          /* text form; empty: not looked up / unusable */
	int mx;              /* MX preference; -1: not from an MX record */
	int port;            /* -1: the transport's */
	bool unusable;       /* ignore_target_hosts matched */
} route_host;

/* What kind of "address" a redirection produced. */
typedef enum addr_kind { ADDR_MAIL, ADDR_PIPE, ADDR_FILE, ADDR_DIRECTORY,
	ADDR_REPLY,          /* an autoreply a filter set up (">to"; address_item.reply) */
} addr_kind;

/* Results of a router and of routing. */
typedef enum route_rc {
	ROUTE_OK,         /* routed: transport and hosts set (or redirected: children queued) */
	ROUTE_DECLINE,    /* not for this router: try the next */
	ROUTE_PASS,       /* skip to pass_router (or the next) */
	ROUTE_DEFER,      /* temporary failure: message set */
	ROUTE_FAIL,       /* permanent failure: message set */
	ROUTE_DISCARD,    /* :blackhole: and the like */
	ROUTE_REROUTED,   /* redirected: the children carry on */
	ROUTE_SKIP,       /* a precondition failed (internal to the engine) */
	ROUTE_ERROR,      /* configuration problem: treated as DEFER, message set */
} route_rc;

/* Why routing is being done: the verify/-bt flags select which routers run. */
typedef enum route_mode {
	ROUTE_MODE_DELIVER,
	ROUTE_MODE_VERIFY_RECIPIENT,
	ROUTE_MODE_VERIFY_SENDER,
	ROUTE_MODE_ADDRESS_TEST,   /* -bt */
	ROUTE_MODE_EXPN,
} route_mode;

/* The outcome of a delivery attempt for one address. Transports set it (with basic_errno,
 * more_errno, message and the host fields); the delivery process reads it for log lines, retry
 * records, bounces, DSNs and events. ADDR_PANIC: a configuration or system problem, logged to the
 * panic log and treated as a deferral. */
typedef enum addr_result { ADDR_PENDING = 0, ADDR_OK, ADDR_DEFER, ADDR_FAIL, ADDR_PANIC } addr_result;

/* A retry record a delivery attempt asks for (Exim's retry items), applied by the delivery
 * process after the transport has finished (src/core/retry.h). */
typedef struct addr_retry {
	struct addr_retry *next;
	sv key;                           /* "T:host:ip+port", "R:domain", "R:lp@domain" ... */
	int basic_errno, more_errno;
	sv text;                          /* the error text to store */
	bool remove;                      /* success: delete the record */
	bool is_host;                     /* a host record (for the "all hosts" retry checks) */
} addr_retry;

typedef struct address_item {
	struct address_item *next;        /* in whatever list it is on */
	struct address_item *parent;      /* the address this one was redirected from */
	addr_kind kind;
	sv address;                       /* as routed ("lp@domain", "|command", "/file") */
	sv unique;                        /* for duplicate detection */
	sv cc_local_part;                 /* local part as given (case kept) */
	sv lc_local_part;                 /* lower-cased */
	sv local_part;                    /* what $local_part shows (after prefix/suffix removal) */
	sv domain;                        /* lower-cased */
	sv prefix, suffix;                /* $local_part_prefix, $local_part_suffix */
	sv prefix_v, suffix_v;            /* the parts a "*" in the affix matched (_v variables) */
	sv address_data;                  /* $address_data */
	sv domain_data, local_part_data;  /* from the domains / local_parts lookups */
	sv home;                          /* $home */
	sv errors_address;                /* errors_to result; empty: none */
	sv headers_add, headers_remove;   /* accumulated over routers ("\n"-separated / colon list) */
	const driver_instance *router;    /* the router that accepted it */
	const char *transport;            /* transport name; NULL: none */
	route_host *hosts;
	sv fallback_hosts;
	sv message;                       /* DEFER/FAIL: the text (Exim's addr->message) */
	sv user_message;                  /* cannot_route_message result */
	bool pfr_error;                   /* pipe/file item without a transport */
	bool pfr_forbidden;               /* pipe/file item under forbid_pipe / forbid_file */
	bool keep_hosts;                  /* a declining router's hosts stay (host_find_failed) */
	sv pfr_error_text;
	const driver_instance *start_router; /* where routing resumes (unseen copies, pass_router) */
	bool uid_set, gid_set;
	uid_t uid;
	gid_t gid;
	int redirect_depth;               /* generations of redirection, to stop runaway loops */

	/* ---- delivery (set by the delivery process and the transports) ---- */
	int rcpt_index;                   /* index in message.rcpt of the top ancestor; -1: none */
	unsigned child_seq;               /* creation order among a routing's children (pipe and
	                                   * file items are delivered newest first, as in Exim) */
	unsigned dsn_flags;               /* MSG_DSN_* of that recipient (NOTIFY, ORCPT below) */
	sv orcpt;
	addr_result result;
	int basic_errno;                  /* errno, or Exim's negative numbers (SMTPC_ERRNO_*, ADDR_ERRNO_*) */
	int more_errno;                   /* the SMTP code of a 4xx/5xx, a quota size, ... */
	sv host_used_name, host_used_address;  /* the host a remote delivery reached (empty: none) */
	int host_used_port;
	int host_used_mx;                 /* its MX preference; -1: not from MX */
	sv sending_address;               /* our end of that connection ($sending_ip_address) */
	int sending_port;
	sv confirmation;                  /* the remote's acceptance ("250 OK id=..."), the C= field */
	sv smtp_response;                 /* the remote's failing reply ("550 5.1.1 no such user"),
	                                   * for Diagnostic-Code: smtp; ... */
	sv smtp_greeting, helo_response;  /* first lines, at most 128 bytes: DSN extra information */
	bool tls_used;                    /* the delivery was encrypted */
	sv tls_cipher, tls_peerdn;        /* X=, DN= */
	bool tls_certificate_verified;    /* CV= */
	int tls_ocsp;                     /* $tls_out_ocsp (TLS_OCSP_*) */
	unsigned tls_resumption;          /* $tls_out_resumption bits; USED adds '*' to X= */
	sv tls_ver, tls_sni, tls_peercert; /* $tls_out_ver, $tls_out_sni, $tls_out_peercert */
	bool freeze;                      /* the transport asks for the message to be frozen */
	bool retry_skipped;               /* not tried: retry time not reached */
	bool retry_timedout;              /* the retry rules' cutoff passed: fail instead of defer */
	bool delivered_to_file;           /* appendfile/pipe: log the local part form Exim uses */
	sv delivery_detail;               /* extra log text from the transport (e.g. quota) */
	addr_retry *retries;              /* retry records this attempt asks for */
	bool tls_dane_verified;           /* the TLS client: verified by DANE (CV=dane) */
	bool chunking_used;               /* the message went with BDAT: " K" in the => line */
	bool prdr_used;                   /* the message went with PRDR: " PRDR" in the => line */
	sv auth_used;                     /* the smtp client authenticator that authenticated the
	                                   * connection: " A=<name>" in the => line */
	bool utf8_downconverted;          /* its envelope went as A-labels (utf8_downconvert): the =>
	                                   * line shows that form, then the address in <> */
	bool host_used_continued;         /* over a connection passed on from another message (-MC):
	                                   * Exim's '*' after H=<name> [<ip>] */
	struct addr_reply *reply;         /* ADDR_REPLY: the filter's reply (core/addr_reply.h); the
	                                   * autoreply transport then ignores its own options */
	bool filter_discarded;            /* a filter discarded it: "=> discarded" (not :blackhole:) */
	int tls_tlsa_usage;               /* $tls_out_tlsa_usage of the delivery's session */
	sv tls_ourcert;                   /* $tls_out_ourcert (PEM) */
	sv onetime_parent;                /* a recipient one_time added: its original address (logs) */
	bool retry_local_record;          /* a local delivery's "T:" retry record existed before the
	                                   * attempt (a success deletes it) */
	sv delivered_path;                /* a filter's file item: the file the transport's own file
	                                   * option named (the "=>" line shows it) */
	bool txn_first;                   /* the first recipient of a later SMTP transaction on the
	                                   * same connection (max_rcpt): logged "=>" again, as Exim */
	bool journaled;                   /* in -J already (tp_ctx.journal: the transport's own record) */
	bool ignore_error;                /* its failure sends no report: "<addr>: error ignored"
	                                   * (a Sieve vacation reply, as Exim 4.96) */
	int tcp_fastopen;                 /* a tfo_state (core/tfo_state.h): the connection was
	                                   * opened with TCP Fast Open, " TFO" after H= (added: tfo) */
	bool hide_child;                  /* made by a redirect router with hide_child_in_errmsg:
	                                   * reports name it "an undisclosed address" */
} address_item;

/* Exim's negative error numbers are printed in log lines ("defer (-N)"); the SMTP client's are
 * SMTPC_ERRNO_*. Each module that produces one defines it in its own header, with the value
 * observed from Exim 4.96's logs. */
enum { ADDR_ERRNO_UNKNOWN = -1 };     /* "defer (-1)": a generic failure */

/* Where routing puts what it decided (each list in Exim's order, newest first). */
typedef struct route_results {
	address_item *local, *remote;     /* routed to a local / remote transport (or none) */
	address_item *pfr;                /* pipe/file items */
	address_item *deferred, *failed, *discarded;
} route_results;

/* Called as addresses reach a final state, in the order Exim decides them (-bt prints defers,
 * failures and discards at once, successes at the end). kind: ROUTE_OK (pipe/file item only),
 * ROUTE_DEFER, ROUTE_FAIL, ROUTE_DISCARD. */
typedef void route_report_fn(void *ctx, route_rc kind, const address_item *a);

typedef struct route_ctx {
	arena *a;
	xp_env *env;              /* the caller's environment (message/connection variables) */
	route_mode mode;
	sv sender;                /* envelope sender, for "senders =" */
	route_results res;
	address_item *queue;      /* addresses waiting to be routed */
	route_report_fn *report;
	void *report_ctx;
	bool verify;              /* verification: a redirection to several addresses succeeds
	                           * without routing them (Exim's rule); to one, that one is routed */
	bool success_on_redirect; /* verify = .../success_on_redirect: any redirection succeeds */
	int routed;               /* addresses routed so far (bounded) */
	bool show_debug_print;    /* -bt: debug_print text goes to stderr even without -d */
	/* Log lines routing writes (self = freeze, expansion failures, skipped syntax errors);
	 * which is LOG_MAIN, LOG_PANIC or both. NULL: log_write. -bt and -bv show them on stderr
	 * instead, as Exim does; the SMTP session routes them through its own log. */
	void (*log_main)(void *ctx, unsigned which, const char *text);
	void *log_ctx;
	sv verify_host;           /* ACL verification: $sender_fullhost, for "(while verifying <a>
	                           * from host H)" in log lines; empty: "(while routing <a>)" */
	/* Deliveries only (NULL otherwise): send a redirect router's report of skipped syntax
	 * errors to its syntax_errors_to (intro: expanded syntax_errors_text or null; errors: the
	 * report's list of errors). */
	void (*syntax_errors)(void *ctx, const char *router, sv to, sv intro, sv errors);
	void *syntax_errors_ctx;
	bool first_delivery;      /* deliveries: the message's first attempt (filters' first_delivery) */
	bool manually_thawed;     /* deliveries: thawed by hand (filters' manually_thawed) */
	unsigned children_made;   /* route_child_address's count, for address_item.child_seq */
} route_ctx;

/* Behaviour a router driver provides (driver_info.ops). */
typedef struct router_ops {
	/* Route a (preconditions already passed, $local_part etc. visible through env). */
	route_rc (*route)(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env);
	/* The redirect router's repeat_use (NULL: true): may this router handle an address one of
	 * whose ancestors it already handled? */
	bool (*repeat_use)(const driver_instance *r);
} router_ops;

/* ---- the engine ---- */
/* A new top-level address from text already checked for syntax (lp@domain). */
address_item *route_new_address(arena *a, sv address);
/* A child of parent (redirection), with Exim's uniqueness rules. */
address_item *route_child_address(route_ctx *c, address_item *parent, sv address, addr_kind kind);
void route_ctx_init(route_ctx *c, arena *a, xp_env *env, route_mode mode, sv sender);
/* Route top and everything generated from it. Returns the overall result for top: ROUTE_OK when
 * at least one address was routed and none failed or deferred, else FAIL/DEFER as Exim's
 * verify would report. */
route_rc route_chain(route_ctx *c, address_item *top);
/* One address through the routers (starting at a->start_router). */
route_rc route_address(route_ctx *c, address_item *a);

/* ---- helpers for drivers ---- */
const char *route_opt_str(const driver_instance *r, const char *name);
bool route_opt_bool(const driver_instance *r, const char *name);
/* Expand an option value (NULL stays NULL): XP_OK, XP_FORCEFAIL, XP_ERROR (err set). */
int route_expand(xp_env *env, const char *src, sv *out, xbuf *err);
/* The variable provider for $local_part, $domain, $address_data ... of a (stack-allocated p). */
void route_vars_push(xp_env *env, xp_provider *p, const address_item *a);
/* Look up the addresses of the hosts (byname: getaddrinfo; bydns: DNS; neither: DNS, then
 * getaddrinfo when DNS says the name does not exist); a host given as an IP address keeps it.
 * Addresses matching the (expanded) ignore list are dropped as they are found, and a host left
 * with none counts as not found, as Exim's host lookups apply ignore_target_hosts.
 * A host not found: ROUTE_MISSING_FAIL returns ROUTE_FAIL (ROUTE_DEFER for a temporary failure)
 * with *failed_host naming it; ROUTE_MISSING_DROP drops it; ROUTE_MISSING_KEEP keeps it marked
 * unusable (MX hosts, as Exim lists them). */
typedef enum route_lookup { ROUTE_LOOKUP_DEFAULT, ROUTE_LOOKUP_BYNAME, ROUTE_LOOKUP_BYDNS } route_lookup;
enum { ROUTE_MISSING_FAIL, ROUTE_MISSING_DROP, ROUTE_MISSING_KEEP };
route_rc route_hosts_find(arena *a, route_host **list, route_lookup how, sv ignore, int missing,
	sv *failed_host);
/* One host list item: "name", "name:port" (written "name::port" in a colon list), "[ip]:port",
 * or an IPv6 address. */
route_host *route_host_parse(arena *a, sv item);
/* The router's ignore_target_hosts, expanded; an expansion failure is panic-logged and ignores
 * nothing, as Exim's list checking does. */
sv route_ignore_list(route_ctx *c, const driver_instance *r, xp_env *env);
/* Mark hosts matching ignore_target_hosts unusable (and drop them); true if any is left. */
bool route_hosts_ignore(route_host **list, sv ignore, xp_env *env);
/* Exim's self check: if a host is this machine, drop it and those after it at the same or a
 * higher MX preference. Returns true if the first host is local (the "self" case). */
bool route_hosts_local_check(route_host **list);
/* Apply the router's "self" option when the lowest-preference host is the local host.
 * ROUTE_OK with the address rerouted or hosts kept ("send"), or PASS/DEFER/FAIL/DECLINE.
 * what: Exim's text for the case ("remote host address is the local host", or for an MX
 * "lowest numbered MX record points to local host"). */
route_rc route_self_action(route_ctx *c, const driver_instance *r, address_item *a, sv hostname,
	const char *what);
/* Queue a new child for routing (redirect) and a pipe/file item as a result. */
void route_queue(route_ctx *c, address_item *child);
/* What every routing driver does once it accepts an address (Exim's rf_get_errors_address,
 * rf_get_munge_headers): errors_to, headers_add, headers_remove. ROUTE_OK or ROUTE_DEFER
 * (a->message set). */
route_rc route_generic_props(route_ctx *c, const driver_instance *r, address_item *a, xp_env *env);
/* The router's transport option, expanded (Exim's rf_get_transport): ROUTE_OK or ROUTE_DEFER. */
route_rc route_set_transport(route_ctx *c, const driver_instance *r, address_item *a, xp_env *env);
/* Write a log line for routing (through c->log_main when set); which: LOG_MAIN [| LOG_PANIC]. */
void route_log(route_ctx *c, unsigned which, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A random number below n (n > 0), for host order randomizing. */
unsigned route_random(unsigned n);
/* Is an address (text) local to this machine per local interfaces? */
bool route_ip_is_local(sv ip);

/* The router's user and group options alone (part of route_generic_props), for a router that
 * needs them before it accepts the address (redirect opens its file as that user). */
route_rc route_user_group(route_ctx *c, const driver_instance *r, address_item *a, xp_env *env);

#endif
