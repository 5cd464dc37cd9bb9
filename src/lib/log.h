/* Exim's main, reject and panic logs.
 *
 * Line layout (checked against Exim 4.96):
 *     2026-11-21 07:08:24.047 +0000 [15448] 1xUfFb-00041A-08 <text>
 * the ".047" only with log_selector millisec, " +0000" only with log_timezone, "[pid] " only with
 * log_selector pid, the id only while log_set_id has one (and not for LOG_NOID). Text is written as given (callers escape untrusted parts with printing.h);
 * a text with newlines (reject log header dumps) is written as several physical lines.
 *
 * Destinations come from log_file_path (already expanded by the caller): a colon list, no "<c"
 * separator change, of at most two items. "syslog" means syslog; an empty item means the default
 * "<spool_directory>/log/%slog"; any other item is a path with one "%s" (main/reject/panic) and
 * optionally one "%D" (yyyymmdd) or "%M" (yyyymm) datestamp. Datestamped names are recomputed at
 * each write, so logs switch files at midnight. The panic log is never datestamped: %D/%M are
 * removed with one adjacent non-alphanumeric character (the following one right after a '/',
 * otherwise the preceding one), e.g. "/var/log/exim-%s-%D.log" -> "/var/log/exim-panic.log".
 *
 * Panic-log lines are also written to the main log (after the panic log, and after being shown
 * on stderr when echo is LOG_ECHO_PANIC). A log that cannot be opened or written ends the
 * process with status 1, as in Exim 4.96: for the main or reject log, "Cannot open main log
 * file "<name>": Permission denied: euid=N egid=N" is shown on stderr and written, after the
 * line that was lost, to the panic log; when the panic log cannot be used either, stderr gets
 * the lost line, the panic line and "exim: could not open panic log - aborting: see message(s)
 * above", and syslog (LOG_CRIT) the panic line. docs/logging.md has the details. Files are opened O_APPEND|O_CREAT|O_NOFOLLOW with mode 0640;
 * a missing final directory is created (0750). The program installs an opener (log_set_opener)
 * that, in a root process, gives the files and directories it creates to the exim user
 * (core/log_open_exim.h). Before each write the open file is checked against
 * the name (stat: gone or a different inode) so renamed (rotated) logs are reopened.
 *
 * Syslog: facility LOG_MAIL unless syslog_facility; ident "exim" unless syslog_processname;
 * priorities main LOG_INFO, reject LOG_NOTICE, panic LOG_ALERT. syslog_timestamp false drops the
 * timestamp; syslog_pid false drops the "[pid] " of log_selector pid (syslog adds its own pid:
 * openlog uses LOG_PID, Exim's default build); syslog_duplication false writes a line that goes to
 * several logs only once (reject wins over main, panic over both). Entries longer than 870
 * characters or containing newlines are sent as several syslog calls, each prefixed "[n/m] " -
 * '\' instead of '/' when that piece ended at a newline.
 *
 * Not thread-safe (Exim is single-threaded per process).
 */
#ifndef POSTERN_LIB_LOG_H
#define POSTERN_LIB_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/time.h>

#include "lib/logsel.h"
#include "lib/str.h"

enum {
	LOG_MAIN = 1u << 0,
	LOG_REJECT = 1u << 1,
	LOG_PANIC = 1u << 2,
	LOG_DIE = 1u << 3,  /* exit(1) after writing (Exim's PANIC_DIE) */
	LOG_NOID = 1u << 4, /* do not prefix the current id (configuration errors) */
	LOG_TRY = 1u << 5,  /* a main log that cannot be used skips the line and carries on (a
	                     * start-up note written before the mode has made its directories) */
};

/* The id that prefixes every line while it is set (Exim writes the current message id after
 * the timestamp and pid: "2026-11-21 07:16:27 [123] 1xUfKl-0003zx-0f <= a@b.c ..."). NULL or ""
 * clears it. Copied (at most 63 bytes). */
void log_set_id(const char *id);

/* How log writes are shown on stderr as well. */
enum log_echo {
	LOG_ECHO_NONE,   /* daemons and background deliveries */
	LOG_ECHO_PANIC,  /* default: panic lines are also written to stderr as they are in the file */
	LOG_ECHO_TAGGED, /* every write shown as "LOG: MAIN PANIC DIE\n  <text>" (-bP, -bV, -be) */
};

