/* dsearch: is there a directory entry named key? Options ret=full (the whole path) and
 * filter=file|dir|subdir (subdir excludes "." and ".."). The result is not tainted. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "search/search.h"

static void *dsearch_open(const char *filename, xbuf *errmsg)
{
	DIR *d = opendir(filename);
	if (!d) {
		xbuf_printf(errmsg, "failed to open %s for directory search: %s", filename, strerror(errno));
		return NULL;
	}
	closedir(d);
	char *h = strdup(filename);
	if (!h)
		abort();
	return h;
}

static bool opt_is(sv one, const char *name, sv *val)
{
	size_t n = strlen(name);
	if (one.len > n && memcmp(one.p, name, n) == 0 && one.p[n] == '=') {
		*val = sv_sub(one, n + 1, one.len);
		return true;
	}
	return false;
}

static int dsearch_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	const char *dir = handle;
	if (memchr(key.p, '/', key.len)) {
		xbuf_printf(errmsg, "key for dsearch lookup contains a slash: " SV_FMT, SV_ARG(key));
		return SEARCH_DEFER;
	}
	bool ret_full = false;
	enum { ANY, FILES, DIRS, SUBDIRS } filter = ANY;
	sv o = sv_cstr(opts);
	for (size_t i = 0; opts && i <= o.len;) {
		size_t j = i;
		while (j < o.len && o.p[j] != ',')
			j++;
		sv one = sv_trim(sv_sub(o, i, j - i)), val;
		if (opt_is(one, "ret", &val))
			ret_full = sv_eq_cstr(val, "full");
		else if (opt_is(one, "filter", &val))
			filter = sv_eq_cstr(val, "file") ? FILES : sv_eq_cstr(val, "dir") ? DIRS
				: sv_eq_cstr(val, "subdir") ? SUBDIRS : filter;
		i = j + 1;
	}
	if (memchr(key.p, 0, key.len))
		return SEARCH_FAIL;
	char *path = malloc(strlen(dir) + key.len + 2);
	if (!path)
		abort();
	sprintf(path, "%s/%.*s", dir, (int)key.len, key.p);
	struct stat st;
	int rc = SEARCH_FAIL;
	if (lstat(path, &st) == 0) {
		bool dot = sv_eq_cstr(key, ".") || sv_eq_cstr(key, "..");
		bool ok = filter == ANY || (filter == FILES && S_ISREG(st.st_mode)) ||
			(filter == DIRS && S_ISDIR(st.st_mode)) ||
			(filter == SUBDIRS && S_ISDIR(st.st_mode) && !dot);
		if (ok) {
			if (ret_full)
				xbuf_puts(result, path);
			else
				xbuf_put(result, key.p, key.len);
			rc = SEARCH_OK;
		}
	}
	free(path);
	return rc;
}

static void dsearch_close(void *handle)
{
	free(handle);
}

const lookup_info lookup_dsearch = {
	.name = "dsearch", .type = LOOKUP_SINGLEKEY, /* 4.96 does not insist on an absolute path */
	.open = dsearch_open, .find = dsearch_find, .close = dsearch_close,
};
