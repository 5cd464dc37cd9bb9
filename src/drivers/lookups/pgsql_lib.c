/* Loading libpq at run time: see pgsql_lib.h for why. */
#define PGSQL_LIB_DEFINE
#include "drivers/lookups/pgsql_lib.h"

#include <dlfcn.h>
#include <string.h>

pq_api pq_fn;

bool pq_load(xbuf *err)
{
	static bool loaded;
	if (loaded)
		return true;
	/* RTLD_LOCAL: its symbols serve only these pointers. Never unloaded (libpq keeps
	 * connections and OpenSSL state of its own). */
	void *h = dlopen(PQ_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		xbuf_printf(err, "PGSQL: cannot load %s: %s", PQ_SONAME, dlerror());
		return false;
	}
	pq_api api;
#define PQ_FIND(name) \
	{ \
		void *p = dlsym(h, #name); \
		if (!p) { \
			xbuf_printf(err, "PGSQL: %s has no %s", PQ_SONAME, #name); \
			return false; \
		} \
		memcpy(&api.name, &p, sizeof p); /* POSIX: a data pointer holds a function's address */ \
	}
	PQ_FUNCTIONS(PQ_FIND)
#undef PQ_FIND
	pq_fn = api;
	loaded = true;
	return true;
}
