/* server_tls for the dovecot authenticator: TLS on the connection to Dovecot's auth service, so
 * the credentials never cross the network in clear (dovecot_tls.c; docs/authentication.md). */
#ifndef POSTERN_DRIVERS_AUTHS_DOVECOT_TLS_H
#define POSTERN_DRIVERS_AUTHS_DOVECOT_TLS_H

#include <stdbool.h>

#include "conf/driver.h"
#include "core/auth.h"
#include "lib/bio.h"

/* Start TLS on fd (connected to server_socket). On success *layer is the session's bio layer and
 * *session its handle for dovecot_tls_end; false with the reason in c->err. */
bool dovecot_tls_start(const driver_instance *di, auth_server_ctx *c, int fd, bio_layer *layer,
	void **session);

/* Send close_notify and free the session (NULL: nothing). */
void dovecot_tls_end(void *session);

#endif
