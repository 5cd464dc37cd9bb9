/* The daemon's OCSP staple refresher: see tls_ocsp_refresh.h.
 *
 * The daemon (parent) only plans: it reads the certificates and the current response files,
 * which are local and small, to learn when the next response is due. Fetching, verifying and
 * writing happen in one child per round, bounded by an alarm, so a slow or hostile responder can
 * cost a child but never the daemon's attention to new connections. The child logs what it did;
 * the parent learns only success or failure from the exit status and schedules the next round:
 * after a success when the new responses reach their half-life, after a failure with a delay
 * that doubles from one minute up to an hour.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/priv.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "tls/tls_ocsp.h"
#include "tls/tls_ocsp_file.h"
#include "tls/tls_ocsp_http.h"
#include "tls/tls_ocsp_int.h"
#include "tls/tls_ocsp_refresh.h"

#define MAX_TARGETS 64
#define MAX_CHAIN 10
#define FETCH_TIMEOUT 30         /* seconds per responder exchange */
#define BACKOFF_MIN 60
#define BACKOFF_MAX 3600
#define RECHECK_MAX 3600         /* look again at least hourly (files may be replaced by others) */
#define MIN_INTERVAL 60          /* after a success, whatever the new responses say */

/* One certificate whose staple is kept fresh. */
typedef struct target {
	const char *cert_file, *ocsp_path, *url;
	bool pem;
	X509 *leaf, *issuer;
	STACK_OF(X509) *chain;   /* the certificate file's other certificates */
} target;

static struct {
	time_t next;          /* when to look again */
	pid_t child;          /* the running round, 0 when none */
	int backoff;          /* the delay after the last failure (0: the last round succeeded) */
	int attempt_backoff;  /* the delay to use if the running round fails */
} st;

static bool enabled(void)
{
	return conf_main.tls_ocsp_refresh && conf_main.tls_ocsp_file && *conf_main.tls_ocsp_file
		&& conf_main.tls_certificate && *conf_main.tls_certificate;
}

/* Expand a main option in the daemon's context (no connection: $tls_in_sni is empty). */
static const char *expand(arena *a, const char *opt)
{
	xp_env env;
	xp_env_init(&env, a);
	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	int rc = xp_expand(&env, sv_cstr(opt), &out, &err);
	xp_env_release(&env);
	return rc == XP_OK ? xbuf_cstr(&out) : NULL;
}

/* The store to find an issuer missing from the certificate file: tls_verify_certificates. */
static X509_STORE *fallback_store(arena *a)
{
	X509_STORE *s = X509_STORE_new();
	if (!s) return NULL;
	const char *ca = conf_main.tls_verify_certificates ? expand(a, conf_main.tls_verify_certificates) : "system";
	if (!ca || !*ca || strcmp(ca, "system") == 0) X509_STORE_set_default_paths(s);
	else if (ca[strlen(ca) - 1] == '/') X509_STORE_load_path(s, ca);
	else X509_STORE_load_file(s, ca);
	ERR_clear_error();
	return s;
}

/* The first http:// OCSP responder URL of the certificate's AIA, or NULL. */
static const char *responder_url(arena *a, X509 *leaf)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(leaf);
	const char *found = NULL;
	for (int i = 0; urls && i < sk_OPENSSL_STRING_num(urls) && !found; i++) {
		const char *u = sk_OPENSSL_STRING_value(urls, i);
		if (strncasecmp(u, "http://", 7) == 0) found = arena_strdup(a, u);
	}
	X509_email_free(urls);
	return found;
}

static bool load_certificate(target *t, arena *a, X509_STORE **fallback)
{
	BIO *b = BIO_new_file(t->cert_file, "r");
	if (!b) {
		ERR_clear_error();
		return false;
	}
	t->leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
	t->chain = sk_X509_new_null();
	X509 *x;
	while (t->chain && sk_X509_num(t->chain) < MAX_CHAIN && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		sk_X509_push(t->chain, x);
	BIO_free(b);
	ERR_clear_error();
	if (!t->leaf) return false;
	t->url = responder_url(a, t->leaf);
	if (!t->url) return false;   /* no responder named: not ours to refresh */
	t->issuer = tls_ocsp_find_issuer(t->leaf, t->chain, NULL);
	if (!t->issuer) {
		if (!*fallback) *fallback = fallback_store(a);
		t->issuer = tls_ocsp_find_issuer(t->leaf, NULL, *fallback);
	}
	return true;
}

static void free_targets(target *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		X509_free(t[i].leaf);
		X509_free(t[i].issuer);
		sk_X509_pop_free(t[i].chain, X509_free);
	}
}

