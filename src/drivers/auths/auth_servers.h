/* Server behaviour of the authenticator drivers Postern implements (core/auth.h auth_ops),
 * hung on their driver_info.ops. */
#ifndef POSTERN_DRIVERS_AUTHS_AUTH_SERVERS_H
#define POSTERN_DRIVERS_AUTHS_AUTH_SERVERS_H

#include "core/auth.h"

extern const auth_ops plaintext_auth_ops, cram_md5_auth_ops, dovecot_auth_ops;

/* cram_md5's server with a given challenge (the driver makes "<pid.time@primary_hostname>");
 * exposed so tests can use RFC 2195's published vector. */
auth_rc cram_md5_server_challenge(const driver_instance *d, auth_server_ctx *c, sv challenge);

#endif
