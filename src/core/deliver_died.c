/* What a delivery process writes when its appendfile child (deliver_inproc.c) dies abnormally.
 *
 * The child shares the delivery process's memory; killed inside malloc or the log module it may
 * leave either half updated, so afterwards the delivery process uses neither. The lines Exim
 * 4.96 writes in this case are prepared before the child starts (addresses, router and
 * transport names, log and msglog paths) and written afterwards with system calls only: the
 * time is formatted here by arithmetic (no localtime: it takes a lock the child may hold).
 * Exim's lines, observed by killing its appendfile transport process:
 *   main and panic log: failed to read delivery status for <addr> from delivery subprocess
 *                       appendfile transport process returned non-zero status 0x0009: terminated by signal 9
 *   main log:           == <addr> R=<router> T=<transport> defer (-1)
 *   msglog:             <addr> R=<router> T=<transport> defer (-1)
 * The delivery process then exits (DELIVER_EXIT_TRANSPORT_DIED) leaving the message queued with
 * whatever the child journaled; the retry rules are not applied to this attempt (no retry
 * record is written): the next attempt is not delayed by it. */
#include "core/deliver_died.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/logsel.h"
#include "lib/timefmt.h"

static char *dup_cstr(const char *s)
{
	return s ? arena_strdup(pool_msg, s) : NULL;
}

void ddied_prepare(ddied *p, const dctx *d, const dbatch *b)
{
	*p = (ddied){ 0 };
	const log_config *lc = log_current_config();
	xbuf x;
	xbuf_init(&x, pool_msg);
	log_file_name(LOG_MAIN, &x);
	p->main_path = x.len ? dup_cstr(xbuf_cstr(&x)) : NULL;
	xbuf_reset(&x);
	log_file_name(LOG_PANIC, &x);
	p->panic_path = x.len ? dup_cstr(xbuf_cstr(&x)) : NULL;
	p->msglog_path = dup_cstr(spool_path(pool_scratch, d->sc, "msglog", d->m->id, ""));
	p->id = dup_cstr(d->m->id);
	p->millisec = lc && logsel_has(&lc->selector, LS_MILLISEC);
	if (lc && logsel_has(&lc->selector, LS_PID)) {
		xbuf_reset(&x);
		xbuf_printf(&x, "[%ld] ", (long)getpid());
		p->pid_tag = dup_cstr(xbuf_cstr(&x));
	}
	time_t now = time(NULL);
	p->gmtoff = tod_utc_offset(now);
	if (lc && lc->timezone) {
		xbuf_reset(&x);
		xbuf_putc(&x, ' ');
		tod_format_zone(p->gmtoff, &x);
		p->zone = dup_cstr(xbuf_cstr(&x));
	}
	p->driver = dup_cstr(b->t->info && b->t->info->name ? b->t->info->name : b->t->name);
	p->n = b->n;
	p->addr = arena_alloc(pool_msg, (b->n ? b->n : 1) * sizeof *p->addr);
	p->defer = arena_alloc(pool_msg, (b->n ? b->n : 1) * sizeof *p->defer);
	size_t i = 0;
	for (const address_item *a = b->addrs; a && i < b->n; a = a->next, i++) {
		/* The "==" text of this address as it will be deferred: no error text, errno -1. */
		address_item copy = *a;
		copy.result = ADDR_DEFER;
		copy.basic_errno = ADDR_ERRNO_UNKNOWN;
		copy.message = SV_NULL;
		xbuf_reset(&x);
		dlog_format_defer(&copy, &x);
		p->defer[i] = dup_cstr(xbuf_cstr(&x));
		xbuf_reset(&x);
		xbuf_putsv(&x, a->address);
		p->addr[i] = dup_cstr(xbuf_cstr(&x));
	}
	p->n = i;
}

/* ---- from here on: no heap, no locks ---- */

typedef struct line {
	char b[8192];
	size_t n;
} line;

