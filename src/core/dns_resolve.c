/* The stub resolver: send a query to the configured servers over UDP (TCP when the reply is
 * truncated), then turn replies into dns_answer with CNAME chasing, Exim's result distinctions,
 * the AD bit, and the per-process cache.
 *
 * Timing follows the libc resolver Exim relies on: each server is tried in turn for each of
 * `attempts` rounds, waiting `timeout` seconds per try (dns_retry / dns_retrans override them).
 * A reply is accepted only from the server's address and port, with our id and our question. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/dns_internal.h"
#include "lib/debug.h"
#include "search/match.h"
#include "lib/clock.h"

static socklen_t make_sockaddr(const dns_server *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (s->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(s->port);
		memcpy(&in->sin_addr, s->addr, 4);
		return sizeof *in;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(s->port);
	memcpy(&in6->sin6_addr, s->addr, 16);
	return sizeof *in6;
}

static bool reply_matches(const dns_msg *m, uint16_t id, sv name, int type)
{
	if (!m->qr || m->id != id || m->qtype != type || m->qclass != 1)
		return false;
	return sv_eqi(m->qname, name);
}

/* Full reads/writes over a TCP socket, bounded by deadline. */
static bool tcp_io(int fd, uint8_t *buf, size_t n, bool writing, long deadline)
{
	size_t done = 0;
	while (done < n) {
		if (wait_fd_until(fd, writing ? POLLOUT : POLLIN, deadline) <= 0)
			return false;
		ssize_t r = writing ? send(fd, buf + done, n - done, MSG_NOSIGNAL) : recv(fd, buf + done, n - done, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

/* One query over TCP to one server. Returns the reply length, or 0. */
static size_t query_tcp(const dns_server *s, const uint8_t *q, size_t qlen, uint8_t *reply,
	size_t cap, int timeout)
{
	struct sockaddr_storage ss;
	socklen_t sl = make_sockaddr(s, &ss);
	int fd = socket(s->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	long deadline = monotonic_ms() + timeout * 1000L;
	size_t got = 0;
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS)
		goto out;
	if (wait_fd_until(fd, POLLOUT, deadline) <= 0)
		goto out;
	int soerr = 0;
	socklen_t el = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0 || soerr != 0)
		goto out;
	uint8_t lenbuf[2] = { (uint8_t)(qlen >> 8), (uint8_t)qlen };
	if (!tcp_io(fd, lenbuf, 2, true, deadline) || !tcp_io(fd, (uint8_t *)q, qlen, true, deadline))
		goto out;
	if (!tcp_io(fd, lenbuf, 2, false, deadline))
		goto out;
	size_t rlen = (size_t)lenbuf[0] << 8 | lenbuf[1];
	if (rlen > cap || !tcp_io(fd, reply, rlen, false, deadline))
		goto out;
	got = rlen;
out:
	close(fd);
	return got;
}

/* One UDP try to one server: send, then wait up to timeout for a matching reply. */
static size_t query_udp(const dns_server *s, const uint8_t *q, size_t qlen, uint8_t *reply,
	size_t cap, int timeout, arena *a, uint16_t id, sv name, int type, dns_msg *msg)
{
	struct sockaddr_storage ss;
	socklen_t sl = make_sockaddr(s, &ss);
	int fd = socket(s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	size_t got = 0;
	/* connect(): the kernel then delivers only datagrams from the server's address and port. */
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 || send(fd, q, qlen, 0) != (ssize_t)qlen)
		goto out;
	long deadline = monotonic_ms() + timeout * 1000L;
	while (wait_fd_until(fd, POLLIN, deadline) > 0) {
		ssize_t r = recv(fd, reply, cap, 0);
		if (r <= 0)
			continue;
		arena_mark m = arena_getmark(a);
		if (dns_parse_msg(a, reply, (size_t)r, msg) && reply_matches(msg, id, name, type)) {
			got = (size_t)r;
			break;
		}
		arena_reset(a, m); /* a stray or forged datagram: keep waiting */
	}
out:
	close(fd);
	return got;
}

dns_rc dns_transport_query(arena *a, sv name, int type, const dns_opts *opts, dns_msg *msg)
{
	const dns_config *cfg = dns_config_get();
	int timeout = opts && opts->retrans > 0 ? opts->retrans : cfg->timeout;
	int attempts = opts && opts->retry > 0 ? opts->retry : cfg->attempts;
	bool dnssec = opts && opts->dnssec >= 0 ? opts->dnssec > 0 : cfg->dnssec_ok;
	bool edns = cfg->edns0 || dnssec;
	uint16_t id;
	if (getrandom(&id, sizeof id, 0) != sizeof id)
		id = (uint16_t)(monotonic_ms() ^ getpid());
	uint8_t q[DNS_HDR_LEN + 300];
	size_t qlen = dns_build_query(q, sizeof q, id, name, type, edns, dnssec);
	if (qlen == 0) {
		/* Not a valid domain name: it cannot exist (libc's res_mkquery failure, which Exim
		 * treats as "not found"). */
		memset(msg, 0, sizeof *msg);
		msg->rcode = DNS_RCODE_NXDOMAIN;
		msg->qname = name;
		return DNS_SUCCEED;
	}
	/* Replies are matched against the question in its canonical (presentation) form, which is
	 * what the parser gives for the reply's question: parse our own query to get it. */
	dns_msg self;
	if (!dns_parse_msg(a, q, qlen, &self))
		return DNS_FAIL;
	name = self.qname;
	/* The reply buffer is on the heap: a may be pool_scratch, which callers reset. */
	uint8_t *reply = malloc(65536);
	if (!reply)
		abort();
	dns_rc last = DNS_AGAIN;
	for (int round = 0; round < attempts; round++) {
		for (size_t si = 0; si < cfg->nservers; si++) {
			const dns_server *s = &cfg->servers[si];
			size_t n = query_udp(s, q, qlen, reply, DNS_MAX_UDP, timeout, a, id, name, type, msg);
			if (n == 0)
				continue;
			if (msg->tc) {
				DEBUG(D_DNS) debug_printf("DNS: reply truncated, retrying over TCP\n");
				n = query_tcp(s, q, qlen, reply, 65535, timeout);
				if (n == 0 || !dns_parse_msg(a, reply, n, msg) || !reply_matches(msg, id, name, type))
					continue;
			}
			switch (msg->rcode) {
			case DNS_RCODE_NOERROR:
			case DNS_RCODE_NXDOMAIN:
				free(reply);
				return DNS_SUCCEED;
			case DNS_RCODE_SERVFAIL:
				last = DNS_AGAIN;
				break;
			default:
				last = DNS_FAIL; /* FORMERR, NOTIMP, REFUSED: as libc's NO_RECOVERY */
				break;
			}
		}
		if (last == DNS_FAIL)
			break;
	}
	free(reply);
	return last;
}

/* ---- answers ---- */

/* The SOA in the authority section gives the negative-caching TTL (RFC 2308). */
static uint32_t negative_ttl(const dns_msg *m)
{
	for (const dns_rr *rr = m->authority; rr; rr = rr->next)
		if (rr->type == DNS_T_SOA)
			return rr->ttl < rr->soa_minimum ? rr->ttl : rr->soa_minimum;
	return 0;
}

/* dns_trust_aa: a domain list; an authoritative answer for a name in it counts as authentic. */
static bool trusted_aa(sv name)
{
	if (!conf_main.dns_trust_aa || !*conf_main.dns_trust_aa)
		return false;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	return match_isinlist(name, sv_cstr(conf_main.dns_trust_aa), 0, MATCH_DOMAIN, true, NULL, &err) == 0;
}

static const char *type_name(int type)
{
	switch (type) {
	case DNS_T_A: return "A";
	case DNS_T_NS: return "NS";
	case DNS_T_CNAME: return "CNAME";
	case DNS_T_SOA: return "SOA";
	case DNS_T_PTR: return "PTR";
	case DNS_T_MX: return "MX";
	case DNS_T_TXT: return "TXT";
	case DNS_T_AAAA: return "AAAA";
	case DNS_T_SRV: return "SRV";
	case DNS_T_TLSA: return "TLSA";
	case DNS_T_SPF: return "SPF";
	default: return "?";
	}
}

/* The presentation form the parser gives for name (lower case, escapes normalised). */
static bool canonical_name(arena *a, sv name, sv *out)
{
	uint8_t q[DNS_HDR_LEN + 300];
	size_t n = dns_build_query(q, sizeof q, 0, name, DNS_T_A, false, false);
	dns_msg m;
	if (n == 0 || !dns_parse_msg(a, q, n, &m))
		return false;
	*out = m.qname;
	out->taint = name.taint;
	return true;
}

/* dns_check_names_pattern: names that fail it are not looked up (Exim 4.96 skips the check for
 * TXT and PTR lookups; observed: SPF, CNAME, A and MX lookups are checked). */
static bool names_pattern_ok(sv name, int type)
{
	static pcre2_code *re;
	static const char *re_src;
	const char *pat = conf_main.dns_check_names_pattern;
	if (!pat || !*pat || type == DNS_T_TXT || type == DNS_T_PTR)
		return true;
	if (re_src != pat) {
		if (re)
			pcre2_code_free(re);
		int ec;
		PCRE2_SIZE eo;
		re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
		re_src = pat;
	}
	if (!re)
		return true; /* a bad pattern checks nothing (Exim refuses it at start-up) */
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int r = pcre2_match(re, (PCRE2_SPTR)(name.p ? name.p : ""), name.len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return r >= 0;
}

/* dns_again_means_nonexist: a domain list whose temporary failures count as "no such name". */
static bool again_means_nonexist(sv name)
{
	if (!conf_main.dns_again_means_nonexist || !*conf_main.dns_again_means_nonexist)
		return false;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	return match_isinlist(name, sv_cstr(conf_main.dns_again_means_nonexist), 0, MATCH_DOMAIN, true,
		NULL, &err) == 0;
}

#define DNS_MAX_CHAIN 16 /* CNAMEs followed inside one reply */

dns_rc dns_lookup_opts(arena *a, sv name, int type, const dns_opts *opts, dns_answer *out)
{
	memset(out, 0, sizeof *out);
	dns_opts o = opts ? *opts : DNS_OPTS_DEFAULT;
	const dns_config *cfg = dns_config_get();
	bool dnssec = o.dnssec >= 0 ? o.dnssec > 0 : cfg->dnssec_ok;
	bool follow = !o.no_cname && type != DNS_T_CNAME;
	/* One spelling per name (escapes, trailing dot), so that record owners compare equal. */
	sv canon;
	if (!canonical_name(a, name, &canon) || !names_pattern_ok(canon, type)) {
		out->rc = DNS_NOMATCH; /* not a domain name, or one dns_check_names_pattern refuses */
		out->canonical = name;
		return DNS_NOMATCH;
	}
	name = canon;
	if (dns_cache_get(a, name, type, dnssec, out))
		return out->rc;
	sv current = sv_copy(a, name);
	int requeries = conf_main.dns_cname_loops;
	bool authentic = true;
	uint32_t min_ttl = UINT32_MAX;
	for (;;) {
		dns_msg msg;
		dns_rc rc = dns_transport_query(a, current, type, &o, &msg);
		DEBUG(D_DNS) debug_printf("DNS lookup of %.*s (%s) %s\n", SV_ARG(current), type_name(type),
			rc == DNS_SUCCEED ? (msg.rcode == DNS_RCODE_NXDOMAIN ? "gave HOST_NOT_FOUND" : "succeeded") :
			rc == DNS_AGAIN ? "gave TRY_AGAIN" : "gave NO_RECOVERY");
		if (rc == DNS_AGAIN && again_means_nonexist(current))
			rc = DNS_NOMATCH;
		if (rc != DNS_SUCCEED) {
			out->rc = rc;
			out->canonical = current;
			return rc; /* temporary and hard failures are not cached */
		}
		bool auth = msg.ad || (msg.aa && trusted_aa(current));
		authentic = authentic && auth;
		/* Walk the CNAME chain inside the reply. */
		for (int hop = 0; follow && hop < DNS_MAX_CHAIN; hop++) {
			const dns_rr *cname = NULL;
			bool have = false;
			for (const dns_rr *rr = msg.answers; rr; rr = rr->next) {
				if (!sv_eqi(rr->name, current))
					continue;
				if (rr->type == type)
					have = true;
				else if (rr->type == DNS_T_CNAME && !cname)
					cname = rr;
			}
			if (have || !cname)
				break;
			if (cname->ttl < min_ttl)
				min_ttl = cname->ttl;
			current = cname->text;
		}
		dns_rr *head = NULL, **tail = &head;
		for (dns_rr *rr = msg.answers; rr; rr = rr->next) {
			if (rr->type != type || !sv_eqi(rr->name, current))
				continue;
			if (rr->ttl < min_ttl)
				min_ttl = rr->ttl;
			*tail = rr;
			tail = &rr->next;
		}
		*tail = NULL;
		if (head) {
			out->rc = DNS_SUCCEED;
			out->rrs = head;
			out->canonical = current;
			out->authentic = authentic;
			out->min_ttl = min_ttl;
			dns_cache_put(name, type, dnssec, out, min_ttl);
			return DNS_SUCCEED;
		}
		/* No records of the type for the end of the chain. If the chain moved us to a new name
		 * that the reply says nothing more about, ask about that name (dns_cname_loops times). */
		bool moved = !sv_eqi(current, msg.qname);
		if (moved && msg.rcode == DNS_RCODE_NOERROR && requeries-- > 0) {
			bool answered = false;
			for (const dns_rr *rr = msg.answers; rr; rr = rr->next)
				if (sv_eqi(rr->name, current))
					answered = true;
			if (!answered)
				continue;
		}
		uint32_t nttl = negative_ttl(&msg);
		if (min_ttl < nttl)
			nttl = min_ttl;
		out->rc = msg.rcode == DNS_RCODE_NXDOMAIN ? DNS_NOMATCH : DNS_NODATA;
		out->canonical = current;
		out->authentic = authentic;
		out->min_ttl = nttl;
		dns_cache_put(name, type, dnssec, out, nttl);
		return out->rc;
	}
}

dns_rc dns_lookup(arena *a, sv name, int type, dns_answer *out)
{
	return dns_lookup_opts(a, name, type, NULL, out);
}
