/* tls_on_connect_ports: which listening ports start TLS at once (built with or without OpenSSL,
 * so the daemon can ask either way). */
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/list.h"
#include "tls/tls.h"

bool tls_on_connect_port(int port)
{
	const char *l = conf_main.tls_on_connect_ports;
	if (!l || !*l) return false;
	list_iter it;
	list_iter_init(&it, sv_cstr(l), 0);
	xbuf item;
	xbuf_init(&item, NULL);
	bool found = false;
	while (!found && list_next(&it, &item)) {
		char *end;
		long p = strtol(xbuf_cstr(&item), &end, 10);
		if (!item.len) continue;
		if (*end != '\0') {
			/* A service name ("smtps"), as the daemon's port lists allow. */
			struct servent *se = getservbyname(xbuf_cstr(&item), "tcp");
			p = se ? ntohs((unsigned short)se->s_port) : -1;
		}
		if (p == port) found = true;
	}
	xbuf_free(&item);
	return found;
}
