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
	/* the wildcard is the text "::0" or "0.0.0.0"; other spellings are one address, shown as
	 * written (exim -bdf start lines) */
	{ "<; ::", "2598", NULL, false, "[::]:2598", NULL },
	{ "<; ::00", "2598", NULL, false, "[::00]:2598", NULL },
	{ "<; 0:0:0:0:0:0:0:0", "2598", NULL, false, "[0:0:0:0:0:0:0:0]:2598", NULL },
	{ "<; [::0]:2598 ; [0.0.0.0]:2598", "25", NULL, false, "port 2598 (IPv6 and IPv4)", NULL },
	{ "<; 0.0.0.0 ; ::0", "2598", NULL, false, "port 2598 (IPv6 and IPv4)", NULL },
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

/* tls_on_connect_ports of the SMTPS cases: 2602 and 2603. */
static bool smtps_2602_2603(int port)
{
	return port == 2602 || port == 2603;
}

typedef struct services_case {
	const char *ifaces, *ports, *override;
	const char *describe;  /* what follows "listening for " */
} services_case;

/* Each recorded from "exim -bd" (Exim 4.96) with tls_on_connect_ports = 2602 : 2603. */
static const services_case services_cases[] = {
	{ "127.0.0.1", "2601", NULL, "SMTP on [127.0.0.1]:2601" },
	{ "127.0.0.1", "2601 : 2602", NULL, "SMTP on [127.0.0.1]:2601 and for SMTPS on [127.0.0.1]:2602" },
	{ NULL, "2601 : 2602", NULL,
	  "SMTP on port 2601 (IPv6 and IPv4) and for SMTPS on port 2602 (IPv6 and IPv4)" },
	{ "<; 127.0.0.1 ; ::1", "2601 : 2602 : 2603", NULL,
	  "SMTP on [127.0.0.1]:2601 [::1]:2601 and for SMTPS on [127.0.0.1]:{2602,2603} [::1]:{2602,2603}" },
	{ "<; 127.0.0.1 ; ::1", "2602 : 2601", NULL,
	  "SMTP on [127.0.0.1]:2601 [::1]:2601 and for SMTPS on [127.0.0.1]:2602 [::1]:2602" },
	{ "<; 127.0.0.1 ; 0.0.0.0.2604 ; ::1", "2601 : 2602", NULL,
	  "SMTP on [127.0.0.1]:2601 port 2604 (IPv4) [::1]:2601 and for SMTPS on [127.0.0.1]:2602 [::1]:2602" },
	{ NULL, "25", "<; 127.0.0.1.2601 ; 127.0.0.1.2602 ; [::1]:2602",
	  "SMTP on [127.0.0.1]:2601 and for SMTPS on [127.0.0.1]:2602 [::1]:2602" },
	{ NULL, "25", "2602", "SMTPS on port 2602 (IPv6 and IPv4)" },
	{ "127.0.0.1", "25", "2602", "SMTPS on [127.0.0.1]:2602" },
	{ NULL, "2603 : 2602", NULL, "SMTPS on port 2603 (IPv6 and IPv4) port 2602 (IPv6 and IPv4)" },
};

static void test_describe_services(void)
{
	for (size_t i = 0; i < sizeof services_cases / sizeof services_cases[0]; i++) {
		const services_case *c = &services_cases[i];
		listen_set s;
		xbuf err, desc;
		xbuf_init(&err, NULL);
		xbuf_init(&desc, NULL);
		CHECK(listen_parse(c->ifaces, c->ports, c->override, false, &s, &err));
		for (size_t k = 0; k < s.n; k++)
			s.v[k].fd = 100;
		listen_describe_services(&s, smtps_2602_2603, &desc);
		CHECK_STR(xbuf_cstr(&desc), c->describe);
		xbuf_truncate(&desc, 0);
		/* No tls_on_connect_ports: everything is plain SMTP. */
		listen_describe_services(&s, NULL, &desc);
		CHECK(strncmp(xbuf_cstr(&desc), "SMTP on ", 8) == 0 && !strstr(xbuf_cstr(&desc), "SMTPS"));
		listen_set_free(&s);
		xbuf_free(&err);
		xbuf_free(&desc);
	}
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
	RUN(test_describe_services);
	RUN(test_bind_and_in_use);
	return unit_report("test_listen");
}
