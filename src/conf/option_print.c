/* How -bP prints each option type, following Exim 4.96's output (checked live):
 *   booleans      "name" / "no_name" (also with -n)
 *   strings       "name = value", unset "name = " (non-printing characters escaped)
 *   integers      decimal; "mkint" ones as nK/nM when exact; "Kint" (held in K) as nK/nM/nG
 *   fixed-point   "1.5", "2.0"; unset prints "name =" with no trailing space
 *   times         "1w2d3h4m5s", zero as "0s"
 *   users/groups  by name when the id has one; unset "name = "; id lists unset "name ="
 */
#include "conf/conf_internal.h"

#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>

#include "conf/main_options.h"
#include "lib/list.h"
#include "lib/printing.h"

void conf_format_time(int seconds, xbuf *out)
{
	if (seconds < 0) {
		xbuf_putc(out, '-');
		seconds = -seconds;
	}
	if (seconds == 0) {
		xbuf_puts(out, "0s");
		return;
	}
	static const struct { int secs; char unit; } units[] = {
		{ 7 * 86400, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		int n = seconds / units[i].secs;
		if (n) {
			xbuf_printf(out, "%d%c", n, units[i].unit);
			seconds -= n * units[i].secs;
		}
	}
}

void conf_format_fixed(int value, xbuf *out)
{
	xbuf_printf(out, "%d.", value / 1000);
	int frac = value % 1000;
	if (frac == 0) {
		xbuf_putc(out, '0');
		return;
	}
	if (frac < 0)
		frac = -frac;
	char digits[3] = { (char)('0' + frac / 100), (char)('0' + frac / 10 % 10), (char)('0' + frac % 10) };
	int len = 3;
	while (len > 1 && digits[len - 1] == '0')
		len--;
	xbuf_put(out, digits, (size_t)len);
}

void conf_format_printing(const char *s, xbuf *out)
{
	/* Exim's string_printing: tab as \t here, top-bit bytes as octal unless print_topbitchars */
	printing_escape(sv_cstr(s), conf_main.print_topbitchars ? PRINT_TOPBIT : 0, out);
}

static void format_scaled(long long v, const long long *steps, const char *suffixes, size_t n, xbuf *out)
{
	if (v != 0)
		for (size_t i = n; i-- > 0;)
			if (v % steps[i] == 0) {
				xbuf_printf(out, "%lld%c", v / steps[i], suffixes[i]);
				return;
			}
	xbuf_printf(out, "%lld", v);
}

static void format_uid(uid_t u, bool group, xbuf *out)
{
	if (u == POSTERN_UNSET_ID)
		return;
	if (group) {
		struct group *g = getgrgid(u);
		if (g) {
			xbuf_puts(out, g->gr_name);
			return;
		}
	} else {
		struct passwd *p = getpwuid(u);
		if (p) {
			xbuf_puts(out, p->pw_name);
			return;
		}
	}
	xbuf_printf(out, "%u", (unsigned)u);
}

static void format_id_list(const char *ids, bool group, xbuf *out)
{
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, sv_cstr(ids), 0);
	bool first = true;
	while (list_next(&it, &item)) {
		if (!first)
			xbuf_putc(out, ':');
		first = false;
		format_uid((uid_t)strtoul(xbuf_cstr(&item), NULL, 10), group, out);
	}
	xbuf_free(&item);
}

static bool is_boolean(const opt_row *row, const void *block)
{
	if (row->type == OPT_BOOL || row->type == OPT_BOOL_VERIFY || row->type == OPT_BOOL_SET)
		return true;
	if (row->type == OPT_EXPAND_BOOL) {
		const char *s = *(const char *const *)((const char *)block + row->offset);
		return !s || strcmp(s, "true") == 0 || strcmp(s, "false") == 0;
	}
	return false;
}

