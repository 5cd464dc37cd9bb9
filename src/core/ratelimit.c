/* The ratelimit ACL condition: "ratelimit = m / p / options / key" (Exim 4.96 section
 * "Rate limiting incoming messages").
 *
 * The rate is an exponentially weighted moving average kept per key in the "ratelimit" hints
 * database: after an interval i since the last update, with period p and a = exp(-i/p),
 *     new = count * (1 - a) / (i/p) + a * old
 * (for i -> 0 the first term tends to count), and never less than count (an isolated event after a
 * long quiet spell counts as its own size per period). The condition is true unless the new rate
 * is below m.
 * leaky (default) stores the new rate only when under the limit; strict always stores it;
 * readonly never does. unique= counts each distinct value once per period through a Bloom
 * filter kept in the record. per_conn and per_mail results are computed once per connection or
 * message and reused. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "conf/conf.h"
#include "core/acl_internal.h"
#include "core/hintsdb.h"
#include "lib/arena.h"
#include "lib/timefmt.h"

enum rl_mode { RL_PER_RCPT, RL_PER_CONN, RL_PER_MAIL, RL_PER_BYTE, RL_PER_CMD, RL_PER_ADDR };
static const char *const mode_names[] = { "per_rcpt", "per_conn", "per_mail", "per_byte", "per_cmd", "per_addr" };

#define BLOOM_BYTES 256
#define BLOOM_HASHES 8
#define RL_VERSION 1

/* The stored record, little more than Exim's: time, rate, and the unique= filter. */
typedef struct rl_record {
	uint8_t version;
	double time;          /* seconds since the epoch, with microseconds */
	double rate;
	double bloom_epoch;   /* when the filter was last cleared */
	uint8_t bloom[BLOOM_BYTES];
} rl_record;

typedef struct acl_rl_cache {
	struct acl_rl_cache *next;
	sv key;
	double rate;
	bool over;
} acl_rl_cache;

typedef struct rl_update {
	double now, period, limit, count;
	bool strict, readonly;
	bool has_unique;
	uint64_t unique_hash;
	/* out */
	double rate;
	bool over;
} rl_update;

