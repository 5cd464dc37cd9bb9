/* The "seen" condition (a timestamp per key in the "seen" hints database, for greylisting and the
 * like) and the "udpsend" modifier. */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/acl_internal.h"
#include "core/dns.h"
#include "core/hintsdb.h"
#include "lib/arena.h"
#include "lib/ip.h"
#include "lib/list.h"
#include "lib/timefmt.h"

#define SEEN_VERSION 1

typedef struct seen_update {
	double now, test_time;
	bool before, readonly, write;
	bool result;
} seen_update;

static bool seen_apply(void *ctx, sv old, bool found, xbuf *out, bool *remove)
{
	(void)remove;
	seen_update *u = ctx;
	double t = 0;
	bool have = found && old.len == 1 + sizeof t && old.p[0] == SEEN_VERSION;
	if (have)
		memcpy(&t, old.p + 1, sizeof t);
	u->result = have && (u->before ? t < u->test_time : t >= u->test_time);
	double stamp;
	if (u->readonly)
		return false;
	if (u->write || !u->before || !have)
		stamp = u->now;
	else if (u->result)
		stamp = u->test_time; /* keep a matching old record from being tidied away */
	else
		return false;
	char rec[1 + sizeof stamp];
	rec[0] = SEEN_VERSION;
	memcpy(rec + 1, &stamp, sizeof stamp);
	xbuf_put(out, rec, sizeof rec);
	return true;
}

acl_result acl_seen(acl_ctx *c, sv arg)
{
	arena *a = acl_engine_of(c)->tmp;   /* nothing outlives the check: the run's temporaries */
	sv s = sv_trim(arg);
	seen_update u = { 0 };
	if (s.len && s.p[0] == '-') {
		u.before = true;
		s = sv_sub(s, 1, s.len);
	}
	size_t i = 0;
	while (i < s.len && s.p[i] != '/')
		i++;
	int interval;
	if (!interval_parse(sv_trim(sv_sub(s, 0, i)), &interval))
		return acl_error(c, "failed to parse '" SV_FMT "'", SV_ARG(sv_trim(sv_sub(s, 0, i))));
	sv key = c->origin ? c->origin->host_address : SV_LIT("");
	while (i < s.len) {
		size_t e = i + 1;
		while (e < s.len && s.p[e] != '/')
			e++;
		sv opt = sv_trim(sv_range(s, i + 1, e));
		if (sv_starts(opt, "key=")) {
			/* The key may contain slashes: it runs to the next known option. */
			key = sv_sub(opt, 4, opt.len);
		} else if (sv_eq_cstr(opt, "readonly")) {
			u.readonly = true;
			u.write = false;
		} else if (sv_eq_cstr(opt, "write")) {
			u.write = true;
			u.readonly = false;
		} else {
			return acl_error(c, "unrecognised option '" SV_FMT "' in '" SV_FMT "'", SV_ARG(opt), SV_ARG(arg));
		}
		i = e;
	}
	struct timeval tv;
	gettimeofday(&tv, NULL);
	u.now = (double)tv.tv_sec + tv.tv_usec / 1e6;
	u.test_time = u.now - interval;
	xbuf spool, err;
	xbuf_init(&spool, a);
	xbuf_init(&err, a);
	const char *sd = conf_main_string("spool_directory");
	if (xp_expand(c->env, sv_cstr(sd ? sd : ""), &spool, &err) != XP_OK)
		return acl_error(c, "failed to expand spool_directory: %s", xbuf_cstr(&err));
	hintsdb *db = hintsdb_open(xbuf_cstr(&spool), "seen", false, &err);
	if (!db) {
		xbuf_reset(&c->log_msg);
		xbuf_printf(&c->log_msg, "seen database not available: %s", xbuf_cstr(&err));
		return ACL_DEFER;
	}
	bool ok = hintsdb_update(db, key, seen_apply, &u);
	if (!ok) {
		xbuf_reset(&c->log_msg);
		xbuf_printf(&c->log_msg, "seen database update failed: %s", hintsdb_error(db));
	}
	hintsdb_close(db);
	if (!ok)
		return ACL_DEFER;
	return u.result ? ACL_OK : ACL_FAIL;
}

/* udpsend = host : port : data. The data is everything after the port's separator, as it is
 * (it may contain the separator). Sent in -bh too, as Exim does. */
acl_result acl_udpsend(acl_ctx *c, sv arg)
{
	arena *a = acl_engine_of(c)->tmp;   /* nothing outlives the send: the run's temporaries */
	list_iter it;
	xbuf hostb, portb;
	xbuf_init(&hostb, a);
	xbuf_init(&portb, a);
	list_iter_init(&it, arg, 0);
	bool have_host = list_next(&it, &hostb);
	if (!have_host || !list_next(&it, &portb))
		return acl_error(c, "missing destination port in \"udpsend\" modifier");
	sv data = it.rest;
	if (data.len && data.p[0] == it.sep)
		data = sv_sub(data, 1, data.len);
	long long port;
	if (!sv_to_long(sv_trim(xbuf_sv(&portb)), &port))
		return acl_error(c, "bad destination port in \"udpsend\" modifier");
	ip_addr ip;
	sv host = xbuf_sv(&hostb);
	if (!ip_parse(host, &ip)) {
		sv *addrs;
		size_t na = 0;
		if (!host.len || dns_host_addresses(a, host, &addrs, &na) != DNS_SUCCEED || !na || !ip_parse(addrs[0], &ip)) {
			xbuf_reset(&c->log_msg);
			xbuf_puts(&c->log_msg, "DNS lookup failed in \"udpsend\" modifier");
			return ACL_DEFER;
		}
	}
	xbuf text;
	xbuf_init(&text, a);
	ip_format(&ip, &text);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t len;
	int family;
	uint16_t nport = htons((uint16_t)port); /* as Exim: the number is cut to 16 bits */
	if (ip_max_bits(&ip) == 32) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = nport;
		inet_pton(AF_INET, xbuf_cstr(&text), &sin->sin_addr);
		len = sizeof *sin;
		family = AF_INET;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = nport;
		inet_pton(AF_INET6, xbuf_cstr(&text), &sin6->sin6_addr);
		len = sizeof *sin6;
		family = AF_INET6;
	}
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return acl_error(c, "unable to create socket in \"udpsend\" modifier: %s", strerror(errno));
	ssize_t sent = sendto(fd, data.p, data.len, 0, (struct sockaddr *)&ss, len);
	int saved = errno;
	close(fd);
	if (sent < 0)
		return acl_error(c, "failed to send in \"udpsend\" modifier: %s", strerror(saved));
	return ACL_OK;
}
