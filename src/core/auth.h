/* Authenticators, server side (Exim 4.96 "SMTP authentication" and the driver chapters).
 *
 * The SMTP session finds the instance whose public_name matches the AUTH mechanism and calls
 * auth_server_run(); the driver talks to the client through auth_io (334 challenges) and sets
 * $auth1..$auth3; the generic code then applies server_condition and server_set_id, as Exim does.
 * Driver behaviour hangs off driver_info.ops as an auth_ops.
 */
#ifndef POSTERN_CORE_AUTH_H
#define POSTERN_CORE_AUTH_H

#include <stdbool.h>

#include "conf/driver.h"
#include "expand/expand.h"
#include "lib/str.h"

/* Exim's authenticator results. */
typedef enum auth_rc {
	AUTH_OK,         /* 235 Authentication succeeded */
	AUTH_FAIL,       /* 535 Incorrect authentication data */
	AUTH_DEFER,      /* 435 Unable to authenticate at present */
	AUTH_ERROR,      /* 435 Unable to authenticate at present, no log line (Exim's reaction to a
	                  * server_set_id that fails to expand after success) */
	AUTH_CANCELLED,  /* 501 Authentication cancelled (client sent "*") */
	AUTH_BAD64,      /* 501 Invalid base64 data */
	AUTH_EOF,        /* connection lost / timeout while waiting for a response */
	AUTH_UNEXPECTED, /* 553 Initial data not expected (cram_md5 given an initial response) */
} auth_rc;

/* How a driver exchanges challenges with the client. challenge() sends "334 <b64>" and reads
 * one response line into resp (without CRLF; "*" means cancel). Returns AUTH_OK, AUTH_CANCELLED
 * or AUTH_EOF. */
typedef struct auth_io {
	auth_rc (*challenge)(void *ctx, sv b64_challenge, xbuf *resp);
	void *ctx;
} auth_io;

#define AUTH_VARS 3
typedef struct auth_server_ctx {
	xp_env *env;             /* for server_condition etc.; $auth1..3 are provided from vars[] */
	const auth_io *io;
	sv remote_ip, local_ip;  /* for dovecot rip=/lip= */
	int remote_port, local_port;
	bool tls_active, tls_cert_verified;
	/* Results */
	sv vars[AUTH_VARS];      /* $auth1..$auth3 (tainted: they came from the client) */
	int nvars;
	sv set_id;               /* server_set_id result -> $authenticated_id (SV_NULL: unset or
	                          * failed to expand); made printing as Exim does */
	xbuf err;                /* why it deferred, for the log line (Exim's auth_defer_msg) */
	arena *a;
	/* Every string the client sent, in order: $1..$n while server_condition and server_set_id
	 * are expanded (Exim fills up to 20 numeric variables but only 3 $auth variables). */
	sv strings[XP_MAX_NUMERIC - 1];
	int nstrings;
	xbuf user_msg;           /* suffix of the 435 reply (Exim's auth_defer_user_msg), e.g. ": maybe" */
} auth_server_ctx;

/* Client side. The driver talks to the server through auth_client_io: command() sends one line
 * (without CRLF) and reads the whole reply (code, text of the lines joined with '\n'; code 0 when
 * the connection failed, with the reason in text). The driver returns how it ended: AUTH_OK
 * (235), AUTH_FAIL (the server refused: try the next authenticator), AUTH_DEFER (4xx, or an
 * expansion failed: err says why) or AUTH_EOF (connection lost; err says why). reply holds the
 * last server reply. $auth1..$auth3 hold the server's decoded challenges while a plaintext
 * client_send item is expanded. */
typedef struct auth_client_io {
	int (*command)(void *ctx, sv line, xbuf *reply_text);
	void *ctx;
} auth_client_io;

typedef struct auth_client_ctx {
	xp_env *env;             /* for client_send, client_name, client_secret */
	const auth_client_io *io;
	arena *a;
	xbuf err;
	int code;                /* the last reply's code */
	xbuf reply;              /* the last reply's text */
	sv vars[AUTH_VARS];      /* the decoded challenges, for $auth1..$auth3 */
	int nvars;
} auth_client_ctx;

void auth_client_ctx_init(auth_client_ctx *c, arena *a, xp_env *env, const auth_client_io *io);
/* Expand an option for the client with $auth1..$auth3 from c->vars visible. XP_OK/XP_FORCEFAIL/
 * XP_ERROR as xp_expand. */
int auth_client_expand(auth_client_ctx *c, const char *option, xbuf *out, xbuf *err);
/* Send "AUTH <mech>[ <initial>]" or a response line, and read the reply into c. Returns the code
 * (0: connection lost). */
