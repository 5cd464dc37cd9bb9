/* Client behaviour of the authenticator drivers (core/auth.h auth_ops.client), hung on their
 * driver_info.ops next to the server side. */
#ifndef POSTERN_DRIVERS_AUTHS_AUTH_CLIENTS_H
#define POSTERN_DRIVERS_AUTHS_AUTH_CLIENTS_H

#include "core/auth.h"

auth_rc plaintext_client(const driver_instance *d, auth_client_ctx *c);
bool plaintext_client_usable(const driver_instance *d);
auth_rc cram_md5_client(const driver_instance *d, auth_client_ctx *c);
bool cram_md5_client_usable(const driver_instance *d);

/* The CRAM-MD5 answer "<name> <hex hmac-md5(secret, challenge)>" (RFC 2195), for tests too. */
void cram_md5_client_answer(sv name, sv secret, sv challenge, xbuf *out);

#endif
