/* PIPECONNECT's EHLO cache in the "misc" hints database (see smtp_ehlo_cache.h). A hint only:
 * a database that cannot be opened means no early EHLO, never a failed delivery. */
#include "drivers/transports/smtp_ehlo_cache.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hintsdb.h"

static bool parse_hex(sv hex, unsigned *out)
{
	if (hex.len == 0 || hex.len > 8)
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < hex.len; i++) {
		char ch = hex.p[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
		if (d < 0)
			return false;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return true;
}

bool smtp_ehlo_cache_decode(sv value, long long *time_out, unsigned *offered, unsigned *tls_offered,
	sv *auth_mechs)
{
	const char *sp = memchr(value.p, ' ', value.len);
	if (sp == NULL)
		return false;
	long long t;
	if (!sv_to_long(sv_make(value.p, (size_t)(sp - value.p)), &t) || t < 0)
		return false;
	sv hex = sv_make(sp + 1, value.len - (size_t)(sp + 1 - value.p));
	sv mechs = SV_LIT("");
	const char *sp2 = memchr(hex.p, ' ', hex.len);
	if (sp2) {
		mechs = sv_make(sp2 + 1, hex.len - (size_t)(sp2 + 1 - hex.p));
		hex.len = (size_t)(sp2 - hex.p);
	}
	unsigned v, tv = 0;
	const char *slash = memchr(hex.p, '/', hex.len);
	if (slash) {
		if (!parse_hex(sv_make(slash + 1, hex.len - (size_t)(slash + 1 - hex.p)), &tv))
			return false;
		hex.len = (size_t)(slash - hex.p);
	}
	if (!parse_hex(hex, &v))
		return false;
	*time_out = t;
	*offered = v;
	if (tls_offered)
		*tls_offered = tv;
	if (auth_mechs)
		*auth_mechs = mechs;
	return true;
}

static bool cache_get(void *ctx, unsigned *offered, unsigned *tls_offered, xbuf *auth_mechs)
{
	smtp_ehlo_cache *ec = ctx;
	xbuf err, v;
	xbuf_init(&err, ec->a);
	xbuf_init(&v, ec->a);
	hintsdb *db = hintsdb_open(ec->spool_directory, "misc", true, &err);
	if (db == NULL)
		return false;
	long long t;
	sv mechs;
	bool ok = hintsdb_get(db, ec->key, &v) == 1
		&& smtp_ehlo_cache_decode(xbuf_sv(&v), &t, offered, tls_offered, &mechs);
	if (ok)
		xbuf_putsv(auth_mechs, mechs);
	hintsdb_close(db);
	return ok;
}

/* A host that does not offer PIPECONNECT (in clear) has no record (Exim deletes it). The EHLO
 * after STARTTLS is kept beside the clear one: a record that lost STARTTLS would send the next
 * message in clear. */
static void cache_put(void *ctx, unsigned offered, sv auth_mechs, bool tls)
{
	smtp_ehlo_cache *ec = ctx;
	xbuf err, v, old;
	xbuf_init(&err, ec->a);
	xbuf_init(&v, ec->a);
	xbuf_init(&old, ec->a);
	hintsdb *db = hintsdb_open(ec->spool_directory, "misc", false, &err);
	if (db == NULL)
		return;
	unsigned clear = offered, tls_offered = 0;
	if (tls) {
		long long t;
		sv mechs;
		if (hintsdb_get(db, ec->key, &old) != 1
			|| !smtp_ehlo_cache_decode(xbuf_sv(&old), &t, &clear, NULL, &mechs)) {
			hintsdb_close(db);
			return;   /* no clear record: nothing to add to */
		}
		tls_offered = offered;
	}
	if (clear & SMTPC_OFFER_PIPECONNECT) {
		xbuf_printf(&v, "%lld %x", (long long)time(NULL), clear);
		if (tls_offered)
			xbuf_printf(&v, "/%x", tls_offered);
		if (auth_mechs.len)
			xbuf_printf(&v, " " SV_FMT, SV_ARG(auth_mechs));
		hintsdb_put(db, ec->key, xbuf_sv(&v));
	} else
		hintsdb_delete(db, ec->key);
	hintsdb_close(db);
}

void smtp_ehlo_cache_attach(smtp_ehlo_cache *ec, arena *a, const char *spool_directory,
	const smtpc_host *host, smtpc_options *o)
{
	if (!o->pipe_connect)
		return;
	ec->a = a;
	ec->spool_directory = spool_directory;
	xbuf k;
	xbuf_init(&k, a);
	bool v6 = memchr(host->address.p, ':', host->address.len) != NULL;
	xbuf_printf(&k, v6 ? "[" SV_FMT "]:%d.EHLO" : SV_FMT ":%d.EHLO", SV_ARG(host->address), host->port);
	ec->key = xbuf_sv(&k);
	o->ehlo_cache_get = cache_get;
	o->ehlo_cache_put = cache_put;
	o->ehlo_cache_ctx = ec;
}
