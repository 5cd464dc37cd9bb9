/* The hints database tools (Exim 4.96 "Exim utilities": exim_dumpdb, exim_tidydb, exim_fixdb),
 * run as exim_dumpdb / postern_dumpdb (and _tidydb, _fixdb) or postern -bdbdump/-bdbtidy/-bdbfix.
 * Like Exim's, they read no configuration: the spool directory and database name are arguments.
 *
 * Postern's hints databases are LMDB files (src/core/hintsdb.h) with Postern's own record
 * layouts; these tools print them in the formats Exim's tools print (recorded from Exim 4.96
 * for the same events; docs/command-line.md). Decoding of each layout is in hints_format.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/hintsdb.h"
#include "core/retry.h"
#include "tls/tls_resume_db.h"
#include "lib/arena.h"
#include "lib/timefmt.h"
#include "prog/cmdline.h"
#include "prog/hints_format.h"

static const char *const db_list =
	"  <database-name> = retry | misc | wait-<transport-name> | callout | ratelimit | tls | seen\n";

static int usage(const char *tool)
{
	if (strcmp(tool, "dumpdb") == 0)
		fprintf(stderr, "Usage: exim_dumpdb [-z] [-k]  <spool-directory> <database-name>\n%s", db_list);
	else if (strcmp(tool, "tidydb") == 0)
		fprintf(stderr, "Usage: exim_tidydb [-t <time>]  <spool-directory> <database-name>\n%s", db_list);
	else
		fprintf(stderr, "Usage: exim_fixdb [-z]  <spool-directory> <database-name>\n%s", db_list);
	return 1;
}

static bool known_db(const char *name)
{
	static const char *const names[] = { "retry", "misc", "callout", "ratelimit", "tls", "seen" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return strncmp(name, "wait-", 5) == 0 && name[5] && !strchr(name, '/');
}

static hintsdb *open_db(const char *spool, const char *name, bool readonly)
{
	xbuf err;
	xbuf_init(&err, NULL);
	hintsdb *db = hintsdb_open(spool, name, readonly, &err);
	if (!db) {
		/* Exim's words; the reason is the last part of the database layer's text */
		const char *why = strrchr(xbuf_cstr(&err), ':');
		fprintf(stderr, "** Failed to open database lock file %s/db/%s.lockfile: %s\n", spool, name,
			why ? why + 2 : xbuf_cstr(&err));
	}
	xbuf_free(&err);
	return db;
}

/* ---- exim_dumpdb ---- */

typedef struct dump_ctx {
	const char *db;
	bool keys_only;
	xbuf line;
	/* callout: lines are collected and sorted by Exim's key (Postern's keys carry a "D:" or
	 * "A:" prefix, which would put all addresses before all domains). */
	arena *a;
	struct sorted_line { sv key, text; } *lines;
	size_t n, cap;
} dump_ctx;

static int by_key(const void *x, const void *y)
{
	const struct sorted_line *a = x, *b = y;
	size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
	int c = memcmp(a->key.p, b->key.p, n);
	return c ? c : (a->key.len > b->key.len) - (a->key.len < b->key.len);
}

static bool dump_one(void *vctx, sv key, sv value)
{
	dump_ctx *c = vctx;
	xbuf_reset(&c->line);
	if (c->keys_only) {
		xbuf_puts(&c->line, "  ");
		hints_put_printable(&c->line, strcmp(c->db, "callout") == 0 ? hints_callout_key(key) : key);
		xbuf_putc(&c->line, '\n');
	} else {
		hints_format_record(c->db, key, value, &c->line);
	}
	if (c->a) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 64;
			struct sorted_line *v = arena_alloc(c->a, cap * sizeof *v);
			if (c->n)
				memcpy(v, c->lines, c->n * sizeof *v);
			c->lines = v;
			c->cap = cap;
		}
		c->lines[c->n].key = sv_copy(c->a, hints_callout_key(key));
		c->lines[c->n++].text = sv_copy(c->a, xbuf_sv(&c->line));
		return true;
	}
	fwrite(c->line.p, 1, c->line.len, stdout);
	return true;
}

static int dumpdb(const cmdline *cl)
{
	size_t i = 0;
	bool utc = false, keys = false;
	for (; i < cl->nargs && cl->args[i][0] == '-'; i++) {
		if (strcmp(cl->args[i], "-z") == 0)
			utc = true;
		else if (strcmp(cl->args[i], "-k") == 0)
			keys = true;
		else
			return usage("dumpdb");
	}
	if (cl->nargs - i != 2 || !known_db(cl->args[i + 1]))
		return usage("dumpdb");
	hints_time_utc(utc);
	hintsdb *db = open_db(cl->args[i], cl->args[i + 1], true);
	if (!db)
		return 1;
	dump_ctx c = { .db = cl->args[i + 1], .keys_only = keys };
	xbuf_init(&c.line, NULL);
	if (strcmp(c.db, "callout") == 0)
		c.a = arena_new("dump");
	bool ok = hintsdb_iterate(db, dump_one, &c);
	if (c.a) {
		if (c.n)
			qsort(c.lines, c.n, sizeof *c.lines, by_key);
		for (size_t k = 0; k < c.n; k++)
			fwrite(c.lines[k].text.p, 1, c.lines[k].text.len, stdout);
		arena_free(c.a);
	}
	xbuf_free(&c.line);
	if (!ok)
		fprintf(stderr, "** Failed to read %s: %s\n", c.db, hintsdb_error(db));
	hintsdb_close(db);
	return ok ? 0 : 1;
}

