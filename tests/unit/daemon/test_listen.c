/* listen_parse and listen_describe: the endpoint list from local_interfaces, daemon_smtp_ports
 * and -oX, and the description Exim 4.96 logs for it (recorded from Debian's Exim). */
#include "../unit.h"

#include "core/listen.h"
#include "lib/arena.h"

typedef struct parse_case {
	const char *ifaces, *ports, *override;
	bool disable_ipv6;
	const char *describe;  /* NULL: parse must fail with err */
	const char *err;
} parse_case;

static const parse_case cases[] = {
	{ NULL, "2525 : 2526", NULL, false, "port 2525 (IPv6 and IPv4) port 2526 (IPv6 and IPv4)", NULL },
	{ "0.0.0.0", "2525", NULL, false, "port 2525 (IPv4)", NULL },
	{ "<; ::0", "2525", NULL, false, "port 2525 (IPv6)", NULL },
	{ "<; ::0 ; 0.0.0.0", "2525", NULL, true, "port 2525 (IPv4)", NULL },
	{ "<; 127.0.0.1 ; ::1", "2525 : 2526", NULL, false, "[127.0.0.1]:{2525,2526} [::1]:{2525,2526}", NULL },
	{ "<; 127.0.0.1.2527 ; 0.0.0.0 ; [::1]:2528", "2525", NULL, false, "[127.0.0.1]:2527 port 2525 (IPv4) [::1]:2528", NULL },
	{ "127.0.0.1 : 127.0.0.1", "25", NULL, false, "[127.0.0.1]:25", NULL },   /* duplicates dropped */
	{ "<; ::ffff:1.2.3.4", "25", NULL, false, "[::ffff:1.2.3.4]:25", NULL },
	{ NULL, "smtp", NULL, false, "port 25 (IPv6 and IPv4)", NULL },            /* service name */
	/* -oX: port items replace the ports, address items the interfaces */
	{ NULL, "2525", "2529", false, "port 2529 (IPv6 and IPv4)", NULL },
	{ NULL, "2525", "<;127.0.0.1.2529;::1.2530", false, "[127.0.0.1]:2529 [::1]:2530", NULL },
	{ NULL, "2525", "127.0.0.1:2531", false, "[127.0.0.1]:2531", NULL },
	{ "0.0.0.0", "2525", "2532:127.0.0.2", false, "[127.0.0.2]:2532", NULL },
	{ "10.0.0.1", "25", "2533", false, "[10.0.0.1]:2533", NULL },
	/* errors, with Exim's wording */
	{ "1.2.3", "25", NULL, false, NULL, "Malformed IP address \"1.2.3\" in local_interfaces" },
	{ "127.0.0.1.smtp", "25", NULL, false, NULL, "Malformed IP address \"127.0.0.1.smtp\" in local_interfaces" },
	{ "[127.0.0.1]:x", "25", NULL, false, NULL, "Malformed IP address \"x\" in local_interfaces" },
	{ "[127.0.0.1", "25", NULL, false, NULL, "Malformed IP address \"[127.0.0.1\" in local_interfaces" },
	{ "127.0.0.1.70000", "25", NULL, false, NULL, "Malformed IP address \"127.0.0.1.70000\" in local_interfaces" },
	{ NULL, "nosuchsvc", NULL, false, NULL, "Exim configuration error:\n  TCP port \"nosuchsvc\" not found" },
	{ NULL, "0", NULL, false, NULL, "Exim configuration error:\n  TCP port \"0\" not found" },
	{ "<; ::1", "25", NULL, true, NULL, "no addresses to listen on (local_interfaces is empty)" },
};

static void test_parse_table(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const parse_case *c = &cases[i];
		listen_set s;
		xbuf err, desc;
		xbuf_init(&err, NULL);
		xbuf_init(&desc, NULL);
		bool ok = listen_parse(c->ifaces, c->ports, c->override, c->disable_ipv6, &s, &err);
		if (!c->describe) {
			CHECK(!ok);
			CHECK_STR(xbuf_cstr(&err), c->err);
		} else {
			CHECK(ok);
			for (size_t k = 0; k < s.n; k++)
				s.v[k].fd = 100;  /* describe only lists bound endpoints */
			listen_describe(&s, &desc);
			CHECK_STR(xbuf_cstr(&desc), c->describe);
			if (!ok)
				fprintf(stderr, "case %zu: %s\n", i, xbuf_cstr(&err));
		}
		listen_set_free(&s);
		xbuf_free(&err);
		xbuf_free(&desc);
	}
}

static void test_describe_skips_unbound(void)
{
	listen_set s;
	xbuf err, desc;
	xbuf_init(&err, NULL);
	xbuf_init(&desc, NULL);
	CHECK(listen_parse(NULL, "25", NULL, false, &s, &err));
	CHECK_INT(s.n, 2);
	/* no IPv6 on the host: only the IPv4 wildcard got a socket */
	for (size_t k = 0; k < s.n; k++)
		s.v[k].fd = s.v[k].addr.family == 4 ? 100 : -1;
	listen_describe(&s, &desc);
	CHECK_STR(xbuf_cstr(&desc), "port 25 (IPv4)");
	listen_set_free(&s);
	xbuf_free(&err);
	xbuf_free(&desc);
}

static void test_bind_and_in_use(void)
{
	listen_set s;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(listen_parse("127.0.0.1", "1", NULL, false, &s, &err));
	s.v[0].port = 0;  /* any free port */
	CHECK(listen_bind(&s.v[0], 5, &err));
	CHECK(s.v[0].fd >= 0);
	listen_close_all(&s);
	CHECK_INT(s.v[0].fd, -1);
	listen_set_free(&s);
	xbuf_free(&err);
}

int main(void)
{
	arena_init_pools();
	RUN(test_parse_table);
	RUN(test_describe_skips_unbound);
	RUN(test_bind_and_in_use);
	return unit_report("test_listen");
}
