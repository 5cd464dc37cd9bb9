/* The queue schedule index (core/queue_index.c): noting, forgetting and the due walk; frozen
 * messages; reconciliation with a spool listing; and the rebuild of a missing index from the
 * spool directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/queue.h"
#include "core/queue_internal.h"
#include "lib/arena.h"
#include "unit.h"

static char spool_dir[] = "/tmp/postern-qindex-test-XXXXXX";

static spool_config config(void)
{
	spool_config sc = { .directory = spool_dir, .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	return sc;
}

/* An id received at time t (pid p). */
static void make_id(char out[MSG_ID_LEN + 1], time_t t, long p)
{
	spool_format_message_id(out, t, 0, p, -1);
}

static bool listed(const queue_list *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], id) == 0)
			return true;
	return false;
}

static queue_list due_at(const spool_config *sc, time_t t)
{
	queue_list l = { 0 };
	char name[300];
	xbuf err;
	xbuf_init(&err, NULL);
	hintsdb *db = hintsdb_open_ex(sc->directory, queue_index_name(sc, name, sizeof name), true, true, &err);
	CHECK(db != NULL);
	if (db) {
		CHECK(queue_index_due(db, t, &l));
		hintsdb_close(db);
	}
	xbuf_free(&err);
	return l;
}

static void test_note_due_forget(void)
{
	spool_config sc = config();
	time_t now = time(NULL);
	char a[MSG_ID_LEN + 1], b[MSG_ID_LEN + 1], c[MSG_ID_LEN + 1];
	make_id(a, now - 100, 1);
	make_id(b, now - 90, 2);
	make_id(c, now - 80, 3);
	queue_schedule_note(&sc, a, 0, false);
	queue_schedule_note(&sc, b, now + 100, false);
	queue_schedule_note(&sc, c, now + 200, false);
	queue_list l = due_at(&sc, now);
	CHECK_INT(l.n, 1);
	CHECK(listed(&l, a));
	queue_list_free(&l);
	l = due_at(&sc, now + 150);
	CHECK_INT(l.n, 2);
	CHECK(l.n == 2 && strcmp(l.v[0], a) == 0 && strcmp(l.v[1], b) == 0); /* due order */
	queue_list_free(&l);
	/* A later note moves the message: its old time no longer lists it. */
	queue_schedule_note(&sc, a, now + 300, false);
	l = due_at(&sc, now + 150);
	CHECK_INT(l.n, 1);
	CHECK(listed(&l, b) && !listed(&l, a));
	queue_list_free(&l);
	queue_schedule_forget(&sc, b);
	l = due_at(&sc, now + 250);
	CHECK_INT(l.n, 1);
	CHECK(listed(&l, c));
	queue_list_free(&l);
	/* Frozen with nothing to wake it: never due; thawed (noted due now): due again. */
	queue_schedule_note(&sc, c, 0, true);
	l = due_at(&sc, now + 1000000);
	CHECK(!listed(&l, c) && listed(&l, a));
	queue_list_free(&l);
	queue_schedule_note(&sc, c, 0, false);
	l = due_at(&sc, now);
	CHECK(listed(&l, c));
	queue_list_free(&l);
	queue_schedule_forget(&sc, a);
	queue_schedule_forget(&sc, c);
	l = due_at(&sc, now + 1000000);
	CHECK_INT(l.n, 0);
	queue_list_free(&l);
	/* Malformed ids are never noted. */
	queue_schedule_note(&sc, "../../etc/passwd", 0, false);
	l = due_at(&sc, now + 1000000);
	CHECK_INT(l.n, 0);
	queue_list_free(&l);
}

