/* Records of the `tls` hints database: one stored TLS client session per server (facts §11), keyed
 * by tls_resume_client_key(). Used by the TLS client and by exim_dumpdb / exim_tidydb.
 *
 * Layout (version 1): byte 0 = 1; bytes 1-8 the time it was stored, bytes 9-16 the time the
 * session stops being usable (both seconds since the epoch, little-endian); then the session in
 * OpenSSL's DER form (i2d_SSL_SESSION). */
#ifndef POSTERN_TLS_TLS_RESUME_DB_H
#define POSTERN_TLS_TLS_RESUME_DB_H

#include <stdbool.h>
#include <time.h>

#include "lib/str.h"

#define TLS_RESUME_DB "tls"
enum { TLS_RESUME_RECORD_VERSION = 1, TLS_RESUME_RECORD_HEADER = 17 };

/* Split a record; false for one this version cannot read (tidy deletes those). */
bool tls_resume_record_decode(sv value, time_t *stored, time_t *expires, sv *der);
/* Append a record to out. */
void tls_resume_record_encode(time_t stored, time_t expires, sv der, xbuf *out);

#endif
