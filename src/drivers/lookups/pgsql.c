/* pgsql: "${lookup pgsql{select ...}}" against pgsql_servers or ",servers=" (or the older
 * "servers=...;" query prefix). Servers are "host[:port]/db/user/password" or
 * "(/socket/dir/.s.PGSQL.port)/db/user/password"; they are tried in order until one connects
 * and runs the query. A statement without rows returns the number of rows affected.
 * Connections are cached per server (without the password) until search_tidyup. libpq is loaded
 * at the first lookup (pgsql_lib.h). */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "drivers/lookups/pgsql_lib.h"
#include "drivers/lookups/sql_servers.h"
#include "lib/clock.h"
#include "lib/debug.h"
#include "lib/list.h"
#include "search/search.h"

typedef struct pg_conn {
	struct pg_conn *next;
	char *key;
	PGconn *conn;
} pg_conn;

static pg_conn *conns;

/* Append one libpq conninfo "name='value'" pair, quoting as libpq requires. */
static void conninfo_put(xbuf *ci, const char *name, sv val)
{
	if (val.len == 0)
		return;
	xbuf_printf(ci, "%s='", name);
	for (size_t i = 0; i < val.len; i++) {
		if (val.p[i] == '\'' || val.p[i] == '\\')
			xbuf_putc(ci, '\\');
		xbuf_putc(ci, val.p[i]);
	}
	xbuf_puts(ci, "' ");
}

/* Split a server spec into a libpq conninfo and a cache key (no password). */
static bool server_conninfo(sv s, int connect_secs, xbuf *ci, xbuf *key, xbuf *err)
{
	sv fields[4] = { SV_NULL, SV_NULL, SV_NULL, SV_NULL };
	sv hostpart;
	size_t i = 0;
	if (s.len && s.p[0] == '(') {
		const char *close = memchr(s.p, ')', s.len);
		if (!close)
			goto bad;
		i = (size_t)(close - s.p) + 1;
	}
	{
		const char *slash = memchr(s.p + i, '/', s.len - i);
		if (!slash)
			goto bad;
		hostpart = sv_sub(s, 0, (size_t)(slash - s.p));
		sv rest = sv_sub(s, (size_t)(slash - s.p) + 1, s.len);
		for (int f = 1; f < 4; f++) {
			const char *sl = f < 3 ? memchr(rest.p, '/', rest.len) : NULL;
			fields[f] = sl ? sv_sub(rest, 0, (size_t)(sl - rest.p)) : rest;
			rest = sl ? sv_sub(rest, (size_t)(sl - rest.p) + 1, rest.len) : sv_sub(rest, rest.len, 0);
			if (!sl)
				break;
		}
	}
	if (hostpart.len && hostpart.p[0] == '(') {
		sv path = sv_sub(hostpart, 1, hostpart.len - 2);
		/* libpq wants the socket's directory and the port from its ".s.PGSQL.<port>" name. */
		const char *last = NULL;
		for (size_t k = 0; k < path.len; k++)
			if (path.p[k] == '/')
				last = path.p + k;
		sv base = last ? sv_sub(path, (size_t)(last - path.p) + 1, path.len) : path;
		if (last && sv_starts(base, ".s.PGSQL.")) {
			conninfo_put(ci, "host", sv_sub(path, 0, (size_t)(last - path.p)));
			conninfo_put(ci, "port", sv_sub(base, 9, base.len));
		} else {
			conninfo_put(ci, "host", path);
		}
	} else {
		const char *colon = memchr(hostpart.p, ':', hostpart.len);
		if (colon) {
			conninfo_put(ci, "host", sv_sub(hostpart, 0, (size_t)(colon - hostpart.p)));
			conninfo_put(ci, "port", sv_sub(hostpart, (size_t)(colon - hostpart.p) + 1, hostpart.len));
		} else {
			conninfo_put(ci, "host", hostpart);
		}
	}
	conninfo_put(ci, "dbname", fields[1]);
	conninfo_put(ci, "user", fields[2]);
	conninfo_put(ci, "password", fields[3]);
	xbuf_printf(ci, "connect_timeout=%d", connect_secs);
	xbuf_printf(key, SV_FMT "/" SV_FMT "/" SV_FMT, SV_ARG(hostpart), SV_ARG(fields[1]), SV_ARG(fields[2]));
	return true;
bad:
	xbuf_printf(err, "incomplete pgSQL server data: " SV_FMT, SV_ARG(s));
	return false;
}