/* ---- exim_tidydb ---- */

typedef struct tidy_item {
	struct tidy_item *next;
	sv key;
	sv value;
} tidy_item;

typedef struct tidy_ctx {
	arena *a;
	tidy_item *items;
} tidy_ctx;

static bool collect(void *vctx, sv key, sv value)
{
	tidy_ctx *c = vctx;
	tidy_item *it = arena_calloc(c->a, 1, sizeof *it);
	it->key = sv_copy(c->a, key);
	it->value = sv_copy(c->a, value);
	it->next = c->items;
	c->items = it;
	return true;
}

/* Is the message still on the spool (flat or split layout)? */
static bool message_exists(const char *spool, sv id)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/input/%.*s-H", spool, (int)id.len, id.p);
	if (stat(path, &st) == 0)
		return true;
	snprintf(path, sizeof path, "%s/input/%c/%.*s-H", spool, id.p[5], (int)id.len, id.p);
	return stat(path, &st) == 0;
}

/* A wait-<transport> record: ids of messages no longer on the spool go. An emptied main record
 * takes back its highest continuation ("renamed <host>:<n>", as Exim's exim_tidydb), and is
 * deleted only when none is left; continuation records are kept even when empty (as Exim).
 * Continuations are listed before their main record (the items are in reverse key order and
 * "<host>:<n>" sorts after "<host>"), so a continuation taken back is already tidied; its ids
 * are checked again all the same. */
static size_t keep_existing(const char *spool, wait_record *r)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++)
		if (message_exists(spool, r->ids[i]))
			r->ids[k++] = r->ids[i];
	size_t dropped = r->n - k;
	r->n = k;
	return dropped;
}

static void tidy_wait(hintsdb *db, const char *spool, const tidy_item *it, const char *shown, arena *a)
{
	wait_record *r = arena_calloc(a, 1, sizeof *r);
	wait_record_decode(it->value, r);
	bool changed = keep_existing(spool, r) > 0;
	size_t host_len;
	if (wait_record_is_cont_key(it->key, &host_len)) {
		if (changed) {
			xbuf v;
			xbuf_init(&v, a);
			wait_record_encode(r, &v);
			hintsdb_put(db, it->key, xbuf_sv(&v));
			printf("updated %s\n", shown);
		}
		return;
	}
	wait_record *cont = arena_calloc(a, 1, sizeof *cont);
	while (r->n == 0 && r->sequence > 0) {
		r->sequence--;
		changed = true;
		sv ck = wait_record_cont_key(a, it->key, r->sequence);
		xbuf cv;
		xbuf_init(&cv, a);
		if (hintsdb_get(db, ck, &cv) != 1)
			continue;
		wait_record_decode(xbuf_sv(&cv), cont);
		keep_existing(spool, cont);
		memcpy(r->ids, cont->ids, cont->n * sizeof cont->ids[0]);
		r->n = cont->n;
		hintsdb_delete(db, ck);
		xbuf name;
		xbuf_init(&name, a);
		hints_put_printable(&name, ck);
		printf("renamed %s\n", xbuf_cstr(&name));
	}
	if (r->n == 0 && r->sequence == 0) {
		hintsdb_delete(db, it->key);
		printf("deleted %s (empty)\n", shown);
	} else if (changed) {
		xbuf v;
		xbuf_init(&v, a);
		wait_record_encode(r, &v);
		hintsdb_put(db, it->key, xbuf_sv(&v));
		printf("updated %s\n", shown);
	}
}

