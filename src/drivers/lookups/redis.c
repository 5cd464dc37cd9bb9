/* redis: "${lookup redis{COMMAND args...}}" against redis_servers or ",servers=" (facts §15),
 * with Exim's reply-mapping bugs fixed: integers are returned as decimal numbers and a nil reply
 * is "not found". Servers are "host[:port]/[db]/[password]" or "(/socket/path)/[db]/[password]";
 * the next server is tried only after a connection failure or a cluster MOVED redirection.
 * Connects and commands are bounded by a timeout (",timeout=N" seconds, default 5), so a stalled
 * server cannot hang delivery. Connections are cached per server (without the password) until
 * search_tidyup. */
#include <ctype.h>
#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "conf/conf.h"
#include "drivers/lookups/sql_servers.h"
#include "lib/debug.h"
#include "build_config.h"
#include "lib/dynlib.h"
#include "lib/list.h"
#include "search/search.h"

/* libhiredis, loaded at the first lookup or by the daemon (lib/dynlib.h). */
#define REDIS_FUNCTIONS(X) \
	X(freeReplyObject) X(redisCommand) X(redisCommandArgv) X(redisConnectUnixWithTimeout) \
	X(redisConnectWithTimeout) X(redisFree) X(redisSetTimeout)
DYNLIB_TABLE(redis_api, REDIS_FUNCTIONS)
static redis_api rd;
DYNLIB_LOADER(redis_load, "REDIS", REDIS_SONAME, redis_api, rd, REDIS_FUNCTIONS)
#define freeReplyObject rd.freeReplyObject
#define redisCommand rd.redisCommand
#define redisCommandArgv rd.redisCommandArgv
#define redisConnectUnixWithTimeout rd.redisConnectUnixWithTimeout
#define redisConnectWithTimeout rd.redisConnectWithTimeout
#define redisFree rd.redisFree
#define redisSetTimeout rd.redisSetTimeout

#define REDIS_MAX_ARGS 1024

typedef struct redis_conn {
	struct redis_conn *next;
	char *key; /* server without the password */
	redisContext *ctx;
} redis_conn;

static redis_conn *conns;

typedef struct redis_server {
	char host[256];
	int port;
	char socket[256]; /* non-empty: a Unix socket */
	char db[32], pw[256];
	char key[600];
} redis_server;

static bool parse_server(sv s, redis_server *out, xbuf *err)
{
	memset(out, 0, sizeof *out);
	out->port = 6379;
	sv where = s;
	const char *slash;
	if (s.len && s.p[0] == '(') {
		const char *close = memchr(s.p, ')', s.len);
		if (!close || (size_t)(close - s.p - 1) >= sizeof out->socket)
			goto bad;
		memcpy(out->socket, s.p + 1, (size_t)(close - s.p - 1));
		s = sv_sub(s, (size_t)(close - s.p) + 1, s.len);
		slash = s.len && s.p[0] == '/' ? s.p : NULL;
	} else {
		slash = memchr(s.p, '/', s.len);
		sv hp = slash ? sv_sub(s, 0, (size_t)(slash - s.p)) : s;
		const char *colon = memchr(hp.p, ':', hp.len);
		if (colon && memchr(colon + 1, ':', hp.len - (size_t)(colon - hp.p) - 1))
			colon = NULL; /* an IPv6 address without a port */
		sv h = colon ? sv_sub(hp, 0, (size_t)(colon - hp.p)) : hp;
		if (h.len == 0 || h.len >= sizeof out->host)
			goto bad;
		memcpy(out->host, h.p, h.len);
		if (colon) {
			long long port;
			if (!sv_to_long(sv_sub(hp, (size_t)(colon - hp.p) + 1, hp.len), &port) || port < 1 || port > 65535)
				goto bad;
			out->port = (int)port;
		}
		s = slash ? sv_sub(s, (size_t)(slash - s.p), s.len) : sv_sub(s, s.len, 0);
	}
	if (s.len && s.p[0] == '/') {
		s = sv_sub(s, 1, s.len);
		const char *s2 = memchr(s.p, '/', s.len);
		sv db = s2 ? sv_sub(s, 0, (size_t)(s2 - s.p)) : s;
		if (db.len >= sizeof out->db)
			goto bad;
		memcpy(out->db, db.p, db.len);
		if (s2) {
			sv pw = sv_sub(s, (size_t)(s2 - s.p) + 1, s.len);
			if (pw.len >= sizeof out->pw)
				goto bad;
			memcpy(out->pw, pw.p, pw.len);
		}
	}
	snprintf(out->key, sizeof out->key, "%s:%d/%s", out->socket[0] ? out->socket : out->host,
		out->socket[0] ? 0 : out->port, out->db);
	return true;
bad:
	xbuf_printf(err, "REDIS: bad server specification \"" SV_FMT "\"", SV_ARG(where));
	return false;
}