int auth_client_command(auth_client_ctx *c, sv line);

typedef struct auth_ops {
	/* Run the server side. has_initial: the AUTH command carried an initial response; it is
	 * in initial, where "=" (or an empty view, for callers that already turned "=" into "") means
	 * an empty response. Without one, has_initial is false. */
	auth_rc (*server)(const driver_instance *d, auth_server_ctx *c, bool has_initial, sv initial);
	/* Whether the instance can be a server (has the options a server needs). */
	bool (*server_usable)(const driver_instance *d);
	/* Client side (smtp transport, src/smtp/client.c); NULL: the driver has none. */
	auth_rc (*client)(const driver_instance *d, auth_client_ctx *c);
	/* Whether the instance can be a client (has client_send / client_secret ...). */
	bool (*client_usable)(const driver_instance *d);
} auth_ops;

/* Generic flow: driver's server op, then server_condition (when the driver leaves it to the
 * generic code), then server_set_id. */
auth_rc auth_server_run(const driver_instance *d, auth_server_ctx *c, bool has_initial, sv initial);

/* The instance whose public_name matches mech (case-insensitive) and can serve, or NULL. */
const driver_instance *auth_find_server(sv mech);

/* A provider for $auth1..$auth3 (and the obsolete $1..$3 names Exim still fills) from c. */
void auth_vars_provider(auth_server_ctx *c, xp_provider *p);

void auth_server_ctx_init(auth_server_ctx *c, arena *a, xp_env *env, const auth_io *io);

/* After auth_server_run: the SMTP reply line (without CRLF), and the text Exim logs after
 * "<instance> authenticator failed for <host>: " (empty when rc is AUTH_OK, or when Exim writes
 * no log line). E.g. reply "535 Incorrect authentication data", log
 * "535 Incorrect authentication data (set_id=userx)". AUTH_EOF gives an empty reply (the
 * connection is gone; the session handles it as a lost connection). */
void auth_result_text(const auth_server_ctx *c, auth_rc rc, xbuf *reply, xbuf *log_detail);

/* EHLO: which mechanisms to advertise. Every instance that can serve, in definition order, whose
 * server_advertise_condition is unset or true; a condition that fails to expand is logged as
 * Exim does ("failed to expand condition \"...\" for a3 authenticator: ...") and counts as false.
 * Appends " NAME" per mechanism to mechs (the caller writes "250-AUTH" before it when n > 0) and
 * remembers them in adv for the AUTH command. Exim's AUTH replies: nothing advertised ->
 * "503 AUTH command used when not advertised"; a mechanism not among them ->
 * "504 <mech> authentication mechanism not supported". */
#define AUTH_MAX_ADVERTISED 32
typedef struct auth_advertised {
	const driver_instance *d[AUTH_MAX_ADVERTISED];
	int n;
} auth_advertised;
int auth_advertise(xp_env *env, auth_advertised *adv, xbuf *mechs);
const driver_instance *auth_find_advertised(const auth_advertised *adv, sv mech);

/* Exim's start-up check over all instances (list in definition order): two instances that can
 * both serve must not share a public name (case-insensitive). false with Exim's message
 * ("Exim configuration error:\n  two server authenticators (a and b) have the same public name
 * (X)") in err. Meant for the configuration's driver checks, which see one instance at a time. */
bool auth_check_public_names(const driver_instance *list, xbuf *err);

/* The instance's generic string options (NULL when unset). */
const char *auth_public_name(const driver_instance *d);
const char *auth_generic_option(const driver_instance *d, const char *name);

/* Helpers for drivers. auth_add_strings splits decoded client data at NUL bytes into c->strings
 * (and the first three into $auth1..3) as Exim does: an empty datum is one empty string; a NUL at
 * the very end does not start another string. auth_check_condition applies an expanded
 * condition option: unset -> unset_rc; "" 0 no false -> FAIL; 1 yes true -> OK; forced failure
 * -> FAIL; expansion error -> DEFER with the message in c->err; anything else -> DEFER with the
 * value in c->err and ": value" in c->user_msg. auth_decode_b64 fails on malformed base64. */
void auth_add_strings(auth_server_ctx *c, sv decoded);
auth_rc auth_check_condition(auth_server_ctx *c, const char *cond, auth_rc unset_rc);
bool auth_decode_b64(auth_server_ctx *c, sv b64, xbuf *out);
/* Send a challenge (already in clear text) and read the response, decoded. */
auth_rc auth_challenge(auth_server_ctx *c, sv clear, xbuf *decoded);

#endif
