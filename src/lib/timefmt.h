/* Time of day in Exim's formats, and Exim's time intervals ("1w2d3h4m5s").
 *
 * Local time follows the TZ environment variable, which Exim sets from its `timezone` option
 * (tod_set_timezone). Names of days and months are always English, whatever the locale.
 *
 *   TOD_BSDINBOX  Sat Nov 21 07:08:24 2026         TOD_LOG      2026-11-21 07:08:24
 *   TOD_EPOCH     1795245058                       TOD_LOGFILE  20261121
 *   TOD_EPOCH_L   1795245058564320 (microseconds)  TOD_ZONE     +0000
 *   TOD_FULL      Sat, 21 Nov 2026 07:08:24 +0000  TOD_ZULU     20261121070824Z (always UTC)
 *   TOD_LOGMONTH  202611 (the %M datestamp of log file names)
 */
#ifndef POSTERN_LIB_TIMEFMT_H
#define POSTERN_LIB_TIMEFMT_H

#include <stdbool.h>
#include <time.h>

#include "lib/str.h"

typedef enum tod_format {
	TOD_BSDINBOX, TOD_EPOCH, TOD_EPOCH_L, TOD_FULL, TOD_LOG, TOD_LOGFILE, TOD_LOGMONTH, TOD_ZONE,
	TOD_ZULU,
} tod_format;

/* Append time t (usec 0..999999, used by TOD_EPOCH_L) in format f. */
void tod_format_time(tod_format f, time_t t, long usec, xbuf *out);
/* The local offset from UTC at time t, in seconds east (e.g. -12600 for -0330). */
long tod_utc_offset(time_t t);
/* Append "+hhmm"/"-hhmm" for an offset in seconds east of UTC. */
void tod_format_zone(long offset, xbuf *out);

/* Apply the `timezone` option as Exim does: NULL leaves TZ alone (option unset), "" removes TZ
 * from the environment, anything else sets TZ to it. Calls tzset(). */
void tod_set_timezone(const char *tz);

/* Parse an Exim time interval: one or more <digits><unit> with unit w, d, h, m or s (a bare number
 * is not a time); the total must fit an int. false on anything else (the config reader words the
 * error: "invalid time value for <option>"). */
bool interval_parse(sv text, int *seconds);
/* Append seconds as readconf prints them for -bP: largest units first, zero units omitted,
 * "0s" for zero (90060 -> "1d1h1m"). A negative value is printed with a leading '-'. */
void interval_format(long long seconds, xbuf *out);

#endif
