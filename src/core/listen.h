/* The daemon's listening sockets: which (address, port) pairs come from local_interfaces,
 * daemon_smtp_ports and -oX, binding them (IPv4 and IPv6, with smtp_connect_backlog), and the
 * text Exim's "daemon started" log line uses to describe them.
 *
 * Rules (ch-starting_the_daemon_and_the_use_of_network_interfaces, checked against Exim 4.96):
 *   - local_interfaces items are IP addresses, optionally with a port as "addr.port" or
 *     "[addr]:port"; an item without a port listens on every port of daemon_smtp_ports.
 *   - 0.0.0.0 and ::0 mean all IPv4 / all IPv6 interfaces (one wildcard socket each; the IPv6 one
 *     is IPV6_V6ONLY so IPv4 peers arrive with plain IPv4 addresses).
 *   - daemon_smtp_ports items are port numbers or service names (/etc/services).
 *   - -oX: items without '.' or ':' replace daemon_smtp_ports, the others replace
 *     local_interfaces.
 */
#ifndef POSTERN_CORE_LISTEN_H
#define POSTERN_CORE_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/ip.h"
#include "lib/str.h"

typedef struct listen_endpoint {
	ip_addr addr;     /* for a wildcard: all zero, family 4 or 6 */
	bool wildcard;    /* written exactly "0.0.0.0" or "::0" (Exim's test is on the text: "::"
	                   * or "::00" is one IPv6 address, bound without IPV6_V6ONLY, so it takes
	                   * IPv4 clients too, and shown as written) */
	char text[48];    /* the address as local_interfaces or -oX writes it, for the start line */
	bool ipv4_too;    /* the IPv6 wildcard standing in for the IPv4 wildcard of its port, whose
	                   * bind found the port in use (a specific IPv4 address listens on it):
	                   * Exim 4.96 carries on and says "port N (IPv6 with IPv4)" */
	int port;
	int fd;           /* -1 until bound */
} listen_endpoint;

typedef struct listen_set {
	listen_endpoint *v;
	size_t n, cap;
} listen_set;

/* Build the endpoint list. interfaces and ports are the (already expanded) option values,
 * override the -oX argument or NULL. disable_ipv6 drops IPv6 items as Exim does.
 * Duplicates are removed. false + err (Exim-style wording) on a malformed item. */
bool listen_parse(const char *interfaces, const char *ports, const char *override,
	bool disable_ipv6, listen_set *out, xbuf *err);

/* Bind and listen on one endpoint (SO_REUSEADDR, close-on-exec, non-blocking). false + err
 * ("socket bind() to port 25 for address 127.0.0.1 failed: Address already in use") with errno
 * preserved. An IPv6 wildcard on a host without IPv6 returns false with errno EAFNOSUPPORT. */
bool listen_bind(listen_endpoint *e, int backlog, xbuf *err);

/* For an IPv4 wildcard endpoint: the bound IPv6 wildcard of the same port, which Exim lets stand
 * for it when its own bind finds the port in use; NULL otherwise. */
listen_endpoint *listen_ipv6_covers(listen_set *s, const listen_endpoint *e);

/* Exim's description: "port 25 (IPv6 and IPv4)", "[127.0.0.1]:{2525,2526}", items in order,
 * joined by spaces. Only endpoints with fd >= 0 are described. */
void listen_describe(const listen_set *s, xbuf *out);

/* What the daemon's start line says after "listening for ": "SMTP on <plain endpoints>", with
 * " and for SMTPS on <endpoints>" when some ports are tls_on_connect_ports ones (is_smtps true),
 * or "SMTPS on ..." alone when all are (as Exim 4.96 words it). Each part is described as
 * listen_describe does, in list order. is_smtps NULL: no SMTPS ports. */
void listen_describe_services(const listen_set *s, bool (*is_smtps)(int port), xbuf *out);

/* A socket address (struct sockaddr_in or sockaddr_in6, as from getpeername) as an ip_addr and
 * port; IPv4-mapped IPv6 addresses become IPv4, as Exim shows them. */
void listen_sockaddr_ip(const void *sockaddr, ip_addr *out, int *port);

/* Close every bound socket. */
void listen_close_all(listen_set *s);
/* Release the list (sockets are not closed). */
void listen_set_free(listen_set *s);

#endif
