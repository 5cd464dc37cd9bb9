/* Exim's main/reject/panic logs; see log.h for the observable behaviour. */
#include "lib/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "lib/fdio.h"
#include "lib/list.h"
#include "lib/timefmt.h"

#define DEFAULT_SPOOL "/var/spool/exim"
#define SYSLOG_PIECE_MAX 870 /* data characters per syslog call, so lines stay within 1024 */
#define PROCESSNAME_MAX 32

enum { K_MAIN, K_REJECT, K_PANIC, K_COUNT };
static const char *const kind_names[K_COUNT] = { "main", "reject", "panic" };
static const int kind_priority[K_COUNT] = { LOG_INFO, LOG_NOTICE, LOG_ALERT };

typedef struct open_log {
	int fd;          /* -1 when closed */
	char *name;      /* malloc'd name it was opened under */
	dev_t dev;
	ino_t ino;
} open_log;

static struct {
	bool configured;
	bool defaulted;       /* configured only by ensure_configured: no program set logging up */
	log_config cfg;       /* strings point into the malloc'd copies below */
	char *file_path, *spool, *processname;
	char *template;       /* file name template with %s (and %D/%M), NULL = no files */
	bool to_syslog;
	int facility;
	bool syslog_open;
	open_log files[K_COUNT];
	int depth;            /* nesting of log_vwrite (a failure report logs again) */
	bool extra_paths;     /* log_file_path named more than one file path: say so once */
	xbuf *batch;          /* log_batch_begin: main-log-only lines collected here */
} st = { .files = { { -1, NULL, 0, 0 }, { -1, NULL, 0, 0 }, { -1, NULL, 0, 0 } } };

static char current_id[64];

void log_set_id(const char *id)
{
	snprintf(current_id, sizeof current_id, "%s", id ? id : "");
}

