/* Record layouts of Postern's hints databases, printed the way Exim 4.96's exim_dumpdb and
 * exim_fixdb print the same records (prog/hints.c uses these). Values that do not decode as the
 * database's layout are printed as escaped text, never trusted. */
#ifndef POSTERN_PROG_HINTS_FORMAT_H
#define POSTERN_PROG_HINTS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/wait_records.h"
#include "lib/str.h"

/* Print times in UTC (-z) instead of local time. */
void hints_time_utc(bool utc);
/* "21-Nov-2026 11:48:12" */
void hints_put_time(xbuf *out, time_t t);
/* Bytes as text, with non-printing ones escaped (keys and texts come from remote servers). */
void hints_put_printable(xbuf *out, sv v);
/* One record as exim_dumpdb prints it (ends in a newline). */
void hints_format_record(const char *db, sv key, sv value, xbuf *out);
/* One record as exim_fixdb shows it: its time stamp line, then numbered fields. */
void hints_format_fields(const char *db, sv value, xbuf *out);
/* exim_fixdb "<field> <value>": the changed record in out, or the problem's text. */
const char *hints_modify_field(const char *db, sv value, int field, const char *text, time_t now, xbuf *out);
/* When the record was last written (0: unknown, never "too old"). */
time_t hints_record_time(const char *db, sv value);
/* The message id at the end of a message-specific retry key (empty: none). */
sv hints_key_message_id(sv key);
/* A wait-<transport> record decoded (core/wait_records.h); valid until the next call. */
wait_record *hints_wait_decode(sv value);

/* The callout database (hints_callout.c): Exim's key for a stored key, and Exim's dump line
 * (false: not a callout record Postern wrote). */
sv hints_callout_key(sv key);
bool hints_callout_format(sv key, sv value, xbuf *out);

#endif
