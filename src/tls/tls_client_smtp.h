/* TLS for the smtp transport: STARTTLS and protocol = smtps through the client engine's
 * tls_start hook (src/smtp/client.h), OCSP and resumption around the handshake, $tls_out_*, and
 * the per-address results (X=, CV=, DN= ...). The transport's options are read and expanded
 * by src/drivers/transports/smtp_client_opts.c, which fills an smtp_tls_conf. docs/tls.md. */
#ifndef POSTERN_TLS_TLS_CLIENT_SMTP_H
#define POSTERN_TLS_TLS_CLIENT_SMTP_H

#include <stdbool.h>

#include "conf/driver.h"
#include "core/addr.h"
#include "expand/expand.h"
#include "smtp/client.h"
#include "tls/tls_client.h"

/* The transport's TLS options for one host, expanded and matched. */
typedef struct smtp_tls_conf {
	tls_client_params p;       /* certificate, CAs, verify mode, names, SNI, ciphers ... */
	bool require_tls;          /* hosts_require_tls matched */
	bool on_connect;           /* protocol = smtps */
	bool tryclear;             /* tls_tempfail_tryclear */
	bool request_ocsp;         /* hosts_request_ocsp matched */
	bool require_ocsp;         /* hosts_require_ocsp matched */
	bool resume;               /* tls_resumption_hosts matched */
	const char *host_name_extract;  /* the option's text (NULL: unset), expanded with $item =
	                                 * the EHLO reply to name a load-balanced host for the
	                                 * resumption key */
	xp_env *env;               /* for host_name_extract and events */
	const driver_instance *transport;  /* for its event_action (tls:cert); may be NULL */
	/* DANE: dane_usage is $tls_out_tlsa_usage (0: DANE not in use; p.dane_* then empty). A
	 * host DANE refuses is never connected to (smtpc_options.refuse_text). */
	int dane_usage;
} smtp_tls_conf;

/* Arrange for TLS on the connection o will make: sets o->tls_start, tls_ctx, tls_close,
 * require_tls and tls_on_connect. conf is copied (its strings must live as long as a). Forgets
 * the previous session's $tls_out_* values. */
void smtp_tls_attach(arena *a, const smtp_tls_conf *conf, smtpc_options *o);

/* The session's facts into the address (tls_used, cipher, peerdn, verified, ocsp, resumption,
 * ver, sni, peercert); nothing when c did not use TLS through smtp_tls_attach. */
void smtp_tls_to_addr(const smtpc_conn *c, address_item *a);

/* tls_tempfail_tryclear: after smtpc_connect failed, whether the host is to be tried again in
 * clear (the handshake failed, TLS is not required, not smtps). When true, Exim's line
 * "<reason>: delivering unencrypted to H=<name> [<ip>] (not in hosts_require_tls)" has been
 * logged and o is changed so that the next smtpc_connect does not try TLS. */
bool smtp_tls_tryclear(const smtpc_conn *c, smtpc_options *o);

#endif