static void test_reconcile(void)
{
	spool_config sc = config();
	time_t now = time(NULL);
	char kept[MSG_ID_LEN + 1], gone[MSG_ID_LEN + 1], added[MSG_ID_LEN + 1], young[MSG_ID_LEN + 1];
	make_id(kept, now - 500, 11);
	make_id(gone, now - 400, 12);
	make_id(added, now - 300, 13);
	make_id(young, now + 5, 14); /* arrived after the listing was taken */
	queue_schedule_note(&sc, kept, now + 500, false);
	queue_schedule_note(&sc, gone, 0, false);
	queue_schedule_note(&sc, young, 0, false);
	char name[300];
	xbuf err;
	xbuf_init(&err, NULL);
	hintsdb *db = hintsdb_open_ex(sc.directory, queue_index_name(&sc, name, sizeof name), false, true, &err);
	CHECK(db != NULL);
	char ids[2][MSG_ID_LEN + 1];
	memcpy(ids[0], added, sizeof ids[0]);
	memcpy(ids[1], kept, sizeof ids[1]);
	CHECK(queue_index_reconcile(db, ids, 2, now));
	uint64_t due = 0;
	bool frozen = true;
	CHECK_INT(queue_index_lookup(db, kept, &due, &frozen), 1);
	CHECK_INT((long long)due, (long long)now + 500); /* its due time survives */
	CHECK(!frozen);
	CHECK_INT(queue_index_lookup(db, added, &due, &frozen), 1);
	CHECK_INT((long long)due, 0);
	CHECK_INT(queue_index_lookup(db, gone, &due, &frozen), 0);
	CHECK_INT(queue_index_lookup(db, young, &due, &frozen), 1);
	hintsdb_close(db);
	xbuf_free(&err);
	queue_list l = due_at(&sc, now);
	CHECK_INT(l.n, 2);
	CHECK(listed(&l, added) && listed(&l, young) && !listed(&l, gone));
	queue_list_free(&l);
}

/* A missing index is rebuilt from the spool's input directory: every message due at once. */
static void test_rebuild_from_spool(void)
{
	spool_config sc = config();
	char path[512];
	snprintf(path, sizeof path, "%s/db/%s.lmdb", spool_dir, queue_index_name(&sc, (char[300]){ 0 }, 300));
	unlink(path);
	snprintf(path + strlen(path), 16, "-lock");
	unlink(path);
	snprintf(path, sizeof path, "%s/input", spool_dir);
	mkdir(path, 0750);
	time_t now = time(NULL);
	char ids[3][MSG_ID_LEN + 1];
	for (int i = 0; i < 3; i++) {
		make_id(ids[i], now - 1000 + i, 100 + i);
		for (int k = 0; k < 2; k++) {
			char f[600];
			snprintf(f, sizeof f, "%s/input/%s-%c", spool_dir, ids[i], k ? 'H' : 'D');
			FILE *fp = fopen(f, "w");
			CHECK(fp != NULL);
			if (fp)
				fclose(fp);
		}
	}
	hintsdb *db = queue_index_open_valid(&sc, now);
	CHECK(db != NULL);
	if (db) {
		queue_list l = { 0 };
		CHECK(queue_index_due(db, now, &l));
		CHECK_INT(l.n, 3);
		for (int i = 0; i < 3; i++)
			CHECK(listed(&l, ids[i]));
		queue_list_free(&l);
		hintsdb_close(db);
	}
	/* Once built, a later open does not rescan: a message noted later is the only change. */
	queue_schedule_note(&sc, ids[0], now + 100, false);
	db = queue_index_open_valid(&sc, now + 10);
	CHECK(db != NULL);
	if (db) {
		queue_list l = { 0 };
		CHECK(queue_index_due(db, now + 10, &l));
		CHECK_INT(l.n, 2);
		CHECK(!listed(&l, ids[0]));
		queue_list_free(&l);
		hintsdb_close(db);
	}
	/* After the reconciliation interval the spool is read again: a message that vanished from
	 * the spool leaves the index. */
	char f[600];
	snprintf(f, sizeof f, "%s/input/%s-H", spool_dir, ids[1]);
	unlink(f);
	snprintf(f, sizeof f, "%s/input/%s-D", spool_dir, ids[1]);
	unlink(f);
	db = queue_index_open_valid(&sc, now + QUEUE_INDEX_RECONCILE_SECS + 10);
	CHECK(db != NULL);
	if (db) {
		queue_list l = { 0 };
		CHECK(queue_index_due(db, now + QUEUE_INDEX_RECONCILE_SECS + 10, &l));
		CHECK_INT(l.n, 2);
		CHECK(listed(&l, ids[0]) && listed(&l, ids[2]) && !listed(&l, ids[1]));
		queue_list_free(&l);
		hintsdb_close(db);
	}
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(spool_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_note_due_forget);
	RUN(test_reconcile);
	RUN(test_rebuild_from_spool);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", spool_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return unit_report("test_queue_index");
}
