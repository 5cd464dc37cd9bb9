/* The daemon's OCSP staple refresher (beyond Exim; docs/tls.md "Self-refreshing staples").
 *
 * With tls_ocsp_refresh (default true) and tls_ocsp_file set, each certificate of
 * tls_certificate that names an OCSP responder (its Authority Information Access) gets its
 * response, in the tls_ocsp_file item of the same position, fetched anew over HTTP once half
 * the validity window of the response in the file has passed (or at once when the file has no
 * current response for it). The fetched response is verified against the certificate's issuer
 * and replaces the file atomically; on failure the old file stays (and is stapled while it is
 * current) and the attempt is repeated with a growing delay.
 *
 * The work runs in a child process so the daemon never waits on a responder; the daemon's main
 * loop calls the three functions below. */
#ifndef POSTERN_TLS_TLS_OCSP_REFRESH_H
#define POSTERN_TLS_TLS_OCSP_REFRESH_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

/* Milliseconds until the refresher next wants tls_ocsp_refresh_tick (for poll); -1: never. */
int tls_ocsp_refresh_timeout_ms(time_t now);
/* When due, look at the staples and start a child for those needing a new response.
 * child_setup(ctx) runs first in the child (the daemon closes its listeners there). */
void tls_ocsp_refresh_tick(time_t now, void (*child_setup)(void *), void *ctx);
/* A child was reaped: true if it was the refresher's (status as from waitpid). */
bool tls_ocsp_refresh_reaped(pid_t pid, int status, time_t now);

#endif
