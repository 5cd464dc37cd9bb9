/* Listening sockets for the daemon (see listen.h for the rules). */
#include "core/listen.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/debug.h"
#include "lib/list.h"

static void add_endpoint(listen_set *s, const ip_addr *a, sv text, bool wildcard, int port)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].port == port && s->v[i].wildcard == wildcard && ip_equal(&s->v[i].addr, a))
			return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		listen_endpoint *nv = realloc(s->v, s->cap * sizeof *nv);
		if (!nv)
			abort();
		s->v = nv;
	}
	listen_endpoint *e = &s->v[s->n++];
	*e = (listen_endpoint){ .addr = *a, .wildcard = wildcard, .port = port, .fd = -1 };
	snprintf(e->text, sizeof e->text, "%.*s", (int)text.len, text.p);
}

static bool all_digits(sv v)
{
	if (v.len == 0 || v.len > 5)
		return false;
	for (size_t i = 0; i < v.len; i++)
		if (!isdigit((unsigned char)v.p[i]))
			return false;
	return true;
}

/* A port number, or (when names are allowed) a service name from /etc/services. */
static int parse_port(sv v, bool names_allowed)
{
	if (all_digits(v)) {
		long n = strtol(v.p, NULL, 10);
		return n >= 1 && n <= 65535 ? (int)n : -1;
	}
	if (!names_allowed || v.len == 0 || v.len > 64)
		return -1;
	char name[65];
	memcpy(name, v.p, v.len);
	name[v.len] = 0;
	struct servent *se = getservbyname(name, "tcp");
	return se ? ntohs((uint16_t)se->s_port) : -1;
}

/* Every port of the daemon_smtp_ports list (at least one). */
static bool parse_ports(const char *ports, int **out, size_t *nout, xbuf *err)
{
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	size_t n = 0, cap = 4;
	int *v = malloc(cap * sizeof *v);
	if (!v)
		abort();
	list_iter_init(&it, sv_cstr(ports ? ports : "smtp"), 0);
	bool ok = true;
	while (list_next(&it, &item)) {
		if (item.len == 0)
			continue;
		int p = parse_port(xbuf_sv(&item), true);
		if (p < 0) {
			xbuf_printf(err, "Exim configuration error:\n  TCP port \"%s\" not found", xbuf_cstr(&item));
			ok = false;
			break;
		}
		if (n == cap && !(v = realloc(v, (cap *= 2) * sizeof *v)))
			abort();
		v[n++] = p;
	}
	xbuf_free(&item);
	if (ok && n == 0) {
		xbuf_puts(err, "no SMTP ports given in daemon_smtp_ports");
		ok = false;
	}
	if (!ok) {
		free(v);
		return false;
	}
	*out = v;
	*nout = n;
	return true;
}

/* One local_interfaces item: "addr", "addr.port" or "[addr]:port". port 0: none given. */
static bool parse_interface(sv item, ip_addr *a, sv *text, int *port, sv *bad)
{
	*port = 0;
	*bad = item;
	*text = item;
	if (item.len > 0 && item.p[0] == '[') {
		const char *close = memchr(item.p, ']', item.len);
		if (!close)
			return false;
		sv addr = sv_make(item.p + 1, (size_t)(close - item.p - 1));
		sv rest = sv_make(close + 1, item.len - (size_t)(close + 1 - item.p));
		if (!ip_parse(addr, a))
			return false;
		*text = addr;
		if (rest.len == 0)
			return true;
		if (rest.p[0] != ':' || (*port = parse_port(sv_sub(rest, 1, rest.len - 1), false)) < 0) {
			*bad = rest.len > 1 ? sv_sub(rest, 1, rest.len - 1) : rest;
			return false;
		}
		return true;
	}
	if (ip_parse(item, a))
		return true;
	const char *dot = NULL;
	for (size_t i = item.len; i > 0; i--)
		if (item.p[i - 1] == '.') {
			dot = item.p + i - 1;
			break;
		}
	if (!dot)
		return false;
	sv addr = sv_make(item.p, (size_t)(dot - item.p));
	sv p = sv_make(dot + 1, item.len - addr.len - 1);
	if (!ip_parse(addr, a) || (*port = parse_port(p, false)) < 0)
		return false;
	*text = addr;
	return true;
}

/* Exim's wildcard test is on the text as written (observed: "::" and "0:0:0:0:0:0:0:0" are
 * bound as one address, without IPV6_V6ONLY, and shown as written). */
static bool is_wildcard_text(sv text)
{
	return sv_eq_cstr(text, "0.0.0.0") || sv_eq_cstr(text, "::0");
}

/* Split -oX into its port items and its interface items (Exim's rule: an item with a '.' or a
 * ':' is an interface). The separator change "<c" applies to the whole list. */
