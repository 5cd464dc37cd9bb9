/* Helpers for the lookup tests: a private temp directory, files written at test time, and
 * one-call lookups that render the outcome as text ("value", "FAIL", "DEFER: message"). */
#ifndef POSTERN_TESTS_LOOKUP_TEST_H
#define POSTERN_TESTS_LOOKUP_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/str.h"
#include "search/match.h"
#include "search/search.h"

static char lt_dir[256];

static inline void lt_cleanup(void)
{
	if (lt_dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", lt_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup of %s failed\n", lt_dir);
	}
}

/* Warnings that would go to the main/panic logs are kept here instead. */
static char lt_last_log[1024];
static inline void lt_quiet_log(const char *msg)
{
	snprintf(lt_last_log, sizeof lt_last_log, "%s", msg);
}

static inline void lt_init(void)
{
	arena_init_pools();
	search_log_hook = lt_quiet_log;
	snprintf(lt_dir, sizeof lt_dir, "/tmp/postern-lt-XXXXXX");
	if (!mkdtemp(lt_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(lt_cleanup);
}

/* Path of a file in the temp dir (static buffer rotation: valid for a few calls). */
static inline const char *lt_path(const char *name)
{
	static char bufs[8][512];
	static int n;
	char *b = bufs[n++ % 8];
	snprintf(b, 512, "%s/%s", lt_dir, name);
	return b;
}

static inline const char *lt_write(const char *name, const char *content)
{
	const char *p = lt_path(name);
	FILE *f = fopen(p, "w");
	if (!f) {
		perror(p);
		exit(1);
	}
	fputs(content, f);
	fclose(f);
	return p;
}

/* Run a shell command (used to build test databases with the real tools); 0 = ok. */
static inline int lt_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* ${lookup{key}type{file}} rendered as text; tainted: key is tainted; quoter: its quoter id. */
static inline const char *lt_lookup_ex(const char *type, const char *file, const char *key, bool taint_file,
	bool taint_key, unsigned quoter)
{
	static char out[8][16384];
	static int n;
	char *o = out[n++ % 8];
	xbuf res, err;
	xbuf_init(&res, NULL);
	xbuf_init(&err, NULL);
	search_spec spec;
	if (!search_spec_parse(sv_cstr(type), &spec, &err)) {
		snprintf(o, 16384, "SPEC: %s", xbuf_cstr(&err));
	} else {
		sv f = file ? sv_cstr(file) : SV_NULL;
		if (taint_file)
			f.taint = 1;
		sv k = sv_cstr(key);
		k.taint = taint_key;
		k.quoter = (uint8_t)quoter;
		int rc = search_find(&spec, f, k, &res, &err);
		if (rc == SEARCH_OK)
			snprintf(o, 16384, "%s", xbuf_cstr(&res));
		else if (rc == SEARCH_FAIL)
			snprintf(o, 16384, "FAIL");
		else
			snprintf(o, 16384, "DEFER: %s", xbuf_cstr(&err));
	}
	xbuf_free(&res);
	xbuf_free(&err);
	return o;
}

static inline const char *lt_lookup(const char *type, const char *file, const char *key)
{
	return lt_lookup_ex(type, file, key, false, false, 0);
}

/* Query-style: the query is the key; file is for sqlite-style lookups. */
static inline const char *lt_query(const char *type, const char *query)
{
	return lt_lookup_ex(type, NULL, query, false, false, 0);
}

static inline bool lt_starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A DEFER whose reason (after any 'lookup of "<key>" gave DEFER: ') starts with prefix; prefix
 * itself starts with "DEFER: ". */
static inline bool lt_defer_starts(const char *s, const char *prefix)
{
	if (!lt_starts(s, "DEFER: ") || !lt_starts(prefix, "DEFER: "))
		return false;
	const char *why = s + 7;
	if (lt_starts(why, "lookup of \"")) {
		const char *g = strstr(why, "\" gave DEFER: ");
		if (g)
			why = g + 14;
	}
	return lt_starts(why, prefix + 7);
}

static inline bool lt_have(const char *prog)
{
	return lt_sh("command -v %s >/dev/null 2>&1", prog) == 0;
}

#endif
