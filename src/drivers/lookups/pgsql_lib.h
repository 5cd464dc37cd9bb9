/* libpq, loaded when it is first needed instead of linked into the program.
 *
 * Why: libpq brings about twenty libraries with it (Kerberos, LDAP, SASL, GnuTLS and theirs),
 * about a hundred memory mappings, and every fork copies every mapping of its parent. The
 * daemon forks a process per connection, and that process exits after it: with libpq linked,
 * fork and exit cost 560 us of CPU against 285 us without it (a test program loading the same
 * set of libraries, 2000 forks; docs/architecture.md, "Daemon"). A configuration that uses the
 * pgsql lookup gets libpq loaded by the daemon before it forks anything (search_preload_named),
 * so its sessions do not each load it again; any other process loads it at its first pgsql
 * lookup.
 *
 * pgsql.c calls the PQ* functions by their usual names: below, each name stands for the
 * pointer found in the loaded library. pq_load must have succeeded before any of them is used.
 */
#ifndef POSTERN_DRIVERS_LOOKUPS_PGSQL_LIB_H
#define POSTERN_DRIVERS_LOOKUPS_PGSQL_LIB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "lib/str.h"

/* libpq's library name: its soname has been libpq.so.5 since PostgreSQL 8.2. */
#define PQ_SONAME "libpq.so.5"

#define PQ_FUNCTIONS(X) \
	X(PQclear) X(PQcmdTuples) X(PQconnectdb) X(PQconsumeInput) X(PQerrorMessage) X(PQexec) \
	X(PQfinish) X(PQflush) X(PQfname) X(PQgetResult) X(PQgetisnull) X(PQgetvalue) X(PQisBusy) \
	X(PQlibVersion) X(PQnfields) X(PQntuples) X(PQresultErrorMessage) X(PQresultStatus) \
	X(PQsendQuery) X(PQsocket) X(PQstatus)

typedef struct pq_api {
#define PQ_MEMBER(name) __typeof__(name) *name;
	PQ_FUNCTIONS(PQ_MEMBER)
#undef PQ_MEMBER
} pq_api;

extern pq_api pq_fn;

/* Load libpq once per process; false with *err ("PGSQL: cannot load libpq.so.5: ...") if it
 * or one of its functions cannot be found. */
bool pq_load(xbuf *err);

#ifndef PGSQL_LIB_DEFINE
#define PQclear pq_fn.PQclear
#define PQcmdTuples pq_fn.PQcmdTuples
#define PQconnectdb pq_fn.PQconnectdb
#define PQconsumeInput pq_fn.PQconsumeInput
#define PQerrorMessage pq_fn.PQerrorMessage
#define PQexec pq_fn.PQexec
#define PQfinish pq_fn.PQfinish
#define PQflush pq_fn.PQflush
#define PQfname pq_fn.PQfname
#define PQgetResult pq_fn.PQgetResult
#define PQgetisnull pq_fn.PQgetisnull
#define PQgetvalue pq_fn.PQgetvalue
#define PQisBusy pq_fn.PQisBusy
#define PQlibVersion pq_fn.PQlibVersion
#define PQnfields pq_fn.PQnfields
#define PQntuples pq_fn.PQntuples
#define PQresultErrorMessage pq_fn.PQresultErrorMessage
#define PQresultStatus pq_fn.PQresultStatus
#define PQsendQuery pq_fn.PQsendQuery
#define PQsocket pq_fn.PQsocket
#define PQstatus pq_fn.PQstatus
#endif

#endif