static void split_override(const char *override, xbuf *ports, xbuf *ifaces)
{
	sv list = sv_cstr(override);
	int sep = list_separator(list, 0);
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, list, 0);
	while (list_next(&it, &item)) {
		if (item.len == 0)
			continue;
		bool iface = memchr(item.p, '.', item.len) || memchr(item.p, ':', item.len);
		list_append_item(iface ? ifaces : ports, sep, xbuf_sv(&item));
	}
	xbuf_free(&item);
	/* list_append_item writes in the list's own separator; give ifaces the "<c" prefix so the
	 * IPv6 colons inside items survive when the separator is not ':' */
	if (sep != ':' && ifaces->len) {
		xbuf pre;
		xbuf_init(&pre, NULL);
		xbuf_printf(&pre, "<%c ", sep);
		xbuf_putsv(&pre, xbuf_sv(ifaces));
		xbuf_reset(ifaces);
		xbuf_putsv(ifaces, xbuf_sv(&pre));
		xbuf_free(&pre);
	}
}

bool listen_parse(const char *interfaces, const char *ports, const char *override,
	bool disable_ipv6, listen_set *out, xbuf *err)
{
	memset(out, 0, sizeof *out);
	xbuf oports, oifaces;
	xbuf_init(&oports, NULL);
	xbuf_init(&oifaces, NULL);
	if (override) {
		split_override(override, &oports, &oifaces);
		if (oports.len)
			ports = xbuf_cstr(&oports);
		if (oifaces.len)
			interfaces = xbuf_cstr(&oifaces);
	}
	int *portv = NULL;
	size_t nports = 0;
	bool ok = parse_ports(ports, &portv, &nports, err);
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, sv_cstr(interfaces ? interfaces : "<; ::0 ; 0.0.0.0"), 0);
	while (ok && list_next(&it, &item)) {
		sv v = sv_trim(xbuf_sv(&item));
		if (v.len == 0)
			continue;
		ip_addr a;
		int port;
		sv bad, text;
		if (!parse_interface(v, &a, &text, &port, &bad)) {
			xbuf_printf(err, "Malformed IP address \"%.*s\" in local_interfaces", (int)bad.len, bad.p);
			ok = false;
			break;
		}
		if (disable_ipv6 && a.family == 6)
			continue;
		bool wild = is_wildcard_text(text);
		if (port)
			add_endpoint(out, &a, text, wild, port);
		else
			for (size_t i = 0; i < nports; i++)
				add_endpoint(out, &a, text, wild, portv[i]);
	}
	xbuf_free(&item);
	xbuf_free(&oports);
	xbuf_free(&oifaces);
	free(portv);
	/* Exim binds an IPv6 wildcard before the IPv4 wildcard of the same port (observed with
	 * strace, whatever the list's order), so the IPv4 one's bind can find the port in use and be
	 * let go (listen_ipv6_covers). */
	for (size_t i = 0; ok && i < out->n; i++) {
		if (!out->v[i].wildcard || out->v[i].addr.family != 4)
			continue;
		for (size_t j = i + 1; j < out->n; j++)
			if (out->v[j].wildcard && out->v[j].addr.family == 6 && out->v[j].port == out->v[i].port) {
				listen_endpoint v6 = out->v[j];
				memmove(&out->v[i + 1], &out->v[i], (j - i) * sizeof *out->v);
				out->v[i] = v6;
				break;
			}
	}
	if (ok && out->n == 0) {
		xbuf_puts(err, "no addresses to listen on (local_interfaces is empty)");
		ok = false;
	}
	if (!ok) {
		free(out->v);
		memset(out, 0, sizeof *out);
	}
	return ok;
}

static void describe_addr(const listen_endpoint *e, xbuf *out)
{
	if (e->wildcard) {
		xbuf_puts(out, e->addr.family == 6 ? "(any IPv6)" : "(any IPv4)");
		return;
	}
	xbuf_puts(out, e->text);
}

bool listen_bind(listen_endpoint *e, int backlog, xbuf *err)
{
	int fam = e->addr.family == 6 ? AF_INET6 : AF_INET;
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int saved = errno;
		xbuf_printf(err, "IPv%d socket creation failed: %s", e->addr.family, strerror(saved));
		errno = saved;
		return false;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t len;
	if (fam == AF_INET6) {
		/* Separate sockets for the two wildcards: v4 peers then have v4 addresses. Any other
		 * IPv6 address (even "::" written so) is left to the system's default, as Exim
		 * leaves it: "::" then takes IPv4 clients as well (their mapped addresses are
		 * unmapped at accept). */
		if (e->wildcard)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)e->port);
		memcpy(&s6->sin6_addr, e->addr.b, 16);
		len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)e->port);
		memcpy(&s4->sin_addr, e->addr.b, 4);
		len = sizeof *s4;
	}
	int qlen = backlog > 0 ? backlog : 20;