/* The certificates (paired with tls_ocsp_file items by position) that name a responder. */
static size_t load_targets(arena *a, target *t)
{
	const char *certs = expand(a, conf_main.tls_certificate);
	const char *files = expand(a, conf_main.tls_ocsp_file);
	if (!certs || !files) {
		log_write(LOG_MAIN, "OCSP staple refresh: expansion of tls_certificate or tls_ocsp_file failed");
		return 0;
	}
	list_iter ci, fi;
	list_iter_init(&ci, sv_cstr(certs), 0);
	list_iter_init(&fi, sv_cstr(files), 0);
	xbuf c, f;
	xbuf_init(&c, a);
	xbuf_init(&f, a);
	bool pem = false;
	size_t n = 0;
	X509_STORE *fallback = NULL;
	while (n < MAX_TARGETS && list_next(&ci, &c) && list_next(&fi, &f)) {
		target *x = &t[n];
		memset(x, 0, sizeof *x);
		x->ocsp_path = arena_strdup(a, tls_ocsp_file_item(xbuf_cstr(&f), &pem));
		x->pem = pem;
		x->cert_file = arena_strdup(a, xbuf_cstr(&c));
		if (*x->ocsp_path && load_certificate(x, a, &fallback) && x->issuer) n++;
		else free_targets(x, 1);
	}
	X509_STORE_free(fallback);
	return n;
}

/* When t needs a new response: half-way through the validity of the best current response in
 * its file, or now when there is none. *newest gets the latest thisUpdate among the current
 * responses (0 when none). */
static time_t due_time(const target *t, time_t now, time_t *newest)
{
	*newest = 0;
	tls_ocsp_responses rs;
	xbuf why;
	xbuf_init(&why, NULL);
	time_t due = now;
	if (tls_ocsp_file_load(t->ocsp_path, t->pem, &rs, &why)) {
		for (size_t i = 0; i < rs.n; i++) {
			OCSP_BASICRESP *bs = OCSP_response_get1_basic(rs.v[i]);
			OCSP_SINGLERESP *single = bs ? tls_ocsp_find_single(bs, t->leaf, t->issuer) : NULL;
			time_t tu, nu;
			if (single && tls_ocsp_single_current(single, now, &tu, &nu)) {
				time_t half = tu + (nu - tu) / 2;
				if (half > due) due = half;
				if (tu > *newest) *newest = tu;
			}
			OCSP_BASICRESP_free(bs);
		}
		tls_ocsp_responses_free(&rs);
	}
	xbuf_free(&why);
	ERR_clear_error();
	return due;
}

/* ---- The child's work ----------------------------------------------------------------- */

/* The HTTP exchange with the responder (a name lookup, a connection, a parser of what comes
 * back) runs in a process of its own as the Exim user: only the verified result is written
 * with the daemon's privileges. Its answer comes back over a pipe: 'O' and the response body,
 * or 'E' and the reason. */
#define FETCH_REPLY_MAX (512 * 1024)

static void fetch_child(int fd, const char *url, const unsigned char *req, size_t len)
{
	xbuf out, why;
	xbuf_init(&out, NULL);
	xbuf_init(&why, NULL);
	bool ok = false;
	if (priv_is_root() && !priv_drop_to_exim(&out))
		xbuf_printf(&why, "cannot become the Exim user: %s", xbuf_cstr(&out));
	else
		ok = ocsp_http_post(url, req, len, FETCH_TIMEOUT, &out, &why);
	char tag = ok ? 'O' : 'E';
	const xbuf *payload = ok ? &out : &why;
	bool written = write(fd, &tag, 1) == 1;
	for (size_t off = 0; written && off < payload->len;) {
		ssize_t w = write(fd, payload->p + off, payload->len - off);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) written = false;
		else off += (size_t)w;
	}
	_exit(written ? 0 : 1);
}

