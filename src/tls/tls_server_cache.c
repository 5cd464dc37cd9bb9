/* The daemon's server SSL_CTX, built once before the forks and inherited by every connection
 * process (docs/tls.md, "Server context caching").
 *
 * Making an SSL_CTX costs OpenSSL 3 a fetch of every cipher and digest, and loading the
 * certificate, key and CA bundle parses files: together a quarter of a TLS session's CPU when done
 * per connection. Exim 4.96 loads tls_certificate, tls_privatekey, tls_crl and
 * tls_verify_certificates once in the daemon when their values have no expandable element, and
 * so does this file, with the same rule: an option without a '$' cannot differ between
 * connections (macros were replaced when the configuration was read). What does depend on the
 * connection is added by each connection process to its own copy (tls_server.c): the client
 * certificate mode (tls_verify_hosts is a host list), tickets (tls_resumption_hosts), and any
 * option that does have an expansion ($tls_in_sni, $sender_host_address, $received_port...).
 *
 * The cache follows file changes as Exim's does: before each fork the files it loaded are
 * stat()ed (device, inode, size, modification time), and a change rebuilds it, so a certificate
 * renewed by replacing its file is in use from the next connection on. "system" for
 * tls_verify_certificates is not followed (as Exim: a HUP restarts the daemon). The OCSP staple
 * is not cached: the status callback reads tls_ocsp_file per connection, so the refresher's
 * atomic replacement is seen at once. The ticket keys are not in the context either: its ticket
 * callback reads the daemon's key ring, which each fork copies.
 *
 * If the cache cannot be built (a file missing or unreadable), nothing is cached and each
 * connection builds its own context, which fails with Exim's 454 and log line as before; the
 * daemon tries again when one of the files changes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/arena.h"
#include "lib/debug.h"
#include "lib/list.h"
#include "tls/tls.h"
#include "tls/tls_int.h"
#include "tls/tls_resume_keys.h"
#include "tls/tls_selfsign.h"

/* What a file looked like when it was loaded; a missing file is all zeros with missing set. */
typedef struct file_sig {
	char *path;
	bool missing;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
} file_sig;

enum { CACHE_FILES_MAX = 32 };

static struct {
	SSL_CTX *ctx;          /* NULL: none (not built yet, or the last build failed) */
	unsigned parts;        /* TLS_PART_* in ctx */
	bool tried;            /* a build was attempted: sigs describe its files */
	file_sig sigs[CACHE_FILES_MAX];
	size_t nsigs;
} cache;

static bool is_static(const char *opt)
{
	return !opt || !strchr(opt, '$');
}

