/* Server-list helpers for redis and pgsql; see sql_servers.h. */
#include "drivers/lookups/sql_servers.h"

#include <ctype.h>
#include <string.h>

#include "lib/list.h"

sv lookup_opt_value(const char *opts, const char *name)
{
	if (!opts)
		return SV_NULL;
	sv o = sv_cstr(opts);
	size_t n = strlen(name);
	size_t i = 0;
	while (i <= o.len) {
		size_t j = i;
		while (j < o.len && o.p[j] != ',')
			j++;
		sv one = sv_trim(sv_sub(o, i, j - i));
		if (one.len > n && memcmp(one.p, name, n) == 0 && one.p[n] == '=')
			return sv_sub(one, n + 1, one.len);
		i = j + 1;
	}
	return SV_NULL;
}

bool lookup_server_resolve(sv item, const char *main_list, xbuf *full, xbuf *err)
{
	xbuf_reset(full);
	if (memchr(item.p, '/', item.len)) {
		xbuf_putsv(full, item);
		return true;
	}
	/* A bare name: the main-list entry whose part before the first '/' equals it. */
	if (main_list) {
		list_iter it;
		xbuf e;
		xbuf_init(&e, NULL);
		list_iter_init(&it, sv_cstr(main_list), 0);
		while (list_next(&it, &e)) {
			const char *slash = memchr(e.p, '/', e.len);
			size_t hl = slash ? (size_t)(slash - e.p) : e.len;
			if (hl == item.len && memcmp(e.p, item.p, hl) == 0) {
				xbuf_putsv(full, xbuf_sv(&e));
				xbuf_free(&e);
				return true;
			}
		}
		xbuf_free(&e);
	}
	xbuf_printf(err, "server \"" SV_FMT "\" not found in the servers list", SV_ARG(item));
	return false;
}

void lookup_put_field(xbuf *out, const char *name, const char *val)
{
	xbuf_printf(out, "%s=", name);
	if (!val) {
		xbuf_puts(out, "<NULL>");
	} else {
		bool q = *val == 0;
		for (const char *s = val; *s && !q; s++)
			q = isspace((unsigned char)*s);
		if (!q) {
			xbuf_puts(out, val);
		} else {
			xbuf_putc(out, '"');
			for (const char *s = val; *s; s++) {
				if (*s == '"' || *s == '\\')
					xbuf_putc(out, '\\');
				xbuf_putc(out, *s);
			}
			xbuf_putc(out, '"');
		}
	}
	xbuf_putc(out, ' ');
}

sv lookup_query_servers_prefix(sv query, sv *servers)
{
	*servers = SV_NULL;
	sv q = sv_trim(query);
	if (!sv_starts(q, "servers="))
		return query;
	const char *semi = memchr(q.p, ';', q.len);
	if (!semi)
		return query;
	*servers = sv_trim(sv_sub(q, 8, (size_t)(semi - q.p) - 8));
	return sv_trim(sv_sub(q, (size_t)(semi - q.p) + 1, q.len));
}