static bool fetch_unprivileged(const char *url, const unsigned char *req, size_t len, xbuf *body, xbuf *why)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		xbuf_printf(why, "pipe: %s", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		xbuf_printf(why, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		close(p[0]);
		fetch_child(p[1], url, req, len);
	}
	close(p[1]);
	xbuf got;
	xbuf_init(&got, NULL);
	bool too_long = false;
	for (;;) {   /* bounded in time by the round's alarm, in size here */
		char buf[8192];
		ssize_t r = read(p[0], buf, sizeof buf);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		if (got.len + (size_t)r > FETCH_REPLY_MAX) {
			too_long = true;
			break;
		}
		xbuf_put(&got, buf, (size_t)r);
	}
	close(p[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
	bool ok = false;
	if (too_long) {
		xbuf_puts(why, "the responder's answer is too long");
	} else if (got.len == 0) {
		xbuf_puts(why, "the fetching process ended without an answer");
	} else if (got.p[0] == 'O') {
		xbuf_put(body, got.p + 1, got.len - 1);
		ok = true;
	} else {
		xbuf_put(why, got.p + 1, got.len - 1);
	}
	xbuf_free(&got);
	return ok;
}

static bool fetch_verified(const target *t, OCSP_RESPONSE **out, bool *revoked, time_t *this_upd,
	time_t *next, xbuf *why)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, t->leaf, t->issuer);
	unsigned char *der = NULL;
	int len = -1;
	if (req && id && OCSP_request_add0_id(req, id)) {
		id = NULL;   /* the request owns it */
		len = i2d_OCSP_REQUEST(req, &der);
	}
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	if (len <= 0) {
		xbuf_puts(why, "cannot make the OCSP request");
		ERR_clear_error();
		return false;
	}
	xbuf body;
	xbuf_init(&body, NULL);
	bool ok = fetch_unprivileged(t->url, der, (size_t)len, &body, why);
	OPENSSL_free(der);
	if (ok) {
		/* Trust exactly the issuer: the responder is the issuer or holds its delegation. */
		X509_STORE *store = X509_STORE_new();
		STACK_OF(X509) *certs = sk_X509_dup(t->chain);
		ok = store && certs && X509_STORE_add_cert(store, t->issuer) == 1 && sk_X509_push(certs, t->issuer) > 0;
		if (ok) {
			X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
			tls_ocsp_verdict v;
			tls_ocsp_check_staple((const unsigned char *)body.p, body.len, t->leaf, certs, store, time(NULL), &v);
			static const char client_prefix[] = "Received TLS cert status response, ";
			const char *m = v.message;
			if (strncmp(m, client_prefix, sizeof client_prefix - 1) == 0) m += sizeof client_prefix - 1;
			ok = v.status == TLS_OCSP_VERIFIED || v.revoked;
			if (!ok) xbuf_printf(why, "unusable response: %s", m);
			*revoked = v.revoked;
		} else {
			xbuf_puts(why, "out of memory");
		}
		sk_X509_free(certs);
		X509_STORE_free(store);
	}
	if (ok) {
		const unsigned char *p = (const unsigned char *)body.p;
		*out = d2i_OCSP_RESPONSE(NULL, &p, (long)body.len);
		OCSP_BASICRESP *bs = *out ? OCSP_response_get1_basic(*out) : NULL;
		OCSP_SINGLERESP *single = bs ? tls_ocsp_find_single(bs, t->leaf, t->issuer) : NULL;
		ok = single && tls_ocsp_single_current(single, time(NULL), this_upd, next);
		OCSP_BASICRESP_free(bs);
		if (!ok) xbuf_puts(why, "response does not decode again");
	}
	xbuf_free(&body);
	ERR_clear_error();
	return ok;
}

