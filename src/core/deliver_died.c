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
 * whatever the child journaled, after running this program again to write the retry records
 * Exim writes for the batch ("T:<address> -1 0 unknown error", next try by the retry rules, so a
 * queue run before then logs "Retry time not yet reached"). */
#include "core/deliver_died.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <signal.h>
#include <stdlib.h>

#include "core/queue.h"
#include "core/retry.h"
#include "core/spool.h"
#include "lib/initial_cwd.h"
#include "lib/log.h"
#include "lib/proc_argv.h"
#include "lib/logsel.h"
#include "lib/timefmt.h"

static char *dup_cstr(const char *s)
{
	return s ? arena_strdup(pool_msg, s) : NULL;
}

/* This process's command line, read once (the process title may change it later). */
static char **own_argv(void)
{
	static char **argv;
	static bool tried;
	if (!tried) {
		tried = true;
		argv = proc_self_argv();
	}
	return argv;
}

/* DDIED_RETRY_ENV=<id>\n<sender>\n then <key>\n<address>\n per address that keeps a local
 * retry record; NULL when there is none or a field cannot be carried on one line. */
static const char *retry_env(const dctx *d, const dbatch *b)
{
	if (d->dont_deliver)
		return NULL;
	xbuf e;
	xbuf_init(&e, pool_msg);
	xbuf_printf(&e, "%s=%s\n", DDIED_RETRY_ENV, d->m->id);
	xbuf_putsv(&e, d->m->sender);
	xbuf_putc(&e, '\n');
	size_t n = 0;
	for (const address_item *a = b->addrs; a; a = a->next) {
		sv key = dlocal_retry_key(a);
		if (!key.len)
			continue;
		sv addr = a->kind == ADDR_MAIL || !a->parent ? a->address : a->parent->address;
		if (memchr(key.p, '\n', key.len) || memchr(addr.p, '\n', addr.len) || memchr(key.p, 0, key.len))
			return NULL;
		xbuf_putsv(&e, key);
		xbuf_putc(&e, '\n');
		xbuf_putsv(&e, addr);
		xbuf_putc(&e, '\n');
		n++;
	}
	return n && e.len < 65536 ? xbuf_cstr(&e) : NULL;
}

/* DDIED_RETRY_ENV=freeze\n<id>\n<queue name or nothing>\n: a remote batch's child died; the new
 * image freezes the message, as Exim does then (observed: "Frozen" after the "==" line). */
static const char *freeze_env(const dctx *d)
{
	if (d->dont_deliver)
		return NULL;
	const char *q = d->sc->queue_name ? d->sc->queue_name : "";
	if (strchr(q, '\n'))
		return NULL;
	xbuf e;
	xbuf_init(&e, pool_msg);
	xbuf_printf(&e, "%s=freeze\n%s\n%s\n", DDIED_RETRY_ENV, d->m->id, q);
	return xbuf_cstr(&e);
}

void ddied_prepare(ddied *p, const dctx *d, const dbatch *b, bool local_retry)
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
	p->retry_env = local_retry ? retry_env(d, b) : freeze_env(d);
	p->remote = !local_retry;
	p->argv = p->retry_env ? own_argv() : NULL;
	p->cwd = initial_cwd();
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
	if (p->remote && p->n) {
		line what = { .n = 0 };
		put(&what, ": got 0 of 7 bytes (pipeheader) from transport process ");
		put_num(&what, (unsigned long)p->child, 1);
		put(&what, " for transport ");
		put(&what, p->driver);
		put(&what, "\n"); /* Exim's text ends in a newline: an empty line follows (observed) */
		what.b[what.n] = 0;
		/* One for each address of the batch (observed with 4.96: four recipients sent in two
		 * max_rcpt transactions, all four get the line, then all four their "==" line). */
		for (size_t i = 0; i < p->n; i++)
			log_line(p, true, "Delivery status for ", p->addr[i], what.b);
	}
	for (size_t i = 0; i < p->n && !p->remote; i++)
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
	if (!p->remote)
		log_line(p, true, p->driver, why.b, NULL);
	/* The remote form puts the status after the "==" line's address: ": smtp transport ...". */
	line tail = { .n = 0 };
	if (p->remote) {
		put(&tail, ": ");
		put(&tail, p->driver);
		put(&tail, why.b);
	}
	tail.b[tail.n] = 0;
	for (size_t i = 0; i < p->n; i++) {
		log_line(p, false, "== ", p->defer[i], tail.b);
		line m = { .n = 0 };
		put_stamp(&m, p, false);
		put(&m, " ");
		put(&m, p->defer[i]);
		put(&m, tail.b);
		put(&m, "\n");
		append_to(p->msglog_path, &m);
	}
}

