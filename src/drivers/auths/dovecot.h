/* dovecot authenticator: private options. */
#ifndef POSTERN_DRIVERS_AUTHS_DOVECOT_H
#define POSTERN_DRIVERS_AUTHS_DOVECOT_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct dovecot_auth_options {
	const char *server_socket;
	bool server_tls;  /* documented in experimental-spec, never compiled by Exim; ours: dovecot_tls.c */
	const char *server_tls_verify_certificates, *server_tls_sni;
	const char *server_tls_certificate, *server_tls_privatekey;
};

extern const driver_info dovecot_auth_info;

#endif
