/* The lookup registry: every built-in lookup driver, sorted by name (quoter ids are index + 1,
 * so the order is part of the spool format for quoted values: only ever insert in name order). */
#include "build_config.h"
#include "search/search.h"

extern const lookup_info lookup_cdb, lookup_dbm, lookup_dbmjz, lookup_dbmnz, lookup_dnsdb, lookup_dsearch,
	lookup_iplsearch, lookup_json, lookup_lmdb, lookup_lsearch, lookup_nwildlsearch, lookup_passwd,
	lookup_pgsql, lookup_redis, lookup_sqlite, lookup_wildlsearch;

const lookup_info *const lookup_drivers[] = {
	&lookup_cdb,
#if LOOKUP_DBM
	&lookup_dbm,
	&lookup_dbmjz,
	&lookup_dbmnz,
#endif
	&lookup_dnsdb,
	&lookup_dsearch,
	&lookup_iplsearch,
#if LOOKUP_JSON
	&lookup_json,
#endif
#if LOOKUP_LMDB
	&lookup_lmdb,
#endif
	&lookup_lsearch,
	&lookup_nwildlsearch,
	&lookup_passwd,
#if LOOKUP_PGSQL
	&lookup_pgsql,
#endif
#if LOOKUP_REDIS
	&lookup_redis,
#endif
#if LOOKUP_SQLITE
	&lookup_sqlite,
#endif
	&lookup_wildlsearch,
	NULL,
};
