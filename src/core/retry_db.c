/* Retry records in the "retry" hints database: reading, the "is it due" check the delivery
 * process makes before trying a host or address, and applying the retry items a delivery attempt
 * produced (src/core/retry.h). The rules and the computation are in retry.c.
 */
#include "core/retry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/hintsdb.h"
#include "core/spool.h"
#include "lib/log.h"

/* The read-only environment kept between retry_reads_begin and retry_reads_end. */
static struct {
	bool on;
	pid_t pid;                    /* the process that opened db (never used after a fork) */
	hintsdb *db;
	bool absent;                  /* no database in spool: not looked for again in the session */
	char spool[1024];
} reads;

void retry_reads_begin(void)
{
	retry_reads_end();
	reads.on = true;
	reads.pid = getpid();
}

void retry_reads_end(void)
{
	if (reads.db && reads.pid == getpid())
		hintsdb_close(reads.db);
	reads.db = NULL;
	reads.absent = false;
	reads.on = false;
}

static hintsdb *open_for_read(const char *spool_directory, xbuf *err, bool *keep)
{
	*keep = reads.on && reads.pid == getpid() && strlen(spool_directory) < sizeof reads.spool;
	if (*keep && (reads.db || reads.absent) && strcmp(reads.spool, spool_directory) == 0)
		return reads.db;
	if (*keep && reads.db) {
		hintsdb_close(reads.db);
		reads.db = NULL;
	}
	reads.absent = false;
	if (*keep) {
		/* No database (nothing has failed yet): not looked for again in this session. One
		 * that cannot be opened is tried again at the next read. */
		char path[sizeof reads.spool + 32];
		struct stat st;
		snprintf(path, sizeof path, "%s/db/retry.lmdb", spool_directory);
		snprintf(reads.spool, sizeof reads.spool, "%s", spool_directory);
		if (stat(path, &st) != 0 && errno == ENOENT) {
			reads.absent = true;
			return NULL;
		}
	}
	hintsdb *db = hintsdb_open(spool_directory, "retry", true, err);
	if (*keep)
		reads.db = db;
	return db;
}

int retry_read(const char *spool_directory, sv key, retry_record *out, arena *a)
{
	xbuf err, val;
	xbuf_init(&err, a);
	xbuf_init(&val, a);
	bool keep;
	hintsdb *db = open_for_read(spool_directory, &err, &keep);
	if (!db)
		return 0;  /* no database yet: nothing has failed */
	int rc = hintsdb_get(db, key, &val);
	if (rc < 0)
		log_write(LOG_MAIN, "retry database read failed for " SV_FMT ": %s", SV_ARG(key), hintsdb_error(db));
	if (!keep)
		hintsdb_close(db);
	if (rc != 1)
		return rc < 0 ? -1 : 0;
	memset(out, 0, sizeof *out);
	if (!retry_record_decode(xbuf_sv(&val), out, a)) {
		log_write(LOG_MAIN, "retry record for " SV_FMT " has an unknown layout: ignored", SV_ARG(key));
		return -1;
	}
	return 1;
}

/* A record is ignored once it has not been written for retry_data_expire. */
static bool stale(const retry_record *r, time_t now)
{
	time_t written = r->written ? r->written : r->last_try;
	return conf_main.retry_data_expire > 0 && now - written > conf_main.retry_data_expire;
}

retry_due retry_check(const char *spool_directory, sv key, time_t now, bool forced,
	retry_record *rec_out, arena *a)
{
	retry_record r;
	if (rec_out)
		memset(rec_out, 0, sizeof *rec_out);
	if (retry_read(spool_directory, key, &r, a) != 1 || stale(&r, now))
		return RETRY_DUE;
	if (rec_out)
		*rec_out = r;
	if (forced || now >= r.next_try)
		return RETRY_DUE;
	return r.expired ? RETRY_TIMED_OUT : RETRY_NOT_DUE;
}

/* What to match the rules against for one retry item: a host item's host name (found among the
 * address's hosts by the key's "T:<name>:<ip>" prefix, since names and IPv6 addresses contain
 * colons), else the address or domain the key names. */
static sv rule_subject(const address_item *addr, const addr_retry *r)
{
	sv body = sv_sub(r->key, 2, r->key.len);
	if (r->is_host) {
		for (const route_host *h = addr->hosts; h; h = h->next) {
			size_t n = h->name.len;
			if (body.len > n + h->address.len && memcmp(body.p, h->name.p, n) == 0 && body.p[n] == ':' &&
				memcmp(body.p + n + 1, h->address.p, h->address.len) == 0)
				return h->name;
		}
		const char *colon = memchr(body.p, ':', body.len);
		return colon ? sv_sub(body, 0, (size_t)(colon - body.p)) : body;
	}
	/* a pipe or file item: the rules see the address it came from */
	if (addr->kind != ADDR_MAIL && addr->parent)
		return addr->parent->address;
	/* "lp@domain:<sender>" -> "lp@domain" */
	const char *angle = memchr(body.p, '<', body.len);
	if (angle && angle > body.p && angle[-1] == ':')
		return sv_sub(body, 0, (size_t)(angle - body.p) - 1);
	return body;
}

/* Errors that belong to the message rather than the host: their failure clock starts at the
 * message's arrival when that is earlier (Exim's "Deliveries that work intermittently"). */
static bool message_error(const addr_retry *r, const char *message_id)
{
	if (r->basic_errno == -45 || r->basic_errno == -46 || r->basic_errno == RETRY_ERRNO_QUOTA)
		return true;
	size_t n = message_id ? strlen(message_id) : 0;
	return n && r->key.len > n && memcmp(r->key.p + r->key.len - n, message_id, n) == 0;
}