static uint64_t fnv1a(sv s, uint64_t seed)
{
	uint64_t h = 1469598103934665603ull ^ seed;
	for (size_t i = 0; i < s.len; i++) {
		h ^= (unsigned char)s.p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool bloom_test_set(uint8_t *bloom, uint64_t h, bool set)
{
	bool all = true;
	uint64_t h1 = h & 0xffffffffu, h2 = h >> 32 | 1;
	for (int i = 0; i < BLOOM_HASHES; i++) {
		size_t bit = (size_t)((h1 + (uint64_t)i * h2) % (BLOOM_BYTES * 8));
		if (!(bloom[bit / 8] & (1u << (bit % 8)))) {
			all = false;
			if (set)
				bloom[bit / 8] |= (uint8_t)(1u << (bit % 8));
		}
	}
	return all;
}

static bool rl_apply(void *ctx, sv old, bool found, xbuf *out, bool *remove)
{
	(void)remove;
	rl_update *u = ctx;
	rl_record r;
	memset(&r, 0, sizeof r);
	bool have = found && old.len == sizeof r && (memcpy(&r, old.p, sizeof r), r.version == RL_VERSION);
	double count = u->count;
	if (u->has_unique) {
		if (!have || u->now - r.bloom_epoch > u->period) {
			memset(r.bloom, 0, sizeof r.bloom);
			r.bloom_epoch = u->now;
		}
		if (bloom_test_set(r.bloom, u->unique_hash, true))
			count = 0; /* seen before in this period: not counted */
	}
	double rate;
	if (!have) {
		rate = count;
		if (!u->has_unique)
			r.bloom_epoch = u->now;
	} else {
		double interval = u->now - r.time;
		if (interval < 0)
			interval = 0;
		double i_over_p = interval / u->period;
		double a = exp(-i_over_p);
		rate = i_over_p < 1e-9 ? count + r.rate : count * (1 - a) / i_over_p + a * r.rate;
		/* After a long quiet spell the average tends to zero, which would let a burst start
		 * unnoticed; Exim counts an isolated event as its own size per period instead. */
		if (rate < count)
			rate = count;
	}
	u->rate = rate;
	u->over = rate >= u->limit; /* below the limit is the only false case */
	if (u->readonly || (u->over && !u->strict))
		return false; /* leaky: an over-limit event does not count (nor joins the unique set) */
	r.version = RL_VERSION;
	r.time = u->now;
	r.rate = rate;
	xbuf_put(out, &r, sizeof r);
	return true;
}

static acl_result arg_error(acl_ctx *c, const char *problem, sv what)
{
	return acl_error(c, "error in arguments to \"ratelimit\" condition: \"" SV_FMT "\" %s", SV_ARG(what), problem);
}

static sv next_part(sv *rest, bool *any)
{
	sv s = *rest;
	*any = s.len > 0;
	size_t i = 0;
	while (i < s.len && s.p[i] != '/')
		i++;
	*rest = i < s.len ? sv_sub(s, i + 1, s.len) : sv_sub(s, s.len, s.len);
	return sv_trim(sv_sub(s, 0, i));
}

/* per_byte counts $message_size: the SIZE= of MAIL until the message is read (Exim 4.96,
 * observed: a RCPT ACL's per_byte check counts it), nothing when it is not known (-1). */
static double message_size(acl_ctx *c)
{
	if (!c->env)
		return c->msg ? (double)(c->msg->size > 0 ? c->msg->size : 0) : 0;
	xbuf out, err;
	xbuf_init(&out, c->user_msg.a);
	xbuf_init(&err, c->user_msg.a);
	if (xp_expand(c->env, SV_LIT("$message_size"), &out, &err) != XP_OK)
		return 0;
	double v = strtod(xbuf_cstr(&out), NULL);
	return v > 0 ? v : 0;
}

acl_result acl_ratelimit(acl_ctx *c, sv arg)
{
	acl_engine *e = acl_engine_of(c);
	arena *a = e->tmp;   /* this run's work; what is kept goes where it lasts (below) */
	sv rest = arg;
	bool any;
	sv limit_text = next_part(&rest, &any);
	char *lt = sv_dup(a, limit_text), *endp;
	double limit = strtod(lt, &endp);
	/* K, M, G multiply (for per_byte limits) */
	if (*endp == 'K' || *endp == 'k')
		limit *= 1024, endp++;
	else if (*endp == 'M' || *endp == 'm')
		limit *= 1024 * 1024, endp++;
	else if (*endp == 'G' || *endp == 'g')
		limit *= 1024.0 * 1024 * 1024, endp++;
	if (!limit_text.len || *endp || limit < 0)
		return arg_error(c, "is not a positive number", limit_text);
	sv period_text = next_part(&rest, &any);
	int period;
	if (!any)
		return acl_error(c, "error in arguments to \"ratelimit\" condition: \"NULL\" is not a time value");
	if (!interval_parse(period_text, &period) || period <= 0)
		return arg_error(c, "is not a time value", period_text);
	int mode = -1;
	bool strict = false, leaky = false, readonly = false;
	double count = 1;
	bool count_set = false;
	sv unique = SV_NULL, key = SV_NULL;
	while (rest.len && !key.p) {
		sv save = rest;
		sv opt = next_part(&rest, &any);
		int m = -1;
		for (int i = 0; i < (int)(sizeof mode_names / sizeof mode_names[0]); i++)
			if (sv_eq_cstr(opt, mode_names[i]))
				m = i;
		if (m >= 0) {
			if (mode >= 0 && mode != m)
				return acl_error(c, "error in arguments to \"ratelimit\" condition: conflicting per_* options");
			mode = m;
		} else if (sv_eq_cstr(opt, "strict")) {
			strict = true;
		} else if (sv_eq_cstr(opt, "leaky")) {
			leaky = true;
		} else if (sv_eq_cstr(opt, "readonly") || sv_eq_cstr(opt, "noupdate")) {
			readonly = true;
		} else if (sv_starts(opt, "count=")) {
			char *ct = sv_dup(a, sv_sub(opt, 6, opt.len));
			count = strtod(ct, &endp);
			count_set = true;
			if (*endp || count < 0 || !*ct)
				return arg_error(c, "is not a positive number", opt);
		} else if (sv_starts(opt, "unique=")) {
			unique = sv_sub(opt, 7, opt.len);
		} else {
			key = sv_trim(save); /* the key is the rest: it may contain slashes */
		}
	}
	if ((strict && leaky) || (readonly && (strict || leaky)))
		return acl_error(c, "error in arguments to \"ratelimit\" condition: conflicting update modes");
	/* Without a per_* option the measure is per_mail, but it is not checked against where the
	 * ACL runs: Exim 4.96 counts it (and stores it) even in the connect and HELO ACLs
	 * (observed: "ratelimit = 1 / 1d" there is over the limit on an empty database). */
	bool mode_given = mode >= 0;
	if (mode < 0)
		mode = RL_PER_MAIL;
	if (mode == RL_PER_ADDR && !unique.p)
		unique = c->recipient; /* per_addr counts distinct recipients */
	if (!count_set && mode == RL_PER_BYTE)
		count = message_size(c);
	if (!count_set && mode == RL_PER_RCPT && c->where != ACL_WHERE_RCPT)
		count = c->msg ? (double)c->msg->nrcpt : 0; /* after RCPT: all recipients at once */
	/* Where a measure makes no sense the check is read-only, and may not say otherwise. */
	static const unsigned usable[] = {
		[RL_PER_RCPT] = ACL_BIT(ACL_WHERE_RCPT) | ACL_BIT(ACL_WHERE_PREDATA) | ACL_BIT(ACL_WHERE_MIME)
			| ACL_BIT(ACL_WHERE_DATA) | ACL_BIT(ACL_WHERE_PRDR) | ACL_BIT(ACL_WHERE_DKIM),
		[RL_PER_CONN] = ACL_ALL_WHERE & ~(ACL_BIT(ACL_WHERE_NOTSMTP) | ACL_BIT(ACL_WHERE_NOTSMTP_START)),
		[RL_PER_MAIL] = ACL_BIT(ACL_WHERE_MAIL) | ACL_BIT(ACL_WHERE_RCPT) | ACL_BIT(ACL_WHERE_PREDATA)
			| ACL_BIT(ACL_WHERE_MIME) | ACL_BIT(ACL_WHERE_DATA) | ACL_BIT(ACL_WHERE_PRDR)
			| ACL_BIT(ACL_WHERE_DKIM) | ACL_BIT(ACL_WHERE_NOTSMTP),
		[RL_PER_BYTE] = ACL_BIT(ACL_WHERE_MAIL) | ACL_BIT(ACL_WHERE_RCPT) | ACL_BIT(ACL_WHERE_PREDATA)
			| ACL_BIT(ACL_WHERE_MIME) | ACL_BIT(ACL_WHERE_DATA) | ACL_BIT(ACL_WHERE_PRDR)
			| ACL_BIT(ACL_WHERE_DKIM) | ACL_BIT(ACL_WHERE_NOTSMTP),
		[RL_PER_CMD] = ACL_ALL_WHERE,
		[RL_PER_ADDR] = ACL_BIT(ACL_WHERE_RCPT),
	};
	if (mode_given && !(usable[mode] & ACL_BIT(c->where))) {
		if (strict || leaky)
			return acl_error(c, "error in arguments to \"ratelimit\" condition: \"%s\" must not have /leaky or "
				"/strict option, or cannot be used in %s ACL",
				/* Exim's names: per_addr is shown as per_rcpt, per_byte as per_mail (observed) */
				mode == RL_PER_ADDR ? "per_rcpt" : mode == RL_PER_BYTE ? "per_mail" : mode_names[mode],
				acl_where_name(c->where));
		readonly = true;
	}
	if (!key.p)
		key = c->origin ? c->origin->host_address : SV_LIT("");

	xbuf dbkey;
	xbuf_init(&dbkey, a);
	xbuf_printf(&dbkey, SV_FMT "/%s/", SV_ARG(period_text), mode_names[mode]);
	if (unique.p)
		xbuf_puts(&dbkey, "unique/");
	xbuf_putsv(&dbkey, key);
	e->sender_rate_limit = acl_keep_text(e, &e->rate_texts[1], limit_text);
	e->sender_rate_period = acl_keep_text(e, &e->rate_texts[2], period_text);
	e->have_rate = true;

	/* A rate computed earlier is reused: for the connection (per_conn), the message (per_mail,
	 * per_byte, per_rcpt after RCPT) or the command (per_rcpt, per_cmd, per_addr and every
	 * readonly check), so one event is counted once however many conditions test it. */
	acl_rl_cache **cache = readonly ? &e->rl_cmd
		: mode == RL_PER_CONN ? &e->rl_conn
		: mode == RL_PER_MAIL || mode == RL_PER_BYTE || (mode == RL_PER_RCPT && c->where != ACL_WHERE_RCPT)
		? &e->rl_mail : &e->rl_cmd;
	for (acl_rl_cache *h = *cache; h; h = h->next)
		if (sv_eq(h->key, xbuf_sv(&dbkey))) {
			char buf[64];
			snprintf(buf, sizeof buf, "%.1f", h->rate);
			e->sender_rate = acl_keep_text(e, &e->rate_texts[0], sv_cstr(buf));
			return h->rate >= limit ? ACL_OK : ACL_FAIL;
		}
	if (readonly)
		count = 0; /* only the stored rate, decayed to now */

	xbuf spool, err;
	xbuf_init(&spool, a);
	xbuf_init(&err, a);
	const char *sd = conf_main_string("spool_directory");
	if (xp_expand(c->env, sv_cstr(sd ? sd : ""), &spool, &err) != XP_OK)
		return acl_error(c, "failed to expand spool_directory: %s", xbuf_cstr(&err));
	hintsdb *db = hintsdb_open(xbuf_cstr(&spool), "ratelimit", false, &err);
	if (!db) {
		xbuf_reset(&c->log_msg);
		xbuf_printf(&c->log_msg, "ratelimit database not available: %s", xbuf_cstr(&err));
		return ACL_DEFER;
	}
	struct timeval tv;
	gettimeofday(&tv, NULL);
	rl_update u = { .now = (double)tv.tv_sec + tv.tv_usec / 1e6, .period = period, .limit = limit,
		.count = count, .strict = strict, .readonly = readonly, .has_unique = unique.p != NULL,
		.unique_hash = unique.p ? fnv1a(unique, 0) : 0 };
	bool ok = hintsdb_update(db, xbuf_sv(&dbkey), rl_apply, &u);
	if (!ok) {
		xbuf_reset(&c->log_msg);
		xbuf_printf(&c->log_msg, "ratelimit database update failed: %s", hintsdb_error(db));
		hintsdb_close(db);
		return ACL_DEFER;
	}
	hintsdb_close(db);
	char buf[64];
	snprintf(buf, sizeof buf, "%.1f", u.rate);
	e->sender_rate = acl_keep_text(e, &e->rate_texts[0], sv_cstr(buf));
	/* Kept as long as its cache: a command's in e->tmp (emptied when rl_cmd is, at the next
	 * top-level ACL), a message's in the message arena (rl_mail is forgotten at its end), the
	 * connection's in the engine's arena. */
	arena *ka = cache == &e->rl_cmd ? e->tmp : cache == &e->rl_mail ? acl_msg_arena(c) : e->a;
	acl_rl_cache *h = arena_calloc(ka, 1, sizeof *h);
	h->key = sv_copy(ka, xbuf_sv(&dbkey));
	h->rate = u.rate;
	h->over = u.over;
	h->next = *cache;
	*cache = h;
	return u.over ? ACL_OK : ACL_FAIL;
}
