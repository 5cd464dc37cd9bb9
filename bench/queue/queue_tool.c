/* bench/queue helper: builds a large queue with the spool API and times the parts of a queue run.
 *
 *   queue_tool gen <spool> <n>            n messages (Exim 4.96 -H/-D files, ids 1 s apart in
 *                                         the past; written without fsync: a benchmark spool)
 *   queue_tool note <spool> <secs> <k> [lines]  index every message due in <secs>, every k-th due now
 *                                          (lines: with the line a run logs for a skipped message)
 *                                         (k = 0: none due)
 *   queue_tool index <spool>              time selecting the due messages through the index
 *   queue_tool scan <spool>               time what a scanning runner must at least do: list
 *                                         input/ and read every -H to learn its state
 * Times are printed as "<what> <count> <milliseconds>".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/queue.h"
#include "core/queue_internal.h"
#include "core/spool.h"
#include "lib/arena.h"

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int write_file(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	return close(fd);
}

static int gen(const spool_config *sc, long n)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/input", sc->directory);
	for (char *p = dir + 1; *p; p++) /* mkdir -p */
		if (*p == '/') {
			*p = 0;
			mkdir(dir, 0750);
			*p = '/';
		}
	mkdir(dir, 0750);
	time_t base = time(NULL) - n - 60;
	static const char body[] = "A benchmark message.\n";
	for (long i = 0; i < n; i++) {
		arena_mark mk = arena_getmark(pool_msg);
		message *m = message_new(pool_msg);
		spool_format_message_id(m->id, base + i, 0, 1000 + (i % 50000), -1);
		m->received_time = base + i;
		m->sender = sv_cstr("sender@bench.example");
		char *rcpt = arena_printf(pool_msg, "user%ld@bench.example", i);
		message_add_recipient(m, sv_cstr(rcpt));
		char *hdr = arena_printf(pool_msg, "Subject: message %ld\n", i);
		message_add_header(m, ' ', sv_cstr(hdr));
		m->body_linecount = 1;
		m->deliver_firsttime = true;
		xbuf h;
		xbuf_init(&h, NULL);
		spool_format_header(m, &h);
		char path[4300], data[256];
		snprintf(path, sizeof path, "%s/%s-D", dir, m->id);
		int dl = snprintf(data, sizeof data, "%s-D\n%s", m->id, body);
		if (write_file(path, data, (size_t)dl) != 0)
			return 1;
		snprintf(path, sizeof path, "%s/%s-H", dir, m->id);
		if (write_file(path, h.p, h.len) != 0)
			return 1;
		xbuf_free(&h);
		arena_reset(pool_msg, mk);
	}
	printf("gen %ld\n", n);
	return 0;
}

/* with_lines: each not-due message also carries the line a plain run logs for it while it
 * waits (its router deferred it: Exim's "routing defer (-52): retry time not reached"). */
static int note(const spool_config *sc, long secs, long k, bool with_lines)
{
	char (*ids)[MSG_ID_LEN + 1] = NULL;
	xbuf err;
	xbuf_init(&err, NULL);
	size_t n = spool_list_ids_ordered(pool_perm, sc, true, &ids, &err);
	/* Build (or reconcile) first, then move every message to its due time. */
	hintsdb *db = queue_index_open_valid(sc, time(NULL));
	if (!db) {
		fprintf(stderr, "no index\n");
		return 1;
	}
	time_t due = time(NULL) + secs;
	long now_due = 0;
	for (size_t i = 0; i < n; i++) {
		bool now = k > 0 && i % (size_t)k == 0;
		char line[200] = "";
		if (with_lines && !now) {
			/* gen's recipient of message i, as the message's -H names it */
			message m;
			msg_origin origin;
			xbuf e;
			xbuf_init(&e, pool_msg);
			arena_mark mk = arena_getmark(pool_msg);
			if (spool_read_header(pool_msg, sc, ids[i], &m, &origin, &e) && m.nrcpt)
				snprintf(line, sizeof line, "== %.*s routing defer (-52): retry time not reached\n",
					(int)m.rcpt[0].address.len, m.rcpt[0].address.p);
			arena_reset(pool_msg, mk);
		}
		queue_index_note(db, ids[i], now ? 0 : due, false, sv_cstr(line));
		now_due += now;
	}
	hintsdb_close(db);
	printf("note %zu due-now %ld\n", n, now_due);
	return 0;
}

static int index_time(const spool_config *sc)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	hintsdb *db = queue_index_open_valid(sc, time(NULL));
	queue_list l = { 0 };
	if (!db || !queue_index_due(db, time(NULL), &l))
		return 1;
	hintsdb_close(db);
	printf("index %zu %.2f\n", l.n, ms_since(&t0));
	queue_list_free(&l);
	return 0;
}

static int scan_time(const spool_config *sc)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char (*ids)[MSG_ID_LEN + 1] = NULL;
	xbuf err;
	xbuf_init(&err, NULL);
	size_t n = spool_list_ids_ordered(pool_perm, sc, false, &ids, &err);
	size_t read = 0;
	for (size_t i = 0; i < n; i++) {
		arena_mark mk = arena_getmark(pool_msg);
		message m;
		msg_origin o;
		xbuf e;
		xbuf_init(&e, pool_msg);
		read += spool_read_header(pool_msg, sc, ids[i], &m, &o, &e);
		arena_reset(pool_msg, mk);
	}
	printf("scan %zu %.2f\n", read, ms_since(&t0));
	return 0;
}

int main(int argc, char **argv)
{
	arena_init_pools();
	if (argc < 3) {
		fprintf(stderr, "usage: queue_tool gen|note|index|scan <spool> ...\n");
		return 2;
	}
	spool_config sc = { .directory = argv[2], .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	if (!strcmp(argv[1], "gen") && argc == 4)
		return gen(&sc, atol(argv[3]));
	if (!strcmp(argv[1], "note") && (argc == 5 || (argc == 6 && !strcmp(argv[5], "lines"))))
		return note(&sc, atol(argv[3]), atol(argv[4]), argc == 6);
	if (!strcmp(argv[1], "index"))
		return index_time(&sc);
	if (!strcmp(argv[1], "scan"))
		return scan_time(&sc);
	fprintf(stderr, "usage: queue_tool gen|note|index|scan <spool> ...\n");
	return 2;
}