static bool bool_value(const opt_row *row, const void *block)
{
	const char *field = (const char *)block + row->offset;
	if (row->type == OPT_EXPAND_BOOL) {
		const char *s = *(const char *const *)field;
		return s && strcmp(s, "true") == 0;
	}
	return *(const bool *)field;
}

/* Options whose unset value prints "name =" with no space after the '='. */
static bool unset_without_space(const opt_row *row, const void *block)
{
	const char *field = (const char *)block + row->offset;
	switch (row->type) {
	case OPT_FIXED:
		return *(const int *)field < 0;
	case OPT_UIDLIST:
	case OPT_GIDLIST:
		return *(const char *const *)field == NULL;
	default:
		return false;
	}
}

void conf_format_value(const opt_row *row, const void *block, xbuf *out)
{
	const char *field = (const char *)block + row->offset;
	static const long long mk_steps[] = { 1024, 1024 * 1024 };
	static const long long k_steps[] = { 1024, 1024 * 1024, 1024LL * 1024 * 1024 };
	switch (row->type) {
	case OPT_BOOL:
	case OPT_BOOL_VERIFY:
	case OPT_BOOL_SET:
		xbuf_puts(out, *(const bool *)field ? "true" : "false");
		break;
	case OPT_STRING:
	case OPT_EXPAND_BOOL:
	case OPT_EXPAND_UID:
	case OPT_EXPAND_GID:
	case OPT_REWRITE:
	case OPT_FUNC:
	case OPT_TIMELIST: {
		const char *s = *(const char *const *)field;
		if (s)
			conf_format_printing(s, out);
		break;
	}
	case OPT_INT:
		xbuf_printf(out, "%d", *(const int *)field);
		break;
	case OPT_MKINT:
		format_scaled(*(const int *)field, mk_steps, "KM", 2, out);
		break;
	case OPT_KINT: {
		/* the value is in K already: K for a remainder, then M, G and T */
		long long v = *(const long long *)field;
		if (v == 0)
			xbuf_putc(out, '0');
		else if (v % 1024 != 0)
			xbuf_printf(out, "%lldK", v);
		else
			format_scaled(v, k_steps, "MGT", 3, out);
		break;
	}
	case OPT_OCTINT:
		xbuf_printf(out, "0%o", (unsigned)*(const int *)field);
		break;
	case OPT_FIXED:
		if (*(const int *)field >= 0)
			conf_format_fixed(*(const int *)field, out);
		break;
	case OPT_TIME:
		conf_format_time(*(const int *)field, out);
		break;
	case OPT_UID:
	case OPT_GID:
		format_uid(*(const uid_t *)field, row->type == OPT_GID, out);
		break;
	case OPT_UIDLIST:
	case OPT_GIDLIST: {
		const char *s = *(const char *const *)field;
		if (s)
			format_id_list(s, row->type == OPT_GIDLIST, out);
		break;
	}
	default:
		break;
	}
}

void conf_print_option(const opt_row *row, const void *block, bool no_names, bool mask_hidden, xbuf *out)
{
	if (is_boolean(row, block)) {
		/* booleans print their (negated) name even with -n, as Exim does */
		xbuf_printf(out, "%s%s\n", bool_value(row, block) ? "" : "no_", row->name);
		return;
	}
	if (mask_hidden && ((row->flags & OPTF_SECURE) || conf_hidden_is(row))) {
		if (!no_names)
			xbuf_printf(out, "%s = ", row->name);
		xbuf_puts(out, "<value not displayable>\n");
		return;
	}
	if (unset_without_space(row, block)) {
		/* an unset fixed-point value shows its name even with -n (Exim does) */
		if (!no_names || row->type == OPT_FIXED)
			xbuf_printf(out, "%s =", row->name);
		xbuf_putc(out, '\n');
		return;
	}
	if (!no_names)
		xbuf_printf(out, "%s = ", row->name);
	conf_format_value(row, block, out);
	xbuf_putc(out, '\n');
}
