/* The recorded-operator-table harness shared by test_ops_table.c and test_ops_conf.c.
 *
 * Every row of a .tsv table is an expansion whose result was recorded from Exim 4.96 by
 * record_ops.sh. ${op:subject} rows go through xp_op_apply; crypteq, hmac and the
 * substr/length/hash/nhash item rows go through the shared helpers. Subjects are written with
 * Exim's backslash escapes, which this file undoes the way the expansion engine will.
 * Include in exactly one test program. */
#ifndef TESTS_UNIT_OPS_TABLE_H
#define TESTS_UNIT_OPS_TABLE_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit.h"
#include "expand/ops/ops.h"

/* Exim's backslash escapes in expansion text: \b \f \n \r \t \v \xHH \ooo, anything else
 * literally. Expansion text is a C string in Exim, so a NUL ends it: we stop there too. */
static void exim_unescape(const char *p, size_t n, xbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\\' || i + 1 == n) {
			xbuf_putc(out, p[i]);
			continue;
		}
		char c = p[++i];
		if (c == 'n') xbuf_putc(out, '\n');
		else if (c == 'r') xbuf_putc(out, '\r');
		else if (c == 't') xbuf_putc(out, '\t');
		else if (c == 'b') xbuf_putc(out, '\b');
		else if (c == 'f') xbuf_putc(out, '\f');
		else if (c == 'v') xbuf_putc(out, '\v');
		else if (c == 'x' && i + 1 < n && isxdigit((unsigned char)p[i + 1])) {
			int v = 0;
			for (int k = 0; k < 2 && i + 1 < n && isxdigit((unsigned char)p[i + 1]); k++) {
				char h = p[++i];
				v = v * 16 + (isdigit((unsigned char)h) ? h - '0' : tolower((unsigned char)h) - 'a' + 10);
			}
			xbuf_putc(out, (char)v);
		} else if (c >= '0' && c <= '7') {
			int v = c - '0';
			for (int k = 0; k < 2 && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '7'; k++)
				v = v * 8 + (p[++i] - '0');
			xbuf_putc(out, (char)v);
		} else
			xbuf_putc(out, c);
	}
	const char *nul = out->len ? memchr(out->p, 0, out->len) : NULL;
	if (nul)
		xbuf_truncate(out, (size_t)(nul - out->p));
}

/* The recorder's escapes for results: \\ \n \r \t \xHH. */
static void tsv_unescape(const char *p, xbuf *out)
{
	for (; *p; p++) {
		if (*p != '\\' || !p[1]) {
			xbuf_putc(out, *p);
			continue;
		}
		p++;
		if (*p == 'n') xbuf_putc(out, '\n');
		else if (*p == 'r') xbuf_putc(out, '\r');
		else if (*p == 't') xbuf_putc(out, '\t');
		else if (*p == 'x' && p[1] && p[2]) {
			char hex[3] = { p[1], p[2], 0 };
			xbuf_putc(out, (char)strtol(hex, NULL, 16));
			p += 2;
		} else
			xbuf_putc(out, *p);
	}
}

/* Split "{a}{b}{c}" (backslash-escaped braces allowed inside) into up to max unescaped args. */
static int brace_args(const char *p, xbuf *args, int max)
{
	int n = 0;
	while (*p == '{' && n < max) {
		const char *s = ++p;
		int depth = 1;
		while (*p && depth) {
			if (*p == '\\' && p[1]) p++;
			else if (*p == '{') depth++;
			else if (*p == '}') depth--;
			if (depth) p++;
		}
		if (!*p)
			return -1;
		xbuf_init(&args[n], NULL);
		exim_unescape(s, (size_t)(p - s), &args[n]);
		n++;
		p++;
	}
	return n;
}

/* Evaluate one recorded expansion; returns true for success with the result in out. */
static bool evaluate(const char *expr, xbuf *out, xbuf *err)
{
	size_t len = strlen(expr);
	xbuf args[4];
	int n;
	long long a = 0, b = 0;
	bool ok;
	if (strncmp(expr, "${if crypteq{", 13) == 0) {
		n = brace_args(expr + 12, args, 4);
		if (n != 4)
			return false;
		bool match;
		ok = xp_crypteq(xbuf_sv(&args[0]), xbuf_sv(&args[1]), &match, err);
		if (ok)
			xbuf_puts(out, match ? "y" : "n");
		for (int i = 0; i < n; i++) xbuf_free(&args[i]);
		return ok;
	}
	static const char *const items[] = { "hmac", "substr", "length", "hash", "nhash" };
	for (size_t k = 0; k < sizeof items / sizeof items[0]; k++) {
		size_t kl = strlen(items[k]);
		if (strncmp(expr + 2, items[k], kl) != 0 || expr[2 + kl] != '{')
			continue;
		n = brace_args(expr + 2 + kl, args, 4);
		if (n < 2)
			return false;
		sv last = xbuf_sv(&args[n - 1]);
		if (k == 0)
			ok = n == 3 && xp_hmac(xbuf_sv(&args[0]), xbuf_sv(&args[1]), last, out, err);
		else {
			a = strtoll(xbuf_cstr(&args[0]), NULL, 10);
			if (n == 3)
				b = strtoll(xbuf_cstr(&args[1]), NULL, 10);
			switch (k) {
			case 1: ok = xp_substr(last, a, b, n == 3, out, err); break;
			case 2: xp_length(last, a, out); ok = true; break;
			case 3: ok = xp_hash(last, a, b, n == 3, out, err); break;
			default: ok = xp_nhash(last, a, b, n == 3, out, err); break;
			}
		}
		for (int i = 0; i < n; i++) xbuf_free(&args[i]);
		return ok;
	}
	/* ${name:subject} */
	const char *colon = strchr(expr, ':');
	if (strncmp(expr, "${", 2) != 0 || !colon || expr[len - 1] != '}')
		return false;
	xbuf subject;
	xbuf_init(&subject, NULL);
	exim_unescape(colon + 1, (size_t)(expr + len - 1 - (colon + 1)), &subject);
	int rc = xp_op_apply(sv_make(expr + 2, (size_t)(colon - expr - 2)), xbuf_sv(&subject), out, err);
	xbuf_free(&subject);
	return rc == XP_OP_OK;
}

/* Check every row of the table at path; returns the number of rows. */
static int run_table(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		unit_failed++;
		return 0;
	}
	char line[8192];
	int rows = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			continue;
		*t1 = *t2 = 0;
		bool want_ok = strcmp(t1 + 1, "ok") == 0;
		xbuf want, got, err;
		xbuf_init(&want, NULL);
		xbuf_init(&got, NULL);
		xbuf_init(&err, NULL);
		tsv_unescape(t2 + 1, &want);
		bool ok = evaluate(line, &got, &err);
		const xbuf *res = ok ? &got : &err;
		rows++;
		if (ok == want_ok && res->len == want.len && memcmp(res->p ? res->p : "", want.p ? want.p : "", want.len) == 0)
			unit_passed++;
		else {
			unit_failed++;
			fprintf(stderr, "%s\n  want %s: %s\n  got  %s: %s\n", line, want_ok ? "ok" : "fail", xbuf_cstr(&want),
				ok ? "ok" : "fail", xbuf_cstr(res));
		}
		xbuf_free(&want);
		xbuf_free(&got);
		xbuf_free(&err);
	}
	fclose(f);
	return rows;
}

#endif