static void drop_conn(pg_conn *c)
{
	for (pg_conn **pp = &conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pq.PQfinish(c->conn);
	free(c->key);
	free(c);
}

static bool conn_known(PGconn *conn)
{
	for (pg_conn *c = conns; c; c = c->next)
		if (c->conn == conn)
			return true;
	return false;
}

static void forget_conn(PGconn *conn)
{
	for (pg_conn *c = conns; c; c = c->next)
		if (c->conn == conn) {
			drop_conn(c);
			return;
		}
}

static void trim_nl(xbuf *b)
{
	while (b->len && (b->p[b->len - 1] == '\n' || b->p[b->len - 1] == ' '))
		xbuf_truncate(b, b->len - 1);
}

static PGconn *get_conn(sv server, int connect_secs, bool *cached, xbuf *err)
{
	*cached = false;
	xbuf ci, key;
	xbuf_init(&ci, NULL);
	xbuf_init(&key, NULL);
	PGconn *conn = NULL;
	if (!server_conninfo(server, connect_secs, &ci, &key, err))
		goto out;
	for (pg_conn *c = conns; c; c = c->next)
		if (strcmp(c->key, xbuf_cstr(&key)) == 0) {
			conn = c->conn;
			*cached = true;
			goto out;
		}
	conn = pq.PQconnectdb(xbuf_cstr(&ci));
	if (!conn || pq.PQstatus(conn) != CONNECTION_OK) {
		xbuf_printf(err, "PGSQL connection failed: %s", conn ? pq.PQerrorMessage(conn) : "out of memory");
		trim_nl(err);
		pq.PQfinish(conn);
		conn = NULL;
		goto out;
	}
	pg_conn *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->key = strdup(xbuf_cstr(&key));
	c->conn = conn;
	c->next = conns;
	conns = c;
out:
	xbuf_free(&ci);
	xbuf_free(&key);
	return conn;
}

/* PQexec with a deadline, so a server that stops answering cannot hang delivery: the last result
 * of the query string, or NULL with err set (*broken: the connection must not be reused). */
static PGresult *exec_bounded(PGconn *conn, const char *q, int secs, bool *broken, xbuf *err)
{
	*broken = false;
	if (!pq.PQsendQuery(conn, q)) {
		xbuf_printf(err, "PGSQL: query failed: %s", pq.PQerrorMessage(conn));
		trim_nl(err);
		*broken = true;
		return NULL;
	}
	long long deadline = monotonic_ms() + (long long)secs * 1000;
	PGresult *last = NULL;
	for (;;) {
		int f = pq.PQflush(conn);
		if (f < 0)
			goto fail;
		if (f == 0 && !pq.PQisBusy(conn)) {
			PGresult *r = pq.PQgetResult(conn);
			if (!r)
				return last;
			pq.PQclear(last);
			last = r;
			continue;
		}
		int left = ms_until(deadline);
		if (left == 0) {
			pq.PQclear(last);
			xbuf_printf(err, "PGSQL: query timed out after %d seconds", secs);
			*broken = true;
			return NULL;
		}
		struct pollfd pfd = { .fd = pq.PQsocket(conn), .events = (short)(POLLIN | (f == 1 ? POLLOUT : 0)) };
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			goto fail;
		if (!pq.PQconsumeInput(conn))
			goto fail;
	}
fail:
	pq.PQclear(last);
	xbuf_printf(err, "PGSQL: query failed: %s", pq.PQerrorMessage(conn));
	trim_nl(err);
	*broken = true;
	return NULL;
}

static int run_query(PGconn *conn, sv query, int secs, xbuf *result, xbuf *err)
{
	char *q = malloc(query.len + 1);
	if (!q)
		abort();
	memcpy(q, query.p, query.len);
	q[query.len] = 0;
	bool broken;
	PGresult *r = exec_bounded(conn, q, secs, &broken, err);
	free(q);
	if (!r) {
		if (broken)
			forget_conn(conn);
		return SEARCH_DEFER;
	}
	int rc = SEARCH_OK;
	switch (pq.PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
		xbuf_puts(result, pq.PQcmdTuples(r)[0] ? pq.PQcmdTuples(r) : "0");
		break;
	case PGRES_TUPLES_OK: {
		int rows = pq.PQntuples(r), cols = pq.PQnfields(r);
		if (rows == 0) {
			xbuf_puts(err, "PGSQL: no data found");
			rc = SEARCH_FAIL;
			break;
		}
		for (int i = 0; i < rows; i++) {
			if (i)
				xbuf_putc(result, '\n');
			for (int c = 0; c < cols; c++) {
				const char *v = pq.PQgetisnull(r, i, c) ? "" : pq.PQgetvalue(r, i, c);
				if (cols == 1)
					xbuf_puts(result, v);
				else
					lookup_put_field(result, pq.PQfname(r, c), v);
			}
		}
		break;
	}
	default:
		xbuf_printf(err, "PGSQL: query failed: %s", pq.PQresultErrorMessage(r));
		trim_nl(err);
		rc = SEARCH_DEFER;
		break;
	}
	pq.PQclear(r);
	return rc;
}

static void *pgsql_open(const char *filename, xbuf *errmsg)
{
	static int dummy;
	return &dummy;
}

static int pgsql_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	const char *main_list = conf_main_string("pgsql_servers");
	sv prefix_servers;
	sv query = lookup_query_servers_prefix(key, &prefix_servers);
	sv servers = lookup_opt_value(opts, "servers");
	if (sv_is_null(servers))
		servers = prefix_servers;
	if (sv_is_null(servers))
		servers = sv_cstr(main_list);
	if (servers.len == 0) {
		xbuf_puts(errmsg, "no PostgreSQL servers defined (pgsql_servers option)");
		return SEARCH_DEFER;
	}
	/* ",timeout=N" bounds connecting and each query (defaults 5s and 30s). */
	int connect_secs = 5, query_secs = 30;
	sv t = lookup_opt_value(opts, "timeout");
	long long secs;
	if (!sv_is_null(t) && sv_to_long(t, &secs) && secs >= 1 && secs < 3600) {
		connect_secs = secs < 2 ? 2 : (int)secs; /* libpq's minimum */
		query_secs = (int)secs;
	}
	DEBUG(D_LOOKUP) debug_printf(" PostgreSQL query: \"" SV_FMT "\" opts '%s'\n", SV_ARG(query),
		opts ? opts : "NULL");
	if (!pq_load(errmsg))
		return SEARCH_DEFER;
	list_iter it;
	xbuf item, full;
	xbuf_init(&item, NULL);
	xbuf_init(&full, NULL);
	list_iter_init(&it, servers, 0);
	int rc = SEARCH_DEFER;
	while (list_next(&it, &item)) {
		xbuf_reset(errmsg);
		if (!lookup_server_resolve(xbuf_sv(&item), main_list, &full, errmsg))
			break;
		bool cached;
		PGconn *conn = get_conn(xbuf_sv(&full), connect_secs, &cached, errmsg);
		if (!conn)
			continue;
		size_t start = result->len;
		rc = run_query(conn, query, query_secs, result, errmsg);
		/* run_query forgets connections it found broken; a bad status means the same. */
		if (rc == SEARCH_DEFER && (!conn_known(conn) || pq.PQstatus(conn) != CONNECTION_OK)) {
			bool timed_out = strstr(xbuf_cstr(errmsg), "timed out") != NULL;
			if (conn_known(conn))
				forget_conn(conn);
			/* A cached connection the server has since closed: one fresh attempt. */
			if (cached && !timed_out &&
			    (conn = get_conn(xbuf_sv(&full), connect_secs, &cached, errmsg)) != NULL) {
				xbuf_truncate(result, start);
				xbuf_reset(errmsg);
				rc = run_query(conn, query, query_secs, result, errmsg);
				if (rc == SEARCH_DEFER && conn_known(conn) && pq.PQstatus(conn) != CONNECTION_OK)
					forget_conn(conn);
			}
		}
		if (rc != SEARCH_DEFER)
			break;
		xbuf_truncate(result, start);
	}
	xbuf_free(&item);
	xbuf_free(&full);
	return rc;
}