static bool refresh_one(const target *t, int retry_in)
{
	xbuf why;
	xbuf_init(&why, NULL);
	OCSP_RESPONSE *rsp = NULL;
	bool revoked = false;
	time_t this_upd = 0, next = 0, have = 0;
	due_time(t, time(NULL), &have);
	bool ok = fetch_verified(t, &rsp, &revoked, &this_upd, &next, &why);
	if (ok && this_upd < have) {
		/* A cache in front of the responder may serve an older answer: keep the newer one. */
		xbuf_puts(&why, "the responder's answer is older than the response in the file");
		ok = false;
	}
	ok = ok && tls_ocsp_file_store(t->ocsp_path, t->pem, rsp, &why);
	if (ok) {
		char when[64];
		struct tm tm;
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&next, &tm));
		log_write(LOG_MAIN, "OCSP staple for %s refreshed from %s: certificate %s, response valid until %s",
			t->cert_file, t->url, revoked ? "REVOKED" : "good", when);
	} else {
		xbuf iv;
		xbuf_init(&iv, NULL);
		interval_format(retry_in, &iv);
		log_write(LOG_MAIN, "OCSP staple refresh for %s from %s failed: %s; the file is unchanged, next attempt in %s",
			t->cert_file, t->url, xbuf_cstr(&why), xbuf_cstr(&iv));
		xbuf_free(&iv);
	}
	OCSP_RESPONSE_free(rsp);
	xbuf_free(&why);
	return ok;
}

/* ---- The daemon's side ---------------------------------------------------------------- */

int tls_ocsp_refresh_timeout_ms(time_t now)
{
	if (!enabled() || st.child > 0) return -1;
	if (st.next <= now) return 0;
	time_t d = st.next - now;
	return d > 86400 ? 86400 * 1000 : (int)d * 1000;
}

void tls_ocsp_refresh_tick(time_t now, void (*child_setup)(void *), void *ctx)
{
	if (!enabled() || st.child > 0 || now < st.next) return;
	arena *a = arena_new("ocsp-refresh");
	target t[MAX_TARGETS];
	size_t n = load_targets(a, t);
	time_t next = now + RECHECK_MAX;
	bool due[MAX_TARGETS], any = false;
	for (size_t i = 0; i < n; i++) {
		time_t newest;
		time_t d = due_time(&t[i], now, &newest);
		due[i] = d <= now;
		any |= due[i];
		if (!due[i] && d < next) next = d;
	}
	st.next = next;
	if (any) {
		st.attempt_backoff = st.backoff ? st.backoff * 2 : BACKOFF_MIN;
		if (st.attempt_backoff > BACKOFF_MAX) st.attempt_backoff = BACKOFF_MAX;
		pid_t pid = fork();
		if (pid == 0) {
			if (child_setup) child_setup(ctx);
			/* The daemon's handlers would only poke the daemon's wake pipe: a signal to the
			 * child ends it. */
			static const int sigs[] = { SIGALRM, SIGTERM, SIGHUP, SIGINT, SIGCHLD };
			for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) signal(sigs[k], SIG_DFL);
			alarm((unsigned)(n * (FETCH_TIMEOUT + 10)));   /* name lookups have no timeout of their own */
			int failed = 0;
			for (size_t i = 0; i < n; i++)
				if (due[i] && !refresh_one(&t[i], st.attempt_backoff)) failed++;
			_exit(failed ? 1 : 0);
		}
		if (pid < 0) {
			log_write(LOG_MAIN, "OCSP staple refresh: fork failed: %s", strerror(errno));
			st.next = now + BACKOFF_MIN;
		} else {
			st.child = pid;
		}
	}
	free_targets(t, n);
	arena_free(a);
}

bool tls_ocsp_refresh_reaped(pid_t pid, int status, time_t now)
{
	if (pid <= 0 || pid != st.child) return false;
	st.child = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		st.backoff = 0;
		st.next = now + MIN_INTERVAL;
		return true;
	}
	st.backoff = st.attempt_backoff;
	st.next = now + st.backoff;
	if (WIFSIGNALED(status))
		log_write(LOG_MAIN, "OCSP staple refresh: the fetching process was killed by signal %d%s",
			WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
	return true;
}
