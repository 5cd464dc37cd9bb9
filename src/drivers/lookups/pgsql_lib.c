/* Loading libpq on first use (pgsql_lib.h). */
#include "drivers/lookups/pgsql_lib.h"

#include <dlfcn.h>
#include <stdio.h>

/* The soname first (the runtime package has only that), then the development link. */
static const char *const names[] = { "libpq.so.5", "libpq.so" };

pq_api pq;
static int state;                 /* 0 not tried, 1 loaded, -1 failed */
static char failure[512];

static bool bind_symbol(void *h, const char *name, void *slot)
{
	void *f = dlsym(h, name);
	if (!f) {
		snprintf(failure, sizeof failure, "PGSQL: cannot load libpq: no symbol %s", name);
		return false;
	}
	/* POSIX allows converting dlsym's result to a function pointer; the slot is one. */
	*(void **)slot = f;
	return true;
}

static bool load(void)
{
	void *h = dlopen(names[0], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(failure, sizeof failure, "PGSQL: cannot load libpq: %s", e ? e : names[0]);
		h = dlopen(names[1], RTLD_NOW | RTLD_LOCAL);
		if (!h)
			return false;
	}
#define B(f) bind_symbol(h, #f, &pq.f)
	return B(PQconnectdb) && B(PQstatus) && B(PQerrorMessage) && B(PQfinish) && B(PQsendQuery)
		&& B(PQflush) && B(PQisBusy) && B(PQgetResult) && B(PQclear) && B(PQsocket)
		&& B(PQconsumeInput) && B(PQresultStatus) && B(PQcmdTuples) && B(PQntuples)
		&& B(PQnfields) && B(PQgetisnull) && B(PQgetvalue) && B(PQfname)
		&& B(PQresultErrorMessage) && B(PQlibVersion);
#undef B
}

bool pq_load(xbuf *err)
{
	if (state == 0)
		state = load() ? 1 : -1;
	if (state < 0 && err)
		xbuf_puts(err, failure);
	return state > 0;
}
