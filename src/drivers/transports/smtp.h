/* smtp transport: private options (Exim 4.96 "The smtp transport"), OpenSSL build. */
#ifndef POSTERN_DRIVERS_TRANSPORTS_SMTP_H
#define POSTERN_DRIVERS_TRANSPORTS_SMTP_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct smtp_transport_options {
	bool address_retry_include_sender;
	bool allow_localhost;
	const char *arc_sign;  /* ARC signing (EXPERIMENTAL_ARC) */
	const char *authenticated_sender;
	bool authenticated_sender_force;
	int command_timeout;
	int connect_timeout;
	int connection_max_messages;
	int connection_idle_timeout;  /* beyond Exim: a delivery worker's connection cache */
	const char *dane_require_tls_ciphers;
	int data_timeout;
	bool delay_after_cutoff;
	const char *dkim_canon;
	const char *dkim_domain;
	const char *dkim_hash;
	const char *dkim_identity;
	const char *dkim_private_key;
	const char *dkim_selector;
	const char *dkim_sign_headers;
	const char *dkim_strict;
	const char *dkim_timestamps;
	bool dns_qualify_single;
	bool dns_search_parents;
	const char *dnssec_request_domains;
	const char *dnssec_require_domains;
	const char *dscp;
	const char *fallback_hosts;
	int final_timeout;
	bool gethostbyname;
	const char *helo_data;
	const char *host_name_extract;
	const char *hosts;
	const char *hosts_avoid_esmtp;
	const char *hosts_avoid_pipelining;
	const char *hosts_avoid_tls;
	int hosts_max_try;
	int hosts_max_try_hardlimit;
	const char *hosts_nopass_tls;
	const char *hosts_noproxy_tls;
	bool hosts_override;
	const char *hosts_pipe_connect;
	bool hosts_randomize;
	const char *hosts_request_ocsp;
	const char *hosts_require_alpn;
	const char *hosts_require_auth;
	const char *hosts_require_dane;
	const char *hosts_require_ocsp;
	const char *hosts_require_tls;
	const char *hosts_try_auth;
	const char *hosts_try_chunking;
	const char *hosts_try_dane;
	const char *hosts_try_fastopen;
	const char *hosts_try_prdr;
	const char *hosts_verify_avoid_tls;
	const char *interface;
	bool keepalive;
	bool lmtp_ignore_quota;
	int max_rcpt;
	int message_linelength_limit;
	const char *multi_domain;
	const char *port;  /* unset: follows protocol (driver_instance_init) */
	const char *protocol;
	const char *retry_include_ip_address;
	const char *serialize_hosts;
	int size_addition;
	const char *socks_proxy;
	const char *tls_alpn;
	const char *tls_certificate;
	const char *tls_crl;
	int tls_dh_min_bits;
	const char *tls_privatekey;
	const char *tls_require_ciphers;
	const char *tls_resumption_hosts;
	const char *tls_sni;
	bool tls_tempfail_tryclear;
	const char *tls_try_verify_hosts;
	const char *tls_verify_cert_hostnames;
	const char *tls_verify_certificates;
	const char *tls_verify_hosts;
	const char *tpda_host_defer_action;  /* TPDA (EXPERIMENTAL_TPDA, 4.82-4.84) */
	const char *utf8_downconvert;  /* expanded integer (-1, 0, 1): OPT_STRING */
};

extern const driver_info smtp_transport_info;

#endif
