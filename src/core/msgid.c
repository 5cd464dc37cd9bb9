/* Message ids in Exim 4.96's form (core/spool.h): TTTTTT-PPPPPP-SS, base 62 (0-9A-Za-z), from the
 * time in seconds, the process id, and the sub-second part of the time in units of 5 ms
 * (0..199); with localhost_number N set, the last part is N*200 plus those units, so hosts
 * sharing a spool never collide. (Observed from Debian's 4.96: received_time_usec .416358 gave
 * "1L" = 83 = 416358/5000, and localhost_number 7 with .617706 gave "OZ" = 1523 = 7*200+123.)
 *
 * A process never hands out the same id twice. Exim 4.96 waits for the next 5 ms unit when the
 * clock has not moved on since its last id, which caps one process (one SMTP connection) at 200
 * messages a second. Postern instead writes pid + n * 2^22 in the middle part for the n-th
 * further id of the same unit: pids are below 2^22 (the kernel's PID_MAX_LIMIT), so such a value
 * is nobody's pid and cannot meet another process's id, Exim's included; 62^6 leaves room for
 * 13,000 ids per unit, after which it waits as Exim does. Nothing reads the pid back out of an id
 * (Exim neither). Ids of different processes differ by pid; a pid reused within the same 5 ms is
 * caught by the exclusive create of the -D file (spool_begin_new_id tries again).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/spool.h"
#include "expand/expand.h"

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define ID_RESOLUTION_USEC 5000
#define ID_PID_STEP (1ULL << 22)                          /* above every pid (PID_MAX_LIMIT) */
#define ID_PID_LIMIT (62ULL * 62 * 62 * 62 * 62 * 62)     /* what six base-62 digits hold */

static void put62(char *out, unsigned long long v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		out[i] = base62[v % 62];
		v /= 62;
	}
}

/* localhost_number (expanded, 0..16) or -1 when unset or unusable; computed once. */
static int localhost_number(void)
{
	static int cached = -2;
	if (cached != -2)
		return cached;
	cached = -1;
	if (conf_main.localhost_number) {
		xp_env env;
		xp_env_init(&env, pool_scratch);
		arena_mark mk = arena_getmark(pool_scratch);
		xbuf out, err;
		xbuf_init(&out, pool_scratch);
		xbuf_init(&err, pool_scratch);
		long long n;
		if (xp_expand(&env, sv_cstr(conf_main.localhost_number), &out, &err) == XP_OK &&
			sv_to_long(sv_trim(xbuf_sv(&out)), &n) && n >= 0 && n <= 16)
			cached = (int)n;
		xp_env_release(&env);
		arena_reset(pool_scratch, mk);
	}
	return cached;
}

void spool_format_message_id(char out[MSG_ID_LEN + 1], time_t sec, long usec, long pid, int lhn)
{
	unsigned long long frac = (unsigned long long)usec / ID_RESOLUTION_USEC;
	if (lhn >= 0)
		frac += (unsigned long long)lhn * (1000000 / ID_RESOLUTION_USEC);
	put62(out, (unsigned long long)sec, 6);
	out[6] = '-';
	put62(out + 7, (unsigned long long)pid, 6);
	out[13] = '-';
	put62(out + 14, frac, 2);
	out[MSG_ID_LEN] = 0;
}

void spool_new_message_id_time(char out[MSG_ID_LEN + 1], struct timeval *when)
{
	static time_t last_sec;
	static long last_unit = -1;
	static pid_t last_pid;
	static unsigned long long seq; /* further ids handed out in (last_sec, last_unit) */
	struct timeval tv;
	gettimeofday(&tv, NULL);
	pid_t pid = getpid();
	if (pid != last_pid) { /* a forked child starts its own sequence */
		last_pid = pid;
		last_unit = -1;
	}
	bool same = tv.tv_sec == last_sec && tv.tv_usec / ID_RESOLUTION_USEC == last_unit;
	if (same && (seq + 1) * ID_PID_STEP + (unsigned long long)pid < ID_PID_LIMIT) {
		seq++;
	} else {
		while (tv.tv_sec == last_sec && tv.tv_usec / ID_RESOLUTION_USEC == last_unit) {
			long wait = ID_RESOLUTION_USEC - tv.tv_usec % ID_RESOLUTION_USEC;
			struct timespec ts = { 0, wait * 1000 };
			nanosleep(&ts, NULL);
			gettimeofday(&tv, NULL);
		}
		seq = 0;
	}
	last_sec = tv.tv_sec;
	last_unit = tv.tv_usec / ID_RESOLUTION_USEC;
	spool_format_message_id(out, tv.tv_sec, tv.tv_usec, (long)((unsigned long long)pid + seq * ID_PID_STEP),
		localhost_number());
	if (when)
		*when = tv;
}

void spool_new_message_id(char out[MSG_ID_LEN + 1])
{
	spool_new_message_id_time(out, NULL);
}

static bool is62(char c)
{
	return c && strchr(base62, c) != NULL;
}

bool spool_valid_id(sv s)
{
	if (s.len != MSG_ID_LEN || s.p[6] != '-' || s.p[13] != '-')
		return false;
	for (size_t i = 0; i < MSG_ID_LEN; i++)
		if (i != 6 && i != 13 && !is62(s.p[i]))
			return false;
	return true;
}

bool spool_id_time(sv id, time_t *sec, int *frac)
{
	if (!spool_valid_id(id))
		return false;
	unsigned long long t = 0, f = 0;
	for (int i = 0; i < 6; i++)
		t = t * 62 + (unsigned long long)(strchr(base62, id.p[i]) - base62);
	for (int i = 14; i < 16; i++)
		f = f * 62 + (unsigned long long)(strchr(base62, id.p[i]) - base62);
	*sec = (time_t)t;
	*frac = (int)f;
	return true;
}