static int tidydb(const cmdline *cl)
{
	size_t i = 0;
	int maxage = 30 * 86400;
	for (; i < cl->nargs && cl->args[i][0] == '-'; i++) {
		if (strcmp(cl->args[i], "-t") == 0 && i + 1 < cl->nargs) {
			if (!interval_parse(sv_cstr(cl->args[++i]), &maxage)) {
				fprintf(stderr, "exim_tidydb: bad time value %s\n", cl->args[i]);
				return 1;
			}
		} else {
			return usage("tidydb");
		}
	}
	if (cl->nargs - i != 2 || !known_db(cl->args[i + 1]))
		return usage("tidydb");
	const char *spool = cl->args[i], *name = cl->args[i + 1];
	hintsdb *db = open_db(spool, name, false);
	if (!db)
		return 1;
	printf("Tidying Exim hints database %s/db/%s\n", spool, name);
	arena *a = arena_new("tidy");
	tidy_ctx c = { .a = a };
	hintsdb_iterate(db, collect, &c);
	time_t now = time(NULL);
	bool is_wait = strncmp(name, "wait-", 5) == 0;
	for (tidy_item *it = c.items; it; it = it->next) {
		xbuf shown;
		xbuf_init(&shown, a);
		hints_put_printable(&shown, strcmp(name, "callout") == 0 ? hints_callout_key(it->key) : it->key);
		time_t stamp = hints_record_time(name, it->value);
		if (stamp > 0 && now - stamp > maxage) {
			hintsdb_delete(db, it->key);
			printf("deleted %s (too old)\n", xbuf_cstr(&shown));
			continue;
		}
		if (strcmp(name, TLS_RESUME_DB) == 0) {
			/* A stored TLS session past its lifetime can never be offered again. */
			time_t stored, expires;
			sv der;
			bool readable = tls_resume_record_decode(it->value, &stored, &expires, &der);
			if (!readable || expires <= now) {
				hintsdb_delete(db, it->key);
				printf("deleted %s (%s)\n", xbuf_cstr(&shown), readable ? "expired" : "unreadable");
			}
		} else if (strcmp(name, "retry") == 0) {
			/* A message-specific host record: "T:host:ip[:port]:<id>" */
			sv id = hints_key_message_id(it->key);
			if (id.len && !message_exists(spool, id)) {
				hintsdb_delete(db, it->key);
				printf("deleted %s (no message)\n", xbuf_cstr(&shown));
			}
		} else if (is_wait) {
			tidy_wait(db, spool, it, xbuf_cstr(&shown), a);
		}
	}
	printf("Tidying complete\n");
	arena_free(a);
	hintsdb_close(db);
	return 0;
}

/* ---- exim_fixdb ---- */

static int fixdb(const cmdline *cl)
{
	size_t i = 0;
	for (; i < cl->nargs && cl->args[i][0] == '-'; i++) {
		if (strcmp(cl->args[i], "-z") == 0)
			hints_time_utc(true);
		else
			return usage("fixdb");
	}
	if (cl->nargs - i != 2 || !known_db(cl->args[i + 1]))
		return usage("fixdb");
	const char *spool = cl->args[i], *name = cl->args[i + 1];
	hintsdb *db = open_db(spool, name, false);
	if (!db)
		return 1;
	printf("Modifying Exim hints database %s/db/%s\n", spool, name);
	char line[1024];
	xbuf key, out, val;
	xbuf_init(&key, NULL);
	xbuf_init(&out, NULL);
	xbuf_init(&val, NULL);
	bool have_key = false;
	for (;;) {
		printf("> ");
		fflush(stdout);
		if (!fgets(line, sizeof line, stdin))
			break;
		size_t n = strcspn(line, "\r\n");
		line[n] = 0;
		if (strcmp(line, "q") == 0)
			break;
		if (!n)
			continue;
		xbuf_reset(&out);
		if (strcmp(line, "d") == 0) {
			if (!have_key) {
				printf("No previous record name is set\n");
				continue;
			}
			hintsdb_delete(db, xbuf_sv(&key));
			printf("deleted\n");
			have_key = false;
			continue;
		}
		/* "<field> <value>": change a field of the current retry record */
		if (line[0] >= '0' && line[0] <= '9' && line[1] == ' ') {
			if (!have_key) {
				printf("No previous record name is set\n");
				continue;
			}
			xbuf_reset(&val);
			if (hintsdb_get(db, xbuf_sv(&key), &val) != 1) {
				printf("record %s not found\n", xbuf_cstr(&key));
				continue;
			}
			xbuf newval;
			xbuf_init(&newval, NULL);
			const char *problem = hints_modify_field(name, xbuf_sv(&val), line[0] - '0', line + 2, time(NULL), &newval);
			if (problem)
				printf("%s\n", problem);
			else
				hintsdb_put(db, xbuf_sv(&key), xbuf_sv(&newval));
			xbuf_free(&newval);
		} else {
			xbuf_reset(&key);
			xbuf_puts(&key, line);
		}
		xbuf_reset(&val);
		if (hintsdb_get(db, xbuf_sv(&key), &val) != 1) {
			printf("record %s not found\n", xbuf_cstr(&key));
			have_key = false;
			continue;
		}
		have_key = true;
		hints_format_fields(name, xbuf_sv(&val), &out);
		fwrite(out.p, 1, out.len, stdout);
	}
	printf("\n");
	xbuf_free(&key);
	xbuf_free(&out);
	xbuf_free(&val);
	hintsdb_close(db);
	return 0;
}

int hints_main(const cmdline *cl)
{
	const char *tool = cl->hints_tool ? cl->hints_tool : "dumpdb";
	if (strcmp(tool, "dumpdb") == 0)
		return dumpdb(cl);
	if (strcmp(tool, "tidydb") == 0)
		return tidydb(cl);
	return fixdb(cl);
}
