/* passwd: query is a user name; the result looks like an /etc/passwd line with "*" as password. */
#include <pwd.h>
#include <string.h>
#include <stdlib.h>

#include "search/search.h"

static void *passwd_open(const char *filename, xbuf *errmsg)
{
	static int dummy;
	return &dummy;
}

static int passwd_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	if (key.len == 0 || memchr(key.p, 0, key.len))
		return SEARCH_FAIL;
	char *name = malloc(key.len + 1);
	if (!name)
		abort();
	memcpy(name, key.p, key.len);
	name[key.len] = 0;
	struct passwd *pw = getpwnam(name);
	free(name);
	if (!pw)
		return SEARCH_FAIL;
	xbuf_printf(result, "*:%ld:%ld:%s:%s:%s", (long)pw->pw_uid, (long)pw->pw_gid,
		pw->pw_gecos ? pw->pw_gecos : "", pw->pw_dir ? pw->pw_dir : "", pw->pw_shell ? pw->pw_shell : "");
	return SEARCH_OK;
}

const lookup_info lookup_passwd = {
	.name = "passwd", .type = LOOKUP_QUERYSTYLE,
	.open = passwd_open, .find = passwd_find,
};