static void pgsql_tidy(void)
{
	while (conns)
		drop_conn(conns);
}

/* Exim 4.96: ' doubled; " and \ backslashed; newline, tab, CR, backspace as \n \t \r \b. */
static bool pgsql_quote(sv in, sv opt, xbuf *out, xbuf *errmsg)
{
	if (opt.p) { /* "${quote_X_:" has an empty option, which is unknown too */
		xbuf_printf(errmsg, "\"" SV_FMT "\" unrecognized after \"${quote_pgsql\"", SV_ARG(opt));
		return false;
	}
	for (size_t i = 0; i < in.len; i++) {
		char c = in.p[i];
		switch (c) {
		case '\'': xbuf_puts(out, "''"); break;
		case '"': xbuf_puts(out, "\\\""); break;
		case '\\': xbuf_puts(out, "\\\\"); break;
		case '\n': xbuf_puts(out, "\\n"); break;
		case '\t': xbuf_puts(out, "\\t"); break;
		case '\r': xbuf_puts(out, "\\r"); break;
		case '\b': xbuf_puts(out, "\\b"); break;
		default: xbuf_putc(out, c); break;
		}
	}
	return true;
}

static void pgsql_version(xbuf *out)
{
	xbuf err;
	xbuf_init(&err, NULL);
	if (pq_load(&err))
		xbuf_printf(out, "Library version: PostgreSQL: Runtime: %d\n", pq.PQlibVersion());
	else
		xbuf_printf(out, "Library version: PostgreSQL: Runtime: not loadable (%s)\n", xbuf_cstr(&err));
	xbuf_free(&err);
}

const lookup_info lookup_pgsql = {
	.name = "pgsql", .type = LOOKUP_QUERYSTYLE,
	.open = pgsql_open, .find = pgsql_find, .tidy = pgsql_tidy, .quote = pgsql_quote,
	.version_report = pgsql_version,
};