typedef struct update_ctx {
	const conf_retry_rule *rule;
	const addr_retry *item;
	time_t clock_start, now;
	retry_record result;
	bool have_result;
	bool skip;           /* message older than the final cutoff: time out, leave the record */
	time_t received;
} update_ctx;

static bool apply_item(void *vctx, sv old, bool found, xbuf *out, bool *remove)
{
	update_ctx *u = vctx;
	(void)remove;
	arena *a = arena_new("retry-update");
	retry_record prev;
	memset(&prev, 0, sizeof prev);
	bool have = found && retry_record_decode(old, &prev, a) && !stale(&prev, u->now);
	retry_record r;
	memset(&r, 0, sizeof r);
	time_t start = have ? prev.first_failed : u->now;
	if (u->clock_start > 0 && u->clock_start < start)
		start = u->clock_start;
	const conf_retry_rule *rule = u->rule;
	/* A message that has been waiting longer than the rule's final cutoff is timed out without
	 * computing a new time, so other messages for the destination are not held up. */
	if (u->received > 0 && rule->nitems &&
		u->now - u->received > rule->items[rule->nitems - 1].cutoff) {
		u->skip = true;
		arena_free(a);
		return false;
	}
	retry_compute(rule, have ? &prev : NULL, start, u->now, conf_main.retry_interval_max, &r);
	r.basic_errno = u->item->basic_errno;
	r.more_errno = u->item->more_errno;
	r.text = u->item->text;
	r.written = u->now;
	retry_record_encode(&r, out);
	r.text = SV_NULL;
	u->result = r;
	u->have_result = true;
	arena_free(a);
	return true;
}

/* True when every retry item of addrs only removes a record and none of those records exists:
 * then there is nothing to write. Checked in one read-only open, because a read-write open of
 * the database (its writer lock, which every concurrent delivery takes in turn, and its
 * buffers) for deletions that find nothing was what every successful remote delivery did. A
 * record written after this check is as if written just after the deletions. */
static bool only_absent_removals(const char *spool_directory, const address_item *addrs)
{
	bool any = false;
	for (const address_item *addr = addrs; addr; addr = addr->next)
		for (const addr_retry *r = addr->retries; r; r = r->next) {
			if (!r->remove)
				return false;
			any = true;
		}
	if (!any)
		return true;
	xbuf err, val;
	xbuf_init(&err, NULL);
	xbuf_init(&val, NULL);
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/db/retry.lmdb", spool_directory);
	if (stat(path, &st) != 0 && errno == ENOENT)
		return true;  /* no database: nothing to remove */
	hintsdb *db = hintsdb_open(spool_directory, "retry", true, &err);
	bool absent = db != NULL;  /* one that cannot be read: do the removals */
	if (db) {
		for (const address_item *addr = addrs; addr && absent; addr = addr->next)
			for (const addr_retry *r = addr->retries; r && absent; r = r->next) {
				xbuf_reset(&val);
				absent = hintsdb_get(db, r->key, &val) == 0;  /* an error: do the removals */
			}
		hintsdb_close(db);
	}
	xbuf_free(&err);
	xbuf_free(&val);
	return absent;
}

time_t retry_update(const char *spool_directory, address_item *addrs, const char *message_id,
	sv sender, time_t now)
{
	if (only_absent_removals(spool_directory, addrs))
		return 0;
	hintsdb *db = NULL;
	time_t earliest = 0;
	time_t received = 0;
	int frac;
	if (message_id && !spool_id_time(sv_cstr(message_id), &received, &frac))
		received = 0;
	for (address_item *addr = addrs; addr; addr = addr->next) {
		if (!addr->retries)
			continue;
		if (!db) {
			xbuf err;
			xbuf_init(&err, NULL);
			db = hintsdb_open(spool_directory, "retry", false, &err);
			if (!db) {
				log_write(LOG_MAIN | LOG_PANIC, "Failed to open retry database: %s", xbuf_cstr(&err));
				xbuf_free(&err);
				return 0;
			}
			xbuf_free(&err);
		}
		int host_items = 0, host_expired = 0;
		bool timedout = false;
		for (addr_retry *r = addr->retries; r; r = r->next) {
			if (r->remove) {
				hintsdb_delete(db, r->key);
				continue;
			}
			sv subject = rule_subject(addr, r);
			sv domain = addr->domain.len ? addr->domain
				: addr->kind != ADDR_MAIL && addr->parent && addr->parent->domain.len ? addr->parent->domain : SV_NULL;
			const conf_retry_rule *rule = retry_find_rule(subject, domain, r->basic_errno, r->more_errno, sender);
			if (r->is_host)
				host_items++;
			if (!rule || !rule->nitems) {
				/* No retrying for this error: it is final. */
				hintsdb_delete(db, r->key);
				if (r->is_host)
					host_expired++;
				else
					timedout = true;
				continue;
			}
			bool msg_err = message_error(r, message_id);
			update_ctx u = { .rule = rule, .item = r, .now = now, .received = received,
				.clock_start = msg_err ? received : 0 };
			if (!hintsdb_update(db, r->key, apply_item, &u) && !u.skip)
				log_write(LOG_MAIN | LOG_PANIC, "retry database update failed for " SV_FMT ": %s",
					SV_ARG(r->key), hintsdb_error(db));
			bool expired = u.skip || (u.have_result && u.result.expired);
			if (r->is_host)
				host_expired += expired;
			else
				timedout = timedout || expired;
			if (u.have_result && (!earliest || u.result.next_try < earliest))
				earliest = u.result.next_try;
		}
		if (timedout || (host_items && host_expired == host_items))
			addr->retry_timedout = true;
	}
	if (db)
		hintsdb_close(db);
	return earliest;
}