#ifdef TCP_FASTOPEN
	/* Fast Open for clients that have our cookie (docs/tfo.md), with as long a queue of
	 * not-yet-handshaken connections as the listen backlog, as Exim 4.96 sets it (seen with
	 * strace). The kernel ignores it unless net.ipv4.tcp_fastopen has the server bit. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof qlen) != 0)
		DEBUG(D_INTERFACE) debug_printf("setsockopt FASTOPEN: %s\n", strerror(errno));
#endif
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, qlen) < 0) {
		int saved = errno;
		xbuf_printf(err, "socket bind() to port %d for address ", e->port);
		describe_addr(e, err);
		xbuf_printf(err, " failed: %s", strerror(saved));
		close(fd);
		errno = saved;
		return false;
	}
	e->fd = fd;
	return true;
}

/* The endpoints whose port is_smtps says is (want true) or is not (want false) an SMTPS port
 * take part; is_smtps NULL: every endpoint is a plain one. */
static bool takes_part(const listen_endpoint *e, bool (*is_smtps)(int port), bool want)
{
	return e->fd >= 0 && (is_smtps ? is_smtps(e->port) : false) == want;
}

static void describe_some(const listen_set *s, bool (*is_smtps)(int port), bool want, xbuf *out)
{
	size_t start = out->len;
	/* Endpoints already described (as part of a group), or of the other kind, are skipped. */
	bool *done = calloc(s->n ? s->n : 1, 1);
	if (!done)
		abort();
	for (size_t i = 0; i < s->n; i++)
		done[i] = !takes_part(&s->v[i], is_smtps, want);
	for (size_t i = 0; i < s->n; i++) {
		const listen_endpoint *e = &s->v[i];
		if (done[i])
			continue;
		if (out->len > start)
			xbuf_putc(out, ' ');
		if (e->wildcard) {
			/* "port N (IPv6 and IPv4)" when both wildcards listen on N. */
			bool v4 = e->addr.family == 4, v6 = !v4;
			for (size_t j = i + 1; j < s->n; j++)
				if (!done[j] && s->v[j].wildcard && s->v[j].port == e->port) {
					done[j] = true;
					if (s->v[j].addr.family == 4) v4 = true; else v6 = true;
				}
			xbuf_printf(out, "port %d (%s)", e->port, e->ipv4_too ? "IPv6 with IPv4"
				: v4 && v6 ? "IPv6 and IPv4" : v6 ? "IPv6" : "IPv4");
			continue;
		}
		/* "[addr]:port" or "[addr]:{p1,p2}" for every port of this address. */
		size_t nsame = 0;
		for (size_t j = i + 1; j < s->n; j++)
			if (!done[j] && !s->v[j].wildcard && ip_equal(&s->v[j].addr, &e->addr))
				nsame++;
		xbuf_putc(out, '[');
		xbuf_puts(out, e->text);   /* as written: "[::00]:25" (Exim) */
		xbuf_puts(out, "]:");
		if (nsame == 0) {
			xbuf_printf(out, "%d", e->port);
			continue;
		}
		xbuf_printf(out, "{%d", e->port);
		for (size_t j = i + 1; j < s->n; j++)
			if (!done[j] && !s->v[j].wildcard && ip_equal(&s->v[j].addr, &e->addr)) {
				done[j] = true;
				xbuf_printf(out, ",%d", s->v[j].port);
			}
		xbuf_putc(out, '}');
	}
	free(done);
}

listen_endpoint *listen_ipv6_covers(listen_set *s, const listen_endpoint *e)
{
	if (!e->wildcard || e->addr.family != 4)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].wildcard && s->v[i].addr.family == 6 && s->v[i].port == e->port && s->v[i].fd >= 0)
			return &s->v[i];
	return NULL;
}

void listen_describe(const listen_set *s, xbuf *out)
{
	describe_some(s, NULL, false, out);
}

void listen_describe_services(const listen_set *s, bool (*is_smtps)(int port), xbuf *out)
{
	xbuf plain, smtps;
	xbuf_init(&plain, NULL);
	xbuf_init(&smtps, NULL);
	describe_some(s, is_smtps, false, &plain);
	if (is_smtps)
		describe_some(s, is_smtps, true, &smtps);
	if (plain.len)
		xbuf_printf(out, "SMTP on %s", xbuf_cstr(&plain));
	if (plain.len && smtps.len)
		xbuf_puts(out, " and for ");
	if (smtps.len)
		xbuf_printf(out, "SMTPS on %s", xbuf_cstr(&smtps));
	xbuf_free(&plain);
	xbuf_free(&smtps);
}

void listen_sockaddr_ip(const void *sockaddr, ip_addr *a, int *port)
{
	const struct sockaddr *sa = sockaddr;
	memset(a, 0, sizeof *a);
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = sockaddr;
		a->family = 6;
		memcpy(a->b, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
		if (ip_is_v4_mapped(a)) {
			ip_addr v4;
			ip_unmap(a, &v4);
			*a = v4;
		}
	} else {
		const struct sockaddr_in *s4 = sockaddr;
		a->family = 4;
		memcpy(a->b, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	}
}

void listen_close_all(listen_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].fd >= 0) {
			close(s->v[i].fd);
			s->v[i].fd = -1;
		}
}

void listen_set_free(listen_set *s)
{
	free(s->v);
	memset(s, 0, sizeof *s);
}
