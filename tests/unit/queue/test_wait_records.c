/* The chained wait-<transport> records (core/wait_records.c), against a real hints database:
 * the layout Exim 4.96 showed for 62 messages queued for one host (50 ids in "<host>:0", the rest
 * in "<host>" with sequence 1), newest-first taking, and the continuation pulled back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hintsdb.h"
#include "core/wait_records.h"
#include "lib/arena.h"
#include "unit.h"

static char spool_dir[] = "/tmp/test_wait_records.XXXXXX";
static hintsdb *db;

static const char *id_of(int i)
{
	static char ids[200][17];
	snprintf(ids[i], sizeof ids[i], "1xUwno-%06d-2J", i);
	return ids[i];
}

static wait_record *get(const char *key)
{
	static wait_record r;
	static xbuf v;
	xbuf_init(&v, pool_scratch);
	if (hintsdb_get(db, sv_cstr(key), &v) != 1)
		return NULL;
	wait_record_decode(xbuf_sv(&v), &r);
	return &r;
}

static bool all_usable(void *ctx, sv id)
{
	(void)ctx;
	(void)id;
	return true;
}

/* Ids whose number is odd are no longer on the spool. */
static bool even_usable(void *ctx, sv id)
{
	(void)ctx;
	return (id.p[12] - '0') % 2 == 0;
}

static void test_codec(void)
{
	wait_record r;
	wait_record_decode(sv_cstr("@100 +3 a b"), &r);
	CHECK_INT(r.stamp, 100);
	CHECK_INT(r.sequence, 3);
	CHECK_INT(r.n, 2);
	xbuf out;
	xbuf_init(&out, pool_scratch);
	wait_record_encode(&r, &out);
	CHECK_STR(xbuf_cstr(&out), "@100 +3 a b");
	/* Metadata only leads: a later "+1" is no id either (dropped). */
	wait_record_decode(sv_cstr("a +1 @5 b"), &r);
	CHECK_INT(r.sequence, 0);
	CHECK_INT(r.stamp, 0);
	CHECK_INT(r.n, 2);
	size_t hl;
	CHECK(wait_record_is_cont_key(sv_cstr("127.0.0.1:12"), &hl));
	CHECK_INT(hl, 9);
	CHECK(!wait_record_is_cont_key(sv_cstr("127.0.0.1"), &hl));
	CHECK(!wait_record_is_cont_key(sv_cstr("::1"), &hl) || hl == 1);
	CHECK(!wait_record_is_cont_key(sv_cstr("h:"), &hl));
}

static void test_chain(void)
{
	sv host = sv_cstr("127.0.0.1");
	int chains = 0, chained_at = -1;
	for (int i = 0; i < 62; i++) {
		bool chained = false;
		CHECK(wait_record_add(db, host, sv_cstr(id_of(i)), 1000 + i, &chained));
		if (chained)
			chains++, chained_at = i;
	}
	/* The 51st id starts the continuation (what queue_fast_ramp reacts to), once. */
	CHECK_INT(chains, 1);
	CHECK_INT(chained_at, 50);
	CHECK(wait_record_add(db, host, sv_cstr(id_of(3)), 2000, NULL)); /* in the continuation: no change */
	CHECK(wait_record_add(db, host, sv_cstr(id_of(61)), 2000, NULL));
	wait_record *m = get("127.0.0.1");
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK_INT(m->n, 12);
	CHECK_INT(m->sequence, 1);
	CHECK(sv_eq_cstr(m->ids[0], id_of(50)));
	wait_record *c = get("127.0.0.1:0");
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_INT(c->n, 50);
	CHECK_INT(c->sequence, 0);
	CHECK(sv_eq_cstr(c->ids[0], id_of(0)));
	CHECK(sv_eq_cstr(c->ids[49], id_of(49)));

	/* Newest first; the current message stays. */
	char next[17];
	CHECK(wait_record_take(db, host, sv_cstr(id_of(61)), all_usable, NULL, next));
	CHECK_STR(next, id_of(60));
	/* Use up the main record (61 stays as the current one, ids 50..59 remain). */
	for (int i = 59; i >= 50; i--) {
		CHECK(wait_record_take(db, host, sv_cstr(id_of(61)), all_usable, NULL, next));
		CHECK_STR(next, id_of(i));
	}
	/* Then the continuation comes back into the main record. */
	CHECK(wait_record_take(db, host, sv_cstr(id_of(61)), even_usable, NULL, next));
	CHECK_STR(next, id_of(48));
	CHECK(get("127.0.0.1:0") == NULL);
	m = get("127.0.0.1");
	CHECK(m && m->sequence == 0);
	CHECK(m && m->n == 48 + 1); /* 0..47, 61 (49 was dropped, 48 taken) */
	CHECK(m && sv_eq_cstr(m->ids[48], id_of(61)));
	/* Everything else taken: the record goes. */
	int taken = 0;
	while (wait_record_take(db, host, SV_NULL, all_usable, NULL, next) && taken < 100)
		taken++;
	CHECK_INT(taken, 49);
	CHECK(get("127.0.0.1") == NULL);
}

/* A continuation number left behind (a crash, a tidy) is never overwritten: the next free
 * number is used; a missing one is skipped when taking. */
static void test_gaps(void)
{
	sv host = sv_cstr("h.example");
	CHECK(hintsdb_put(db, sv_cstr("h.example:0"), sv_cstr("+0 1xUwno-000190-2J")));
	for (int i = 100; i < 151; i++)
		CHECK(wait_record_add(db, host, sv_cstr(id_of(i)), 5000, NULL));
	wait_record *m = get("h.example");
	CHECK(m && m->sequence == 2 && m->n == 1);
	CHECK(get("h.example:1") && get("h.example:1")->n == 50);
	CHECK(get("h.example:0") && get("h.example:0")->n == 1);
	char next[17];
	CHECK(wait_record_take(db, host, SV_NULL, all_usable, NULL, next));
	CHECK_STR(next, id_of(150));
	CHECK(wait_record_take(db, host, SV_NULL, all_usable, NULL, next));
	CHECK_STR(next, id_of(149));
	CHECK(get("h.example:1") == NULL);
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(spool_dir)) {
		perror("mkdtemp");
		return 1;
	}
	xbuf err;
	xbuf_init(&err, pool_scratch);
	db = hintsdb_open(spool_dir, "wait-remote_smtp", false, &err);
	if (!db) {
		fprintf(stderr, "open: %s\n", xbuf_cstr(&err));
		return 1;
	}
	RUN(test_codec);
	RUN(test_chain);
	RUN(test_gaps);
	hintsdb_close(db);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf %s", spool_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", spool_dir);
	return unit_report("test_wait_records");
}