typedef struct log_config {
	const char *file_path;          /* expanded log_file_path; NULL or "" = default path */
	const char *spool_directory;    /* for the default path */
	logsel selector;
	bool timezone;                  /* log_timezone */
	bool write_rejectlog;
	const char *syslog_facility;    /* NULL or "" = mail */
	const char *syslog_processname; /* NULL = "exim" */
	bool syslog_timestamp, syslog_pid, syslog_duplication;
	enum log_echo echo;
	/* Clock for timestamps; NULL = gettimeofday. Tests inject a fixed time. */
	void (*now)(struct timeval *tv);
} log_config;

/* Exim's defaults: default path, default selectors, reject log on, syslog options true,
 * LOG_ECHO_PANIC. */
void log_config_default(log_config *c);

/* Check and install a configuration (closing open logs). On error returns false and err gets
 * Exim's wording, e.g.
 *   log_file_path "/tmp/x" does not contain "%s"
 *   log_file_path "/tmp/%s%slog" contains unexpected "%" character
 *   failed to interpret syslog_facility "bogus"
 *   syslog_processname is longer than 32 chars: aborting
 * More than one file path is not an error: the first is used and a panic line
 * "More than one path given in log_file_path: using <path>" is written (as Exim does). */
bool log_configure(const log_config *c, xbuf *err);
const log_config *log_current_config(void);

void log_write(unsigned which, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vwrite(unsigned which, const char *fmt, va_list ap);
/* Close every open log file (and syslog) so the next write reopens by name. */
void log_reopen(void);

/* The file name a log would be written to now ("" when that log goes only to syslog).
 * which is one of LOG_MAIN, LOG_REJECT, LOG_PANIC. */
void log_file_name(unsigned which, xbuf *out);
/* The pieces a syslog entry is sent as, one per line of out: the text itself when it is short
 * and has no newline, else "[n/m] piece" parts (exposed for tests). */
void log_syslog_split(sv text, xbuf *out);
/* The text a log line is sent to syslog as (before splitting), per the syslog_* settings. */
void log_syslog_text(const struct timeval *tv, const char *text, xbuf *out);
/* The timestamp prefix for a line at tv, as the configuration wants it (no trailing space). */
void log_format_stamp(const struct timeval *tv, xbuf *out);
/* Open the main log file now (when it goes to a file), so a process about to give up its
 * privileges keeps writing to it, as Exim opens it before a delivery's uid change. */
void log_open_main(void);

/* Open (creating if needed, mode 0640, and its directory 0750 when only that is missing) one log
 * file for appending, as the calling process: a descriptor, or -1 with errno. */
int log_open_path(const char *name);
/* How log files are opened from now on (NULL = log_open_path). The program installs the core's
 * log_open_as_exim so that a root process opens and creates logs as the exim user, as Exim
 * does: log files and directories then belong to the exim user and group. */
void log_set_opener(int (*opener)(const char *name));

/* Called once before the process exits for a LOG_DIE line (log_failure false) or because a
 * log could not be used (true); NULL removes it. An SMTP session installs one that answers
 * "421 Unexpected failure, please try later" or "421 Unexpected log failure, please try later"
 * and closes the session down as Exim does. */
void log_set_die_hook(void (*hook)(bool log_failure));
/* From now on every line goes to stderr only, once, in the file layout; no file or syslog is
 * opened. Exim does this in a process that is not really Exim's: a caller other than root and
 * the exim user with an untrusted -C or -D (core/priv_trust.h). Survives log_configure. */
void log_set_stderr_only(void);

/* Work to undo when the process ends that way, run before the die hook: a message whose arrival
 * line cannot be logged is removed (core/receive_log.c). NULL removes it. */
void log_set_undo_hook(void (*undo)(void *arg), void *arg);

/* Many main-log lines at once (a queue run logging a line for each of 100,000 skipped messages):
 * between begin and end, lines that go only to the main log file are collected and written
 * together (at end, and every 64 KB), each with the time it was logged. Lines for other logs,
 * syslog or stderr are written at once as usual. */
void log_batch_begin(void);
void log_batch_flush(void);
void log_batch_end(void);

#endif
