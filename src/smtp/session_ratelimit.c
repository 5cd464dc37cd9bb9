/* The older, per-connection rate limit (Exim's smtp_ratelimit_hosts, smtp_ratelimit_mail,
 * smtp_ratelimit_rcpt): for a client in smtp_ratelimit_hosts, each MAIL after the first
 * <threshold> of the connection, and each RCPT after the first <threshold> of a message, is
 * delayed before it is handled; the delay starts at <initial>, is multiplied by <factor> each
 * time and is capped at <max>. The RCPT delay starts again with each message. Values as
 * observed with Exim 4.96 ("1,0.3s,2,1s": MAIL 2 waits 0.3s, MAIL 3 0.6s, then 1s each). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "conf/main_options.h"
#include "smtp/session_int.h"

/* A time with an optional fraction and unit (s, m, h, d, w): "0.5s", "4m", "2". */
static bool parse_time(const char *p, const char *end, double *out)
{
	char *stop;
	double v = strtod(p, &stop);
	if (stop == p || v < 0) return false;
	double unit = 1;
	if (stop < end) {
		switch (*stop++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 604800; break;
		default: return false;
		}
	}
	while (stop < end && (*stop == ' ' || *stop == '\t')) stop++;
	if (stop != end) return false;
	*out = v * unit;
	return true;
}

/* "threshold,initial,factor,max" */
static bool parse_limit(const char *text, sess_rlimit *rl)
{
	if (!text || !*text) return false;
	const char *f[4], *e[4];
	const char *p = text;
	for (int i = 0; i < 4; i++) {
		while (*p == ' ' || *p == '\t') p++;
		f[i] = p;
		while (*p && *p != ',') p++;
		e[i] = p;
		if (i < 3) {
			if (*p != ',') return false;
			p++;
		}
	}
	if (*p) return false;
	char *stop;
	long threshold = strtol(f[0], &stop, 10);
	double factor = strtod(f[2], NULL);
	if (stop == f[0] || threshold < 0 || factor <= 0) return false;
	if (!parse_time(f[1], e[1], &rl->initial) || !parse_time(f[3], e[3], &rl->max)) return false;
	rl->threshold = threshold;
	rl->factor = factor;
	rl->next = rl->initial;
	rl->count = 0;
	rl->on = true;
	return true;
}

void sess_ratelimit_start(smtp_session *s)
{
	s->rl_mail.on = s->rl_rcpt.on = false;
	if (!conf_main.smtp_ratelimit_hosts || !sess_host_in(s, conf_main.smtp_ratelimit_hosts)) return;
	parse_limit(conf_main.smtp_ratelimit_mail, &s->rl_mail);
	parse_limit(conf_main.smtp_ratelimit_rcpt, &s->rl_rcpt);
}

static void wait_for(smtp_session *s, sess_rlimit *rl)
{
	if (!rl->on || ++rl->count <= rl->threshold) return;
	double d = rl->next < rl->max ? rl->next : rl->max;
	rl->next = rl->next * rl->factor;
	if (rl->next > rl->max) rl->next = rl->max;
	sess_flush(s);   /* replies already due go out before the wait */
	struct timespec ts = { .tv_sec = (time_t)d, .tv_nsec = (long)((d - (double)(time_t)d) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

void sess_ratelimit_mail(smtp_session *s)
{
	wait_for(s, &s->rl_mail);
	/* the RCPT limit counts per message */
	s->rl_rcpt.count = 0;
	s->rl_rcpt.next = s->rl_rcpt.initial;
}

void sess_ratelimit_rcpt(smtp_session *s)
{
	wait_for(s, &s->rl_rcpt);
}
