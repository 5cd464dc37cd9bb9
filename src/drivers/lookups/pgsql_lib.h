/* libpq for the pgsql lookup, loaded with dlopen() when a pgsql lookup first needs it instead of
 * linked into the program.
 *
 * Why: libpq brings about twenty shared libraries with it (Kerberos, LDAP, GnuTLS and their
 * own dependencies), five mappings each. Every fork copies every mapping, and Postern forks per
 * SMTP connection, per delivery and per transport: with libpq linked, a fork and exit of the
 * delivery launcher's image took ~440 us on the benchmark machine, ~240 us without it (bench/
 * relay/README.md). A configuration without pgsql lookups never maps it at all. */
#ifndef POSTERN_DRIVERS_LOOKUPS_PGSQL_LIB_H
#define POSTERN_DRIVERS_LOOKUPS_PGSQL_LIB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "lib/str.h"

/* The libpq functions the lookup calls, named as libpq names them. */
typedef struct pq_api {
	__typeof__(PQconnectdb) *PQconnectdb;
	__typeof__(PQstatus) *PQstatus;
	__typeof__(PQerrorMessage) *PQerrorMessage;
	__typeof__(PQfinish) *PQfinish;
	__typeof__(PQsendQuery) *PQsendQuery;
	__typeof__(PQflush) *PQflush;
	__typeof__(PQisBusy) *PQisBusy;
	__typeof__(PQgetResult) *PQgetResult;
	__typeof__(PQclear) *PQclear;
	__typeof__(PQsocket) *PQsocket;
	__typeof__(PQconsumeInput) *PQconsumeInput;
	__typeof__(PQresultStatus) *PQresultStatus;
	__typeof__(PQcmdTuples) *PQcmdTuples;
	__typeof__(PQntuples) *PQntuples;
	__typeof__(PQnfields) *PQnfields;
	__typeof__(PQgetisnull) *PQgetisnull;
	__typeof__(PQgetvalue) *PQgetvalue;
	__typeof__(PQfname) *PQfname;
	__typeof__(PQresultErrorMessage) *PQresultErrorMessage;
	__typeof__(PQlibVersion) *PQlibVersion;
} pq_api;

/* Every member is set once pq_load() has returned true. */
extern pq_api pq;

/* Load libpq (once per process; later calls only report the first outcome). false: err says
 * why ("PGSQL: cannot load libpq: ..."), and the lookup defers. */
bool pq_load(xbuf *err);

#endif