void log_config_default(log_config *c)
{
	memset(c, 0, sizeof *c);
	c->selector = logsel_default();
	c->write_rejectlog = true;
	c->syslog_timestamp = c->syslog_pid = c->syslog_duplication = true;
	c->echo = LOG_ECHO_PANIC;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int facility_code(const char *name, bool *ok)
{
	static const struct { const char *name; int code; } table[] = {
		{ "mail", LOG_MAIL }, { "user", LOG_USER }, { "news", LOG_NEWS }, { "uucp", LOG_UUCP },
		{ "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
		{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	};
	*ok = true;
	if (name == NULL || *name == 0)
		return LOG_MAIL;
	if (strncasecmp(name, "log_", 4) == 0)
		name += 4;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcasecmp(name, table[i].name) == 0)
			return table[i].code;
	*ok = false;
	return LOG_MAIL;
}

/* A file path item must hold exactly one %s and at most one %D or %M; nothing else after '%'. */
static bool check_template(const char *item, xbuf *err)
{
	if (!strstr(item, "%s")) {
		xbuf_printf(err, "log_file_path \"%s\" does not contain \"%%s\"", item);
		return false;
	}
	int seen_s = 0, seen_date = 0;
	for (const char *p = item; *p; p++) {
		if (*p != '%')
			continue;
		char c = p[1];
		bool ok = (c == 's' && !seen_s++) || ((c == 'D' || c == 'M') && !seen_date++);
		if (!ok) {
			xbuf_printf(err, "log_file_path \"%s\" contains unexpected \"%%\" character", item);
			return false;
		}
		p++;
	}
	return true;
}

static char *default_template(const char *spool)
{
	if (!spool || !*spool)
		spool = DEFAULT_SPOOL;
	size_t n = strlen(spool) + sizeof "/log/%slog";
	char *t = malloc(n);
	if (t)
		snprintf(t, n, "%s/log/%%slog", spool);
	return t;
}

static void close_files(void)
{
	for (int k = 0; k < K_COUNT; k++) {
		if (st.files[k].fd >= 0)
			close(st.files[k].fd);
		free(st.files[k].name);
		st.files[k] = (open_log){ -1, NULL, 0, 0 };
	}
	if (st.syslog_open) {
		closelog();
		st.syslog_open = false;
	}
}

void log_reopen(void)
{
	close_files();
}

bool log_configure(const log_config *c, xbuf *err)
{
	xbuf e;
	xbuf_init(&e, NULL);
	bool fac_ok;
	int facility = facility_code(c->syslog_facility, &fac_ok);
	if (!fac_ok) {
		xbuf_printf(&e, "failed to interpret syslog_facility \"%s\"", c->syslog_facility);
		goto fail;
	}
	if (c->syslog_processname && strlen(c->syslog_processname) > PROCESSNAME_MAX) {
		xbuf_printf(&e, "syslog_processname is longer than %d chars: aborting", PROCESSNAME_MAX);
		goto fail;
	}

	/* Walk the path list: syslog items, and file items (empty = the default path) of which only
	 * the first is used. */
	bool to_syslog = false;
	char *first_file = NULL;
	int files = 0;
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, sv_cstr(c->file_path ? c->file_path : ""), ':');
	while (list_next(&it, &item)) {
		const char *s = xbuf_cstr(&item);
		if (strcmp(s, "syslog") == 0) {
			to_syslog = true;
			continue;
		}
		if (files++)
			continue;
		if (*s == 0) {
			first_file = default_template(c->spool_directory);
		} else if (!check_template(s, &e)) {
			xbuf_free(&item);
			goto fail;
		} else {
			first_file = strdup(s);
		}
	}
	xbuf_free(&item);
	if (files == 0 && !to_syslog) /* log_file_path unset or empty */
		first_file = default_template(c->spool_directory);

	close_files();
	free(st.file_path);
	free(st.spool);
	free(st.processname);
	free(st.template);
	st.cfg = *c;
	st.file_path = dup_or_null(c->file_path);
	st.spool = dup_or_null(c->spool_directory);
	st.processname = dup_or_null(c->syslog_processname);
	st.cfg.file_path = st.file_path;
	st.cfg.spool_directory = st.spool;
	st.cfg.syslog_processname = st.processname;
	st.cfg.syslog_facility = NULL; /* only the code is kept */
	st.template = first_file;
	st.to_syslog = to_syslog;
	st.facility = facility;
	st.configured = true;
	st.defaulted = false;
	xbuf_free(&e);
	st.extra_paths = files > 1; /* reported at the first write, as Exim does when opening logs */
	return true;

fail:
	if (err)
		xbuf_putsv(err, xbuf_sv(&e));
	xbuf_free(&e);
	return false;
}

static void ensure_configured(void)
{
	if (!st.configured) {
		log_config d;
		log_config_default(&d);
		log_configure(&d, NULL);
		st.defaulted = true;
	}
}

const log_config *log_current_config(void)
{
	ensure_configured();
	return &st.cfg;
}

static void get_time(struct timeval *tv)
{
	if (st.cfg.now)
		st.cfg.now(tv);
	else
		gettimeofday(tv, NULL);
}

/* Expand the template for one log at time t (see log.h for the panic-log datestamp rule). */
static void expand_name(int kind, time_t t, xbuf *out)
{
	const char *p = st.template;
	for (; *p; p++) {
		if (p[0] != '%' || (p[1] != 's' && p[1] != 'D' && p[1] != 'M')) {
			xbuf_putc(out, *p);
			continue;
		}
		char c = *++p;
		if (c == 's') {
			xbuf_puts(out, kind_names[kind]);
		} else if (kind != K_PANIC) {
			tod_format_time(c == 'D' ? TOD_LOGFILE : TOD_LOGMONTH, t, 0, out);
		} else if (out->len && out->p[out->len - 1] == '/') {
			if (p[1] && p[1] != '%' && !isalnum((unsigned char)p[1]))
				p++;
		} else if (out->len && !isalnum((unsigned char)out->p[out->len - 1])) {
			xbuf_truncate(out, out->len - 1);
		}
	}
}

static int kind_of(unsigned bit)
{
	return bit == LOG_MAIN ? K_MAIN : bit == LOG_REJECT ? K_REJECT : K_PANIC;
}

void log_file_name(unsigned which, xbuf *out)
{
	ensure_configured();
	if (!st.template)
		return;
	struct timeval tv;
	get_time(&tv);
	expand_name(kind_of(which), tv.tv_sec, out);
}

void log_format_stamp(const struct timeval *tv, xbuf *out)
{
	ensure_configured();
	tod_format_time(TOD_LOG, tv->tv_sec, 0, out);
	if (logsel_has(&st.cfg.selector, LS_MILLISEC))
		xbuf_printf(out, ".%03ld", (long)(tv->tv_usec / 1000));
	if (st.cfg.timezone) {
		xbuf_putc(out, ' ');
		tod_format_zone(tod_utc_offset(tv->tv_sec), out);
	}
}

int log_open_path(const char *name)
{
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(name, flags, 0640);
	if (fd < 0 && errno == ENOENT) {
		/* Create the final directory (the spool's log/ usually) and try once more. */
		const char *slash = strrchr(name, '/');
		if (slash && slash != name) {
			char *dir = strndup(name, (size_t)(slash - name));
			if (dir && mkdir(dir, 0750) == 0)
				fd = open(name, flags, 0640);
			else
				errno = ENOENT;
			free(dir);
		}
	}
	return fd;
}

static int (*log_opener)(const char *name);

void log_set_opener(int (*opener)(const char *name))
{
	log_opener = opener;
}

static int open_log_file(const char *name)
{
	return log_opener ? log_opener(name) : log_open_path(name);
}

/* Make files[kind] an open descriptor for the current name; errno-style reason on failure. */
static bool ready_file(int kind, time_t t, const char **why)
{
	open_log *f = &st.files[kind];
	xbuf name;
	xbuf_init(&name, NULL);
	expand_name(kind, t, &name);
	if (f->fd >= 0) {
		struct stat sb;
		/* Reopened when the name changes or the file was moved away or replaced (rotation).
		 * A stat refused for permission keeps the descriptor: a transport child that dropped
		 * privileges may not see the log directory but writes through what it inherited. */
		int st_rc = f->name ? stat(f->name, &sb) : -1;
		bool same = f->name && strcmp(f->name, xbuf_cstr(&name)) == 0 &&
			(st_rc == 0 ? sb.st_dev == f->dev && sb.st_ino == f->ino : errno == EACCES);
		if (same) {
			xbuf_free(&name);
			return true;
		}
		close(f->fd);
		f->fd = -1;
	}
	free(f->name);
	f->name = strdup(xbuf_cstr(&name));
	xbuf_free(&name);
	f->fd = open_log_file(f->name ? f->name : "");
	if (f->fd < 0) {
		*why = strerror(errno);
		return false;
	}
	struct stat sb;
	if (fstat(f->fd, &sb) == 0) {
		f->dev = sb.st_dev;
		f->ino = sb.st_ino;
	}
	return true;
}

static void open_syslog(void)
{
	if (st.syslog_open)
		return;
	/* syslog adds the process id itself (Exim's SYSLOG_LOG_PID build default); syslog_pid only
	 * controls Exim's own "[pid] " in the text (log_syslog_text). */
	int opts = LOG_PID;
	openlog(st.processname ? st.processname : "exim", opts, st.facility);
	st.syslog_open = true;
}

void log_syslog_split(sv text, xbuf *out)
{
	int total = 0;
	for (size_t i = 0; i < text.len;) {
		size_t n = 0;
		while (i + n < text.len && text.p[i + n] != '\n' && n < SYSLOG_PIECE_MAX)
			n++;
		i += n + (i + n < text.len && text.p[i + n] == '\n');
		total++;
	}
	if (total <= 1) {
		xbuf_putsv(out, text);
		return;
	}
	int num = 0;
	for (size_t i = 0; i < text.len;) {
		size_t n = 0;
		while (i + n < text.len && text.p[i + n] != '\n' && n < SYSLOG_PIECE_MAX)
			n++;
		bool at_newline = i + n < text.len && text.p[i + n] == '\n';
		if (num)
			xbuf_putc(out, '\n');
		xbuf_printf(out, "[%d%c%d] %.*s", ++num, at_newline ? '\\' : '/', total, (int)n, text.p + i);
		i += n + at_newline;
	}
}

/* Send text to syslog as the pieces log_syslog_split makes, one syslog call each. */
static void syslog_pieces(int priority, sv text)
{
	xbuf pieces;
	xbuf_init(&pieces, NULL);
	log_syslog_split(text, &pieces);
	const char *p = xbuf_cstr(&pieces);
	for (;;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		syslog(priority, "%.*s", n, p);
		if (!nl)
			break;
		p = nl + 1;
	}
	xbuf_free(&pieces);
}

/* What a log line becomes on syslog: optional timestamp and "[pid] ", then the text. */
static void syslog_text(const char *stamp, const char *pid, const char *text, xbuf *out)
{
	if (st.cfg.syslog_timestamp)
		xbuf_printf(out, "%s ", stamp);
	if (st.cfg.syslog_pid)
		xbuf_puts(out, pid);
	xbuf_puts(out, text);
}

void log_syslog_text(const struct timeval *tv, const char *text, xbuf *out)
{
	ensure_configured();
	xbuf stamp;
	xbuf_init(&stamp, NULL);
	log_format_stamp(tv, &stamp);
	char pid[32] = "";
	if (logsel_has(&st.cfg.selector, LS_PID))
		snprintf(pid, sizeof pid, "[%ld] ", (long)getpid());
	syslog_text(xbuf_cstr(&stamp), pid, text, out);
	xbuf_free(&stamp);
}

static void flags_words(unsigned which, xbuf *out)
{
	static const struct { unsigned bit; const char *word; } words[] = {
		{ LOG_MAIN, "MAIN" }, { LOG_REJECT, "REJECT" }, { LOG_PANIC, "PANIC" }, { LOG_DIE, "DIE" },
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (!(which & words[i].bit))
			continue;
		if (out->len)
			xbuf_putc(out, ' ');
		xbuf_puts(out, words[i].word);
	}
}

static void (*die_hook)(bool log_failure);

void log_set_die_hook(void (*hook)(bool log_failure))
{
	die_hook = hook;
}

/* log_set_stderr_only: a process that is not really Exim's writes no log file. */
static bool stderr_only;

void log_set_stderr_only(void)
{
	stderr_only = true;
}

static void (*undo_hook)(void *);
static void *undo_arg;

void log_set_undo_hook(void (*undo)(void *arg), void *arg)
{
	undo_hook = undo;
	undo_arg = arg;
}

/* The end of a process after a LOG_DIE line or an unusable log: the undo hook, the die hook (an
 * SMTP session's 421 and closedown) once, then exit status 1, as Exim's. */
static _Noreturn void die(bool log_failure)
{
	void (*undo)(void *) = undo_hook;
	undo_hook = NULL;
	if (undo)
		undo(undo_arg);
	void (*hook)(bool) = die_hook;
	die_hook = NULL;
	if (hook)
		hook(log_failure);
	exit(EXIT_FAILURE);
}

/* The panic log cannot be used while line P goes to it: Exim's last resort. stderr gets the
 * line meant for the main log (M: the same line for a panic line, the line that could not be
 * written for a failed main log) and P, then the reason it stops; P goes to syslog (LOG_CRIT,
 * facility mail, as the Exim manual says); the process ends. */
static _Noreturn void panic_unusable(const xbuf *main_line, const xbuf *p)
{
	fputs(xbuf_cstr(main_line), stderr);
	fputs(xbuf_cstr(p), stderr);
	fputs("exim: could not open panic log - aborting: see message(s) above\n", stderr);
	fflush(stderr);
	openlog("exim", LOG_PID | LOG_CONS, LOG_MAIL);
	syslog(LOG_CRIT, "%s", xbuf_cstr(p));
	closelog();
	st.syslog_open = false;
	die(true);
}

/* The last failed write to an opened log (a full disk): the first write's result and the
 * errno, for Exim's "failed to write to main log: length=N result=R errno=E (text)". written
 * false: the failure was to open the file. */
static struct {
	bool written;
	size_t length;
	ssize_t result;
	int errnum;
} last_failure;

/* Write a line to one log file; false when it cannot be opened or written (last_failure says
 * which). */
static bool write_kind(int kind, time_t t, const xbuf *line)
{
	const char *why = NULL;
	last_failure.written = false;
	if (!ready_file(kind, t, &why))
		return false;
	ssize_t rc;
	do
		rc = write(st.files[kind].fd, line->p, line->len);
	while (rc < 0 && errno == EINTR);
	if (rc == (ssize_t)line->len)
		return true;
	int errnum = errno;
	/* A short write: the rest is tried, so that the reason is the one the disk gives. */
	if (rc >= 0 && !fd_write_all(st.files[kind].fd, line->p + rc, line->len - (size_t)rc))
		errnum = errno;
	else if (rc >= 0)
		return true;
	last_failure.written = true;
	last_failure.length = line->len;
	last_failure.result = rc;
	last_failure.errnum = errnum;
	return false;
}

/* The main or reject log cannot be used for line M: as Exim 4.96, a panic that ends the
 * process. Its text names the file with "Permission denied" whatever the cause (Exim's text
 * for every failure to open a log, observed with a directory, a missing path and a
 * non-directory in the path); a write that fails on an opened file gets Exim's "failed to
 * write" text (observed with a full file system). It is shown on stderr; the panic log gets M
 * and it (else the last resort above). in_panic: the lost line went to the panic log already (a
 * panic line): it is not written there again, as Exim's panic log has it once. */
static _Noreturn void main_unusable(int kind, const xbuf *main_line, const char *stamp, const char *pid,
	bool in_panic)
{
	xbuf p;
	xbuf_init(&p, NULL);
	xbuf_printf(&p, "%s %s", stamp, pid);
	if (current_id[0])
		xbuf_printf(&p, "%s ", current_id);
	if (last_failure.written)
		/* Opened, but the line did not fit (a full disk): Exim 4.96's words for it. */
		xbuf_printf(&p, "failed to write to %s log: length=%zu result=%zd errno=%d (%s)\n", kind_names[kind],
			last_failure.length, last_failure.result, last_failure.errnum, strerror(last_failure.errnum));
	else
		xbuf_printf(&p, "Cannot open %s log file \"%s\": Permission denied: euid=%d egid=%d\n", kind_names[kind],
			st.files[kind].name ? st.files[kind].name : "", (int)geteuid(), (int)getegid());
	fputs(xbuf_cstr(&p), stderr);   /* whatever echo says: this is how the failure is seen */
	fflush(stderr);
	struct timeval tv;
	get_time(&tv);
	if ((!in_panic && !write_kind(K_PANIC, tv.tv_sec, main_line)) || !write_kind(K_PANIC, tv.tv_sec, &p))
		panic_unusable(main_line, &p);
	die(false);
}

void log_vwrite(unsigned which, const char *fmt, va_list ap)
{
	ensure_configured();
	if (st.extra_paths && st.depth == 0) {
		st.extra_paths = false;
		log_write(LOG_MAIN | LOG_PANIC | LOG_NOID, "More than one path given in log_file_path: using %s",
			st.template ? st.template : "");
	}
	st.depth++;
	xbuf text, stamp, line;
	xbuf_init(&text, NULL);
	xbuf_init(&stamp, NULL);
	xbuf_init(&line, NULL);
	xbuf_vprintf(&text, fmt, ap);

	struct timeval tv;
	get_time(&tv);
	log_format_stamp(&tv, &stamp);
	char pid[32] = "";
	if (logsel_has(&st.cfg.selector, LS_PID))
		snprintf(pid, sizeof pid, "[%ld] ", (long)getpid());
	if (current_id[0] && !(which & LOG_NOID)) {
		/* The id goes in front of the text for files and syslog alike. */
		xbuf body;
		xbuf_init(&body, NULL);
		xbuf_printf(&body, "%s %s", current_id, xbuf_cstr(&text));
		xbuf_free(&text);
		text = body;
	}
	xbuf_printf(&line, "%s %s%s\n", xbuf_cstr(&stamp), pid, xbuf_cstr(&text));
	if (stderr_only) {
		fputs(xbuf_cstr(&line), stderr);
		fflush(stderr);
		xbuf_free(&text);
		xbuf_free(&stamp);
		xbuf_free(&line);
		st.depth--;
		if (which & LOG_DIE)
			die(false);
		return;
	}

	if (st.cfg.echo == LOG_ECHO_TAGGED) {
		xbuf w;
		xbuf_init(&w, NULL);
		flags_words(which, &w);
		fprintf(stderr, "LOG: %s\n  %s\n", xbuf_cstr(&w), xbuf_cstr(&text));
		fflush(stderr);
		xbuf_free(&w);
	}

	/* A panic line goes to the main log too only when the caller says so (LOG_MAIN | LOG_PANIC,
	 * as most do): Exim 4.96 writes "logwrite = :panic:" lines and configuration errors to the
	 * panic log alone. */
	unsigned dest = which & (LOG_MAIN | LOG_REJECT | LOG_PANIC);
	if (!st.cfg.write_rejectlog)
		dest &= ~(unsigned)LOG_REJECT;

	if (st.batch && dest == LOG_MAIN && st.template && !st.to_syslog && st.cfg.echo != LOG_ECHO_TAGGED) {
		/* log_batch_begin: written together by log_batch_end (or when 64 KB are collected) */
		xbuf_put(st.batch, line.p, line.len);
		if (st.batch->len >= 65536)
			log_batch_flush();
		dest = 0;
	}
	/* A panic line goes to the panic log first: when that cannot be used, the process ends
	 * without writing the others (Exim 4.96). It is shown on stderr before anything else, but
	 * only once the main (reject) log has it too: when that log cannot be used, stderr gets
	 * only the "Cannot open" line (observed: Exim's lost-privilege line in a process whose
	 * datestamped main log it may not open). */
	bool echo = (which & LOG_PANIC) && st.cfg.echo == LOG_ECHO_PANIC;
	bool echo_later = echo && st.template && !st.defaulted && (dest & (LOG_MAIN | LOG_REJECT));
	if (echo && !echo_later) {
		fputs(xbuf_cstr(&line), stderr);
		fflush(stderr);
	}
	if (st.template && st.defaulted) {
		/* No program set logging up (a test tool, a fuzz target with its file system
		 * sandbox): a log it cannot use is reported on stderr and it carries on; ending the
		 * process is for the MTA's own modes, which configure their logs (as Exim's). */
		for (int kind = K_MAIN; kind < K_COUNT; kind++)
			if ((dest & (1u << kind)) && !write_kind(kind, tv.tv_sec, &line)) {
				fprintf(stderr, "cannot write %s log: %s", kind_names[kind], xbuf_cstr(&line));
				break;
			}
	} else if (st.template) {
		if ((dest & LOG_PANIC) && !write_kind(K_PANIC, tv.tv_sec, &line)) {
			if (echo_later) {
				fputs(xbuf_cstr(&line), stderr);
				fflush(stderr);
			}
			panic_unusable(&line, &line);
		}
		for (int kind = K_MAIN; kind <= K_REJECT; kind++)
			if ((dest & (1u << kind)) && !write_kind(kind, tv.tv_sec, &line) && !(which & LOG_TRY))
				main_unusable(kind, &line, xbuf_cstr(&stamp), pid, (dest & LOG_PANIC) != 0);
		if (echo_later) {
			fputs(xbuf_cstr(&line), stderr);
			fflush(stderr);
		}
	}

	if (st.to_syslog && dest) {
		open_syslog();
		xbuf s;
		xbuf_init(&s, NULL);
		syslog_text(xbuf_cstr(&stamp), pid, xbuf_cstr(&text), &s);
		unsigned sdest = dest;
		if (!st.cfg.syslog_duplication)
			sdest = (dest & LOG_PANIC) ? LOG_PANIC : (dest & LOG_REJECT) ? LOG_REJECT : LOG_MAIN;
		for (int kind = 0; kind < K_COUNT; kind++)
			if (sdest & (1u << kind))
				syslog_pieces(st.facility | kind_priority[kind], xbuf_sv(&s));
		xbuf_free(&s);
	}

	xbuf_free(&text);
	xbuf_free(&stamp);
	xbuf_free(&line);
	st.depth--;
	if (which & LOG_DIE)
		die(false);
}

void log_batch_flush(void)
{
	if (!st.batch || !st.batch->len)
		return;
	struct timeval tv;
	get_time(&tv);
	if (!write_kind(K_MAIN, tv.tv_sec, st.batch)) {
		xbuf stamp;
		xbuf_init(&stamp, NULL);
		log_format_stamp(&tv, &stamp);
		char pid[32] = "";
		if (logsel_has(&st.cfg.selector, LS_PID))
			snprintf(pid, sizeof pid, "[%ld] ", (long)getpid());
		main_unusable(K_MAIN, st.batch, xbuf_cstr(&stamp), pid, false);
	}
	xbuf_reset(st.batch);
}

void log_batch_begin(void)
{
	if (st.batch)
		return;
	st.batch = calloc(1, sizeof *st.batch);
	if (st.batch)
		xbuf_init(st.batch, NULL);
}

void log_batch_end(void)
{
	if (!st.batch)
		return;
	log_batch_flush();
	xbuf_free(st.batch);
	free(st.batch);
	st.batch = NULL;
}

void log_write(unsigned which, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(which, fmt, ap);
	va_end(ap);
}

void log_open_main(void)
{
	const char *why = NULL;
	if (st.template)
		(void)ready_file(K_MAIN, time(NULL), &why);
}
