/* The callout cache (callout_cache.h) over the hints database layer. Failures to open or write
 * the database only lose the hint: the callout itself is still done. */
#include "core/callout_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/main_options.h"
#include "core/hintsdb.h"

static bool result_ok(char c)
{
	return c == CC_UNKNOWN || c == CC_ACCEPT || c == CC_REJECT;
}

/* Fields separated by single spaces: "1 <stamp> <r> <pm_stamp> <r> <random_stamp> <r>". */
bool cc_domain_decode(sv v, cc_domain *d)
{
	char buf[128];
	if (v.len == 0 || v.len >= sizeof buf)
		return false;
	memcpy(buf, v.p, v.len);
	buf[v.len] = 0;
	char r1, r2, r3;
	int used = 0;
	if (sscanf(buf, "1 %lld %c %lld %c %lld %c%n", &d->stamp, &r1, &d->pm_stamp, &r2, &d->random_stamp, &r3,
		&used) != 6 || (size_t)used != v.len || !result_ok(r1) || !result_ok(r2) || !result_ok(r3))
		return false;
	d->result = (cc_result)r1;
	d->postmaster = (cc_result)r2;
	d->random = (cc_result)r3;
	return true;
}

void cc_domain_encode(const cc_domain *d, xbuf *out)
{
	xbuf_printf(out, "1 %lld %c %lld %c %lld %c", d->stamp, (char)d->result, d->pm_stamp, (char)d->postmaster,
		d->random_stamp, (char)d->random);
}

bool cc_address_decode(sv v, long long *stamp, cc_result *r)
{
	char buf[64];
	if (v.len == 0 || v.len >= sizeof buf)
		return false;
	memcpy(buf, v.p, v.len);
	buf[v.len] = 0;
	char c;
	int used = 0;
	if (sscanf(buf, "1 %lld %c%n", stamp, &c, &used) != 2 || (size_t)used != v.len || !result_ok(c))
		return false;
	*r = (cc_result)c;
	return true;
}

/* A domain record's parts live for the negative expiry when callouts cannot be made to it (or
 * its postmaster was refused), else for the positive one. */
void cc_domain_expire(cc_domain *d, long long now)
{
	long long neg = conf_main.callout_domain_negative_expire, pos = conf_main.callout_domain_positive_expire;
	if (d->result != CC_UNKNOWN && now - d->stamp >= (d->result == CC_REJECT ? neg : pos))
		d->result = CC_UNKNOWN;
	if (d->postmaster != CC_UNKNOWN && now - d->pm_stamp >= (d->postmaster == CC_REJECT ? neg : pos))
		d->postmaster = CC_UNKNOWN;
	if (d->random != CC_UNKNOWN && now - d->random_stamp >= pos)
		d->random = CC_UNKNOWN;
}

cc_result cc_address_expire(long long stamp, cc_result r, long long now)
{
	long long life = r == CC_REJECT ? conf_main.callout_negative_expire : conf_main.callout_positive_expire;
	return r != CC_UNKNOWN && now - stamp < life ? r : CC_UNKNOWN;
}

static hintsdb *open_db(const char *spool, arena *a, bool readonly)
{
	if (!spool || !*spool)
		return NULL;
	xbuf err;
	xbuf_init(&err, a);
	return hintsdb_open(spool, "callout", readonly, &err);
}

static sv key_of(arena *a, char kind, sv name)
{
	xbuf k;
	xbuf_init(&k, a);
	xbuf_putc(&k, kind);
	xbuf_putc(&k, ':');
	for (size_t i = 0; i < name.len; i++)   /* domains compare caselessly */
		xbuf_putc(&k, kind == 'D' && name.p[i] >= 'A' && name.p[i] <= 'Z' ? (char)(name.p[i] + 32) : name.p[i]);
	return xbuf_sv(&k);
}

void cc_read_domain(const char *spool, arena *a, sv domain, long long now, cc_domain *d)
{
	memset(d, 0, sizeof *d);
	d->result = d->postmaster = d->random = CC_UNKNOWN;
	hintsdb *db = open_db(spool, a, true);
	if (!db)
		return;
	xbuf v;
	xbuf_init(&v, a);
	if (hintsdb_get(db, key_of(a, 'D', domain), &v) == 1 && cc_domain_decode(xbuf_sv(&v), d))
		cc_domain_expire(d, now);
	else
		d->result = d->postmaster = d->random = CC_UNKNOWN;
	hintsdb_close(db);
}

cc_result cc_read_address(const char *spool, arena *a, sv key, long long now)
{
	hintsdb *db = open_db(spool, a, true);
	if (!db)
		return CC_UNKNOWN;
	xbuf v;
	xbuf_init(&v, a);
	long long stamp;
	cc_result r = CC_UNKNOWN;
	if (hintsdb_get(db, key_of(a, 'A', key), &v) == 1 && cc_address_decode(xbuf_sv(&v), &stamp, &r))
		r = cc_address_expire(stamp, r, now);
	hintsdb_close(db);
	return r;
}

typedef struct merge_ctx {
	const cc_domain *d;
} merge_ctx;

static bool merge(void *ctx, sv old, bool found, xbuf *out, bool *remove)
{
	const cc_domain *nd = ((merge_ctx *)ctx)->d;
	cc_domain d = { .result = CC_UNKNOWN, .postmaster = CC_UNKNOWN, .random = CC_UNKNOWN };
	if (found && !cc_domain_decode(old, &d))
		d = (cc_domain){ .result = CC_UNKNOWN, .postmaster = CC_UNKNOWN, .random = CC_UNKNOWN };
	if (nd->result != CC_UNKNOWN) {
		d.result = nd->result;
		d.stamp = nd->stamp;
	}
	if (nd->postmaster != CC_UNKNOWN) {
		d.postmaster = nd->postmaster;
		d.pm_stamp = nd->pm_stamp;
	}
	if (nd->random != CC_UNKNOWN) {
		d.random = nd->random;
		d.random_stamp = nd->random_stamp;
	}
	*remove = false;
	cc_domain_encode(&d, out);
	return true;
}

void cc_write_domain(const char *spool, arena *a, sv domain, const cc_domain *d)
{
	if (d->result == CC_UNKNOWN && d->postmaster == CC_UNKNOWN && d->random == CC_UNKNOWN)
		return;
	hintsdb *db = open_db(spool, a, false);
	if (!db)
		return;
	merge_ctx m = { d };
	hintsdb_update(db, key_of(a, 'D', domain), merge, &m);
	hintsdb_close(db);
}

void cc_write_address(const char *spool, arena *a, sv key, cc_result r, long long now)
{
	if (r == CC_UNKNOWN)
		return;
	hintsdb *db = open_db(spool, a, false);
	if (!db)
		return;
	xbuf v;
	xbuf_init(&v, a);
	xbuf_printf(&v, "1 %lld %c", now, (char)r);
	hintsdb_put(db, key_of(a, 'A', key), xbuf_sv(&v));
	hintsdb_close(db);
}