void ddied_exec_retry(const ddied *p)
{
	if (!p->retry_env || !p->argv || !p->argv[0])
		return;
	/* The environment with the items added, on the stack (no heap from here on). */
	extern char **environ;
	char *envp[512];
	size_t k = 0;
	for (char **e = environ; e && *e && k < sizeof envp / sizeof envp[0] - 2; e++)
		if (strncmp(*e, DDIED_RETRY_ENV "=", sizeof DDIED_RETRY_ENV) != 0)
			envp[k++] = *e;
	envp[k++] = (char *)p->retry_env;
	envp[k] = NULL;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (p->cwd && p->cwd[0] && chdir(p->cwd) != 0) { /* relative paths may then fail: no record */ }
	execve("/proc/self/exe", p->argv, envp);
}

/* In the new image: freeze the message whose remote child died (under its lock, which the exec
 * released; a process that took the message meanwhile decides instead), as -Mf does, with the
 * log line a delivery writes for it. */
static int freeze_main(char *text)
{
	char *id = text, *nl = strchr(id, '\n');
	if (!nl)
		return DELIVER_EXIT_TRANSPORT_DIED;
	*nl = 0;
	char *queue = nl + 1, *end = strchr(queue, '\n');
	if (end)
		*end = 0;
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_msg);
	if (!spool_valid_id(sv_cstr(id)) || !spool_config_from_main(&sc, &err))
		return DELIVER_EXIT_TRANSPORT_DIED;
	sc.queue_name = *queue ? queue : NULL;
	log_set_id(id);
	int fd = spool_open_locked(&sc, id, &err);
	if (fd < 0)
		return DELIVER_EXIT_TRANSPORT_DIED;
	message m;
	msg_origin origin;
	if (spool_read_header(pool_msg, &sc, id, &m, &origin, &err)) {
		m.origin = &origin;
		spool_read_journal(pool_msg, &sc, id, &m);
		m.frozen = time(NULL);
		if (spool_rewrite_header(&sc, &m, &err)) {
			log_write(LOG_MAIN, "Frozen");
			spool_msglog(&sc, id, "*** Frozen");
			queue_schedule_note(&sc, id, 0, true);
		} else {
			log_write(LOG_MAIN | LOG_PANIC, "failed to update the spool header: %s", xbuf_cstr(&err));
		}
	}
	close(fd);
	return DELIVER_EXIT_TRANSPORT_DIED;
}

int ddied_retry_main(void)
{
	const char *env = getenv(DDIED_RETRY_ENV);
	char *text = env ? arena_strdup(pool_msg, env) : NULL;
	unsetenv(DDIED_RETRY_ENV);
	if (text && strncmp(text, "freeze\n", 7) == 0)
		return freeze_main(text + 7);
	char *save = NULL;
	char *id = text ? strtok_r(text, "\n", &save) : NULL;
	/* The sender line may be empty (<>): strtok_r would skip it, so split by hand. */
	if (!id || !spool_valid_id(sv_cstr(id)))
		return DELIVER_EXIT_TRANSPORT_DIED;
	char *rest = id + strlen(id) + 1;
	char *nl = strchr(rest, '\n');
	if (!nl)
		return DELIVER_EXIT_TRANSPORT_DIED;
	*nl = 0;
	sv sender = sv_copy(pool_msg, sv_cstr(rest));
	address_item *list = NULL, **tail = &list;
	for (char *q = nl + 1; *q;) {
		char *e1 = strchr(q, '\n');
		char *e2 = e1 ? strchr(e1 + 1, '\n') : NULL;
		if (!e2)
			break;
		*e1 = *e2 = 0;
		address_item *a = route_new_address(pool_msg, sv_copy(pool_msg, sv_cstr(e1 + 1)));
		addr_retry *r = arena_calloc(pool_msg, 1, sizeof *r);
		r->key = sv_copy(pool_msg, sv_cstr(q));
		r->basic_errno = ADDR_ERRNO_UNKNOWN;
		r->more_errno = 0;
		r->text = SV_LIT("unknown error");
		a->retries = r;
		a->result = ADDR_DEFER;
		*tail = a;
		tail = &a->next;
		q = e2 + 1;
	}
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_msg);
	if (list && spool_config_from_main(&sc, &err)) {
		log_set_id(id);
		(void)retry_update(sc.directory, list, id, sender, time(NULL));
	}
	return DELIVER_EXIT_TRANSPORT_DIED;
}