static void drop_conn(redis_conn *c)
{
	for (redis_conn **pp = &conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	redisFree(c->ctx);
	free(c->key);
	free(c);
}

static redis_conn *get_conn(const redis_server *srv, struct timeval tv, bool *cached, xbuf *err)
{
	*cached = false;
	for (redis_conn *c = conns; c; c = c->next)
		if (strcmp(c->key, srv->key) == 0) {
			*cached = true;
			return c;
		}
	redisContext *ctx = srv->socket[0] ? redisConnectUnixWithTimeout(srv->socket, tv)
		: redisConnectWithTimeout(srv->host, srv->port, tv);
	if (!ctx || ctx->err) {
		xbuf_printf(err, "REDIS connection to %s failed: %s", srv->key, ctx ? ctx->errstr : "out of memory");
		if (ctx)
			redisFree(ctx);
		return NULL;
	}
	redisSetTimeout(ctx, tv);
	redis_conn *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->key = strdup(srv->key);
	c->ctx = ctx;
	c->next = conns;
	conns = c;
	return c;
}

/* Split the command on white space; a backslash makes the next character literal. */
static int split_command(sv q, char **argv, size_t *argvlen, char *buf)
{
	int argc = 0;
	size_t i = 0, o = 0;
	while (i < q.len && argc < REDIS_MAX_ARGS) {
		while (i < q.len && isspace((unsigned char)q.p[i]))
			i++;
		if (i >= q.len)
			break;
		argv[argc] = buf + o;
		size_t start = o;
		while (i < q.len && !isspace((unsigned char)q.p[i])) {
			if (q.p[i] == '\\' && i + 1 < q.len)
				i++;
			buf[o++] = q.p[i++];
		}
		argvlen[argc++] = o - start;
		buf[o++] = 0;
	}
	return argc;
}

static void put_element(const redisReply *e, xbuf *out)
{
	switch (e->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		xbuf_put(out, e->str, e->len);
		break;
	case REDIS_REPLY_INTEGER:
		xbuf_printf(out, "%lld", e->integer);
		break;
	default:
		break; /* nil, errors and deeper nesting contribute nothing */
	}
}

/* Run one command on one server: SEARCH_OK/FAIL/DEFER; *try_next for failures where the next
 * server may do better (connection problems, MOVED). */
static int run_on(const redis_server *srv, int argc, char **argv, size_t *argvlen, struct timeval tv,
	xbuf *result, xbuf *err, unsigned *do_cache, bool *try_next, bool *stale)
{
	*try_next = false;
	*stale = false;
	bool cached;
	redis_conn *c = get_conn(srv, tv, &cached, err);
	if (!c) {
		*try_next = true;
		return SEARCH_DEFER;
	}
	redisReply *r;
	if (srv->pw[0]) {
		r = redisCommand(c->ctx, "AUTH %s", srv->pw);
		if (!r)
			goto ioerr;
		bool bad = r->type == REDIS_REPLY_ERROR;
		if (bad)
			xbuf_printf(err, "REDIS: authentication failed: %s", r->str);
		freeReplyObject(r);
		if (bad)
			return SEARCH_DEFER;
	}
	if (srv->db[0]) {
		r = redisCommand(c->ctx, "SELECT %s", srv->db);
		if (!r)
			goto ioerr;
		bool bad = r->type == REDIS_REPLY_ERROR;
		if (bad)
			xbuf_printf(err, "REDIS: SELECT %s failed: %s", srv->db, r->str);
		freeReplyObject(r);
		if (bad)
			return SEARCH_DEFER;
	}
	r = redisCommandArgv(c->ctx, argc, (const char **)argv, argvlen);
	if (!r)
		goto ioerr;
	int rc = SEARCH_OK;
	switch (r->type) {
	case REDIS_REPLY_ERROR:
		if (strncmp(r->str, "MOVED ", 6) == 0 || strncmp(r->str, "ASK ", 4) == 0)
			*try_next = true;
		xbuf_printf(err, "REDIS: lookup result failed: %s", r->str);
		rc = SEARCH_DEFER;
		break;
	case REDIS_REPLY_NIL:
		*do_cache = 0;
		rc = SEARCH_FAIL;
		break;
	case REDIS_REPLY_ARRAY:
		for (size_t i = 0; i < r->elements; i++) {
			if (i)
				xbuf_putc(result, '\n');
			const redisReply *e = r->element[i];
			if (e->type == REDIS_REPLY_ARRAY)
				for (size_t k = 0; k < e->elements; k++) {
					if (k)
						xbuf_putc(result, '\n');
					put_element(e->element[k], result);
				}
			else
				put_element(e, result);
		}
		break;
	default:
		put_element(r, result);
		break;
	}
	freeReplyObject(r);
	if (rc == SEARCH_OK && result->len == 0) {
		xbuf_puts(err, "REDIS: no data found");
		rc = SEARCH_FAIL;
	}
	return rc;
ioerr:
	xbuf_printf(err, "REDIS: query failed on %s: %s", srv->key, c->ctx->errstr[0] ? c->ctx->errstr : "no reply");
	/* A timed-out connection may deliver a stale reply later: never reuse it. A cached one that
	 * failed may just have been closed by the server meanwhile: worth one fresh attempt. */
	*stale = cached && (c->ctx->err == REDIS_ERR_EOF || (c->ctx->err == REDIS_ERR_IO &&
		!strstr(c->ctx->errstr, "temporarily unavailable") && !strstr(c->ctx->errstr, "timed out")));
	drop_conn(c);
	*try_next = true;
	return SEARCH_DEFER;
}

static void *redis_open(const char *filename, xbuf *errmsg)
{
	static int dummy;
	return redis_load(errmsg) ? &dummy : NULL;
}

static void redis_preload(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	if (!redis_load(&err)) /* reported again by the first lookup, with its context */
		DEBUG(D_LOOKUP) debug_printf("%s\n", xbuf_cstr(&err));
	xbuf_free(&err);
}

static int redis_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	const char *main_list = conf_main_string("redis_servers");
	sv prefix_servers;
	key = lookup_query_servers_prefix(key, &prefix_servers);
	sv servers = lookup_opt_value(opts, "servers");
	if (sv_is_null(servers))
		servers = prefix_servers;
	if (sv_is_null(servers))
		servers = sv_cstr(main_list);
	if (servers.len == 0) {
		xbuf_puts(errmsg, "no REDIS servers defined (redis_servers option)");
		return SEARCH_DEFER;
	}
	struct timeval tv = { 5, 0 };
	sv t = lookup_opt_value(opts, "timeout");
	long long secs;
	if (!sv_is_null(t) && sv_to_long(t, &secs) && secs > 0 && secs < 3600)
		tv.tv_sec = (time_t)secs;

	char **argv = malloc(REDIS_MAX_ARGS * sizeof *argv);
	size_t *argvlen = malloc(REDIS_MAX_ARGS * sizeof *argvlen);
	char *buf = malloc(2 * key.len + 1);
	if (!argv || !argvlen || !buf)
		abort();
	int argc = split_command(key, argv, argvlen, buf);
	int rc = SEARCH_DEFER;
	if (argc == 0) {
		xbuf_puts(errmsg, "REDIS: empty command");
		goto out;
	}
	if (argc == REDIS_MAX_ARGS) {
		/* split_command stops at the limit; never send a truncated command. */
		sv rest = key;
		int n = 0;
		for (size_t i = 0; i < rest.len;) {
			while (i < rest.len && isspace((unsigned char)rest.p[i]))
				i++;
			if (i < rest.len)
				n++;
			while (i < rest.len && !isspace((unsigned char)rest.p[i]))
				i += rest.p[i] == '\\' && i + 1 < rest.len ? 2 : 1;
		}
		if (n > REDIS_MAX_ARGS) {
			xbuf_printf(errmsg, "REDIS: more than %d arguments in command", REDIS_MAX_ARGS);
			goto out;
		}
	}
	list_iter it;
	xbuf item, full;
	xbuf_init(&item, NULL);
	xbuf_init(&full, NULL);
	list_iter_init(&it, servers, 0);
	while (list_next(&it, &item)) {
		redis_server srv;
		xbuf_reset(errmsg);
		if (!lookup_server_resolve(xbuf_sv(&item), main_list, &full, errmsg) ||
		    !parse_server(xbuf_sv(&full), &srv, errmsg)) {
			rc = SEARCH_DEFER;
			break;
		}
		bool try_next;
		DEBUG(D_LOOKUP) debug_printf(" REDIS query: \"" SV_FMT "\" on %s\n", SV_ARG(key), srv.key);
		size_t start = result->len;
		bool stale;
		rc = run_on(&srv, argc, argv, argvlen, tv, result, errmsg, do_cache, &try_next, &stale);
		if (rc == SEARCH_DEFER && stale) {
			xbuf_truncate(result, start);
			xbuf_reset(errmsg);
			rc = run_on(&srv, argc, argv, argvlen, tv, result, errmsg, do_cache, &try_next, &stale);
		}
		if (rc != SEARCH_DEFER || !try_next)
			break;
		xbuf_truncate(result, start);
		DEBUG(D_LOOKUP) debug_printf(" REDIS: %s; trying the next server\n", xbuf_cstr(errmsg));
	}
	xbuf_free(&item);
	xbuf_free(&full);
out:
	free(argv);
	free(argvlen);
	free(buf);
	return rc;
}

static void redis_tidy(void)
{
	while (conns)
		drop_conn(conns);
}

/* Backslash-escape white space and backslashes, matching the command splitter. */
static bool redis_quote(sv in, sv opt, xbuf *out, xbuf *errmsg)
{
	if (opt.p) { /* "${quote_X_:" has an empty option, which is unknown too */
		xbuf_printf(errmsg, "\"" SV_FMT "\" unrecognized after \"${quote_redis\"", SV_ARG(opt));
		return false;
	}
	for (size_t i = 0; i < in.len; i++) {
		if (in.p[i] == '\\' || isspace((unsigned char)in.p[i]))
			xbuf_putc(out, '\\');
		xbuf_putc(out, in.p[i]);
	}
	return true;
}

static void redis_version(xbuf *out)
{
	xbuf_printf(out, "Library version: REDIS: Compile: %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
}

const lookup_info lookup_redis = {
	.name = "redis", .type = LOOKUP_QUERYSTYLE,
	.open = redis_open, .find = redis_find, .tidy = redis_tidy, .quote = redis_quote,
	.version_report = redis_version, .preload = redis_preload,
};
