/* Server lists shared by the networked query-style lookups (redis, pgsql): the main option
 * (redis_servers, pgsql_servers) or the lookup's ",servers=" option, whose items without a '/'
 * name an entry of the main option. The caller tries the servers in order. */
#ifndef POSTERN_DRIVERS_LOOKUPS_SQL_SERVERS_H
#define POSTERN_DRIVERS_LOOKUPS_SQL_SERVERS_H

#include <stdbool.h>

#include "lib/str.h"

/* The value of opt=... in a comma-separated option string, or SV_NULL. */
sv lookup_opt_value(const char *opts, const char *name);

/* Resolve server item (from the servers= option or the main list) into its full form, or
 * false + err when a short name matches no main-list entry. */
bool lookup_server_resolve(sv item, const char *main_list, xbuf *full, xbuf *err);

/* One "name=value " field of a multi-column SQL result: the value is double-quoted when empty or
 * containing white space (with \ and " escaped); NULL shows as <NULL>. */
void lookup_put_field(xbuf *out, const char *name, const char *val);

/* The old "servers=a:b; query" prefix form: split it off (servers set to SV_NULL if absent). */
sv lookup_query_servers_prefix(sv query, sv *servers);

#endif
