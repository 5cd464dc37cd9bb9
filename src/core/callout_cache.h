/* The "callout" hints database (Exim 4.96 "Callout caching"): one record per domain (whether
 * it takes MAIL FROM:<>, and the postmaster and random check results, each with its time) and
 * one per verified address. Records are text: a version digit, then times and result letters
 * ('u' unknown, 'a' accepted, 'r' rejected). Reading applies the expiry options. */
#ifndef POSTERN_CORE_CALLOUT_CACHE_H
#define POSTERN_CORE_CALLOUT_CACHE_H

#include <stdbool.h>
#include <time.h>

#include "lib/str.h"

typedef enum cc_result { CC_UNKNOWN = 'u', CC_ACCEPT = 'a', CC_REJECT = 'r' } cc_result;

typedef struct cc_domain {
	long long stamp;
	cc_result result;             /* the connection and MAIL FROM:<> */
	long long pm_stamp;
	cc_result postmaster;
	long long random_stamp;
	cc_result random;
} cc_domain;

/* Decode / encode (pure; decode rejects anything malformed). */
bool cc_domain_decode(sv v, cc_domain *d);
void cc_domain_encode(const cc_domain *d, xbuf *out);
bool cc_address_decode(sv v, long long *stamp, cc_result *r);

/* Apply the expiry options at time now: expired parts become CC_UNKNOWN. */
void cc_domain_expire(cc_domain *d, long long now);
cc_result cc_address_expire(long long stamp, cc_result r, long long now);

/* spool: the expanded spool_directory. Read (a missing or unreadable database reads as nothing known). */
void cc_read_domain(const char *spool, arena *a, sv domain, long long now, cc_domain *d);
cc_result cc_read_address(const char *spool, arena *a, sv key, long long now);
/* Write: the domain record merges the known parts of d into what is stored. */
void cc_write_domain(const char *spool, arena *a, sv domain, const cc_domain *d);
void cc_write_address(const char *spool, arena *a, sv key, cc_result r, long long now);

#endif
