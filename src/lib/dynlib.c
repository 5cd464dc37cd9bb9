/* Loading optional libraries at run time: see dynlib.h for why. */
#include "lib/dynlib.h"

#include <dlfcn.h>
#include <string.h>

bool dynlib_open(const char *what, const char *soname, void **handle, xbuf *err)
{
	/* RTLD_LOCAL: the symbols serve only the driver's table. Never unloaded: the libraries
	 * keep connections and state of their own for the life of the process. */
	*handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!*handle) {
		const char *why = dlerror();
		xbuf_printf(err, "%s: cannot load %s: %s", what, soname, why ? why : "unknown error");
		return false;
	}
	return true;
}

bool dynlib_sym(const char *what, const char *soname, void *handle, const char *name, void *slot,
	size_t slot_size, xbuf *err)
{
	void *p = dlsym(handle, name);
	if (!p || slot_size != sizeof p) {
		xbuf_printf(err, "%s: %s has no %s", what, soname, name);
		return false;
	}
	memcpy(slot, &p, sizeof p); /* POSIX: a data pointer from dlsym holds a function's address */
	return true;
}