static void put(line *l, const char *s)
{
	if (!s)
		return;
	size_t k = strlen(s);
	if (k > sizeof l->b - 1 - l->n)
		k = sizeof l->b - 1 - l->n;
	memcpy(l->b + l->n, s, k);
	l->n += k;
}

static void put_num(line *l, unsigned long v, int width)
{
	char t[24];
	int k = 0;
	do {
		t[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && k < (int)sizeof t);
	while (k < width && k < (int)sizeof t)
		t[k++] = '0';
	char s[25];
	for (int i = 0; i < k; i++)
		s[i] = t[k - 1 - i];
	s[k] = 0;
	put(l, s);
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian). */
static void civil(long days, long *y, unsigned *m, unsigned *d)
{
	days += 719468;
	long era = (days >= 0 ? days : days - 146096) / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long)yoe + era * 400 + (*m <= 2);
}

/* "2026-11-21 19:01:06" (local time at the offset found before the child started), then the
 * milliseconds and zone when the log configuration asks for them. */
static void put_stamp(line *l, const ddied *p, bool log_extras)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	long t = (long)tv.tv_sec + p->gmtoff;
	long days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	long secs = t - days * 86400;
	long y;
	unsigned mo, d;
	civil(days, &y, &mo, &d);
	put_num(l, (unsigned long)y, 4);
	put(l, "-");
	put_num(l, mo, 2);
	put(l, "-");
	put_num(l, d, 2);
	put(l, " ");
	put_num(l, (unsigned long)(secs / 3600), 2);
	put(l, ":");
	put_num(l, (unsigned long)(secs / 60 % 60), 2);
	put(l, ":");
	put_num(l, (unsigned long)(secs % 60), 2);
	if (log_extras && p->millisec) {
		put(l, ".");
		put_num(l, (unsigned long)(tv.tv_usec / 1000), 3);
	}
	if (log_extras)
		put(l, p->zone);
}

static void append_to(const char *path, const line *l)
{
	if (!path)
		return;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return;
	if (write(fd, l->b, l->n) != (ssize_t)l->n) { /* nothing more can be done */ }
	close(fd);
}

/* One log line "<stamp> [pid] <id> <text1><text2>\n" to the main log, and to the panic log. */
static void log_line(const ddied *p, bool panic, const char *t1, const char *t2, const char *t3)
{
	line l = { .n = 0 };
	put_stamp(&l, p, true);
	put(&l, " ");
	put(&l, p->pid_tag);
	put(&l, p->id);
	put(&l, " ");
	put(&l, t1);
	put(&l, t2);
	put(&l, t3);
	put(&l, "\n");
	append_to(p->main_path, &l);
	if (panic)
		append_to(p->panic_path, &l);
}

void ddied_write(const ddied *p, int status)
{
	for (size_t i = 0; i < p->n; i++)
		log_line(p, true, "failed to read delivery status for ", p->addr[i], " from delivery subprocess");
	static const char hex[] = "0123456789abcdef";
	unsigned s = (unsigned)status & 0xffff;
	char code[7] = { '0', 'x', hex[s >> 12 & 15], hex[s >> 8 & 15], hex[s >> 4 & 15], hex[s & 15], 0 };
	line why = { .n = 0 };
	put(&why, " transport process returned non-zero status ");
	put(&why, code);
	put(&why, WIFSIGNALED(status) ? ": terminated by signal " : ": exit code ");
	put_num(&why, (unsigned long)(WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status)), 1);
	why.b[why.n] = 0;
	log_line(p, true, p->driver, why.b, NULL);
	for (size_t i = 0; i < p->n; i++) {
		log_line(p, false, "== ", p->defer[i], NULL);
		line m = { .n = 0 };
		put_stamp(&m, p, false);
		put(&m, " ");
		put(&m, p->defer[i]);
		put(&m, "\n");
		append_to(p->msglog_path, &m);
	}
}