static void sig_take(file_sig *s, const char *path)
{
	struct stat st;
	memset(s, 0, sizeof *s);
	s->path = strdup(path);
	if (stat(path, &st) != 0) {
		s->missing = true;
		return;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
}

static bool sig_changed(const file_sig *s)
{
	struct stat st;
	if (stat(s->path, &st) != 0) return !s->missing;
	return s->missing || st.st_dev != s->dev || st.st_ino != s->ino || st.st_size != s->size
		|| st.st_mtim.tv_sec != s->mtime.tv_sec || st.st_mtim.tv_nsec != s->mtime.tv_nsec;
}

static void sigs_clear(void)
{
	for (size_t i = 0; i < cache.nsigs; i++) free(cache.sigs[i].path);
	cache.nsigs = 0;
}

/* Remember every file of a list value (paths only: "system" and empty items are no files).
 * false when there are more files than the cache can follow: then nothing is cached. */
static bool sigs_add_list(const char *value)
{
	list_iter it;
	list_iter_init(&it, sv_cstr(value), 0);
	xbuf item;
	xbuf_init(&item, pool_conn);
	while (list_next(&it, &item)) {
		const char *p = xbuf_cstr(&item);
		if (!*p || strcmp(p, "system") == 0) continue;
		if (cache.nsigs == CACHE_FILES_MAX) return false;
		sig_take(&cache.sigs[cache.nsigs++], p);
	}
	return true;
}

/* Take the signatures of the files first, then load them: a file replaced between the two is
 * then seen as changed at the next check, never missed. */
static bool build(xbuf *err)
{
	/* The values are expanded all the same (backslash escapes), with an empty origin: a value
	 * without '$' reads nothing from it. */
	msg_origin o;
	memset(&o, 0, sizeof o);
	unsigned parts = 0;
	const char *certs = NULL, *keys = NULL, *ca = NULL, *crl = NULL;
	if (is_static(conf_main.tls_certificate) && is_static(conf_main.tls_privatekey)) {
		/* Unset: Exim's daemon makes its self-signed certificate now, with a warning when
		 * STARTTLS is offered (not for tls_on_connect_ports alone, as Exim). */
		if (!conf_main.tls_certificate && !tls_selfsigned_make(tls_selfsigned_daemon_warns(), err))
			return false;
		if (!(certs = tls_expand_option(conf_main.tls_certificate, "tls_certificate", &o, err))) return false;
		if (!(keys = tls_expand_option(conf_main.tls_privatekey, "tls_privatekey", &o, err))) return false;
		if (!sigs_add_list(certs) || !sigs_add_list(keys)) return false;
		parts |= TLS_PART_CERTS;
	}
	/* The CA bundle is needed only when some client is asked for a certificate. */
	if ((conf_main.tls_verify_hosts || conf_main.tls_try_verify_hosts)
		&& is_static(conf_main.tls_verify_certificates) && is_static(conf_main.tls_crl)) {
		if (!(ca = tls_expand_option(conf_main.tls_verify_certificates, "tls_verify_certificates", &o, err))) return false;
		if (!(crl = tls_expand_option(conf_main.tls_crl, "tls_crl", &o, err))) return false;
		if (cache.nsigs + 2 > CACHE_FILES_MAX) return false;
		if (*ca && strcmp(ca, "system") != 0) sig_take(&cache.sigs[cache.nsigs++], ca);
		if (*crl) sig_take(&cache.sigs[cache.nsigs++], crl);
		parts |= TLS_PART_VERIFY;
	}
	if (is_static(conf_main.tls_require_ciphers) && is_static(conf_main.tls_eccurve)
		&& is_static(conf_main.tls_dhparam)) {
		if (conf_main.tls_dhparam && conf_main.tls_dhparam[0] == '/') {
			if (cache.nsigs == CACHE_FILES_MAX) return false;
			sig_take(&cache.sigs[cache.nsigs++], conf_main.tls_dhparam);
		}
		parts |= TLS_PART_CIPHERS;
	}
	SSL_CTX *ctx = tls_server_ctx_new(err);
	if (!ctx) return false;
	bool ok = (!(parts & TLS_PART_CERTS) || tls_load_server_certificates(NULL, ctx, &o, err))
		&& (!(parts & TLS_PART_VERIFY) || tls_load_verify_locations(ctx, &o, err))
		&& (!(parts & TLS_PART_CIPHERS) || tls_apply_server_options(ctx, &o, err));
	if (!ok) {
		SSL_CTX_free(ctx);
		return false;
	}
	cache.ctx = ctx;
	cache.parts = parts;
	return true;
}

static bool files_changed(void)
{
	for (size_t i = 0; i < cache.nsigs; i++)
		if (sig_changed(&cache.sigs[i])) return true;
	return false;
}

static unsigned cache_generation; /* bumped at every (re)build: tls_daemon_generation */

/* Whether this daemon's sessions can use TLS at all: only then is the context prepared (and
 * a self-signed certificate made). An empty tls_advertise_hosts and no tls_on_connect_ports:
 * nothing, as Exim, whose daemon then makes no key either. With tls_on_connect_ports alone
 * Exim's sessions each make their own (silently); here the daemon makes one for them all. */
static bool tls_offered(void)
{
	return (conf_main.tls_advertise_hosts && *conf_main.tls_advertise_hosts)
		|| (conf_main.tls_on_connect_ports && *conf_main.tls_on_connect_ports);
}

static void cache_refresh(time_t now)
{
	if (!tls_offered()) return;
	/* The self-signed certificate is valid for two hours. Exim's daemon goes on presenting it
	 * after that; a new one is made instead, so that clients checking dates see a valid one. */
	bool stale = tls_selfsigned_expired(now);
	if (stale) tls_selfsigned_forget();
	if (cache.tried && !stale && !files_changed()) return;
	SSL_CTX_free(cache.ctx);
	cache.ctx = NULL;
	cache.parts = 0;
	sigs_clear();
	cache.tried = true;
	cache_generation++;
	arena_mark m = arena_getmark(pool_conn);
	xbuf err;
	xbuf_init(&err, pool_conn);
	if (build(&err)) {
		DEBUG(D_TLS) debug_printf("TLS server context cached in the daemon (parts %#x, %zu files followed)\n",
			cache.parts, cache.nsigs);
	} else {
		/* Each connection builds its own and reports the problem as Exim does. */
		DEBUG(D_TLS) debug_printf("TLS server context not cached: %s\n", err.len ? xbuf_cstr(&err) : "too many files");
	}
	arena_reset(pool_conn, m);
}

unsigned tls_daemon_generation(void)
{
	return cache_generation + tls_ticket_keys_generation();
}

void tls_daemon_before_fork(time_t now)
{
	tls_ticket_keys_refresh(now);
	cache_refresh(now);
}

SSL_CTX *tls_server_cache_get(unsigned *parts)
{
	if (!cache.ctx) return NULL;
	SSL_CTX_up_ref(cache.ctx);
	*parts = cache.parts;
	return cache.ctx;
}
