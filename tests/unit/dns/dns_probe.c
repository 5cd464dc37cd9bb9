/* A test driver for the DNS entry points that have no command-line mode of their own yet
 * (the dnslists condition, host-name lookup with forward confirmation, host addresses, the
 * host-list hook, @mx_* items). tests/scenario/test_dns_*.py runs it against a real DNS server:
 *
 *   dns_probe CONFIG dnslists SPEC IP      -> "rc=N" then domain=/matched=/value=/text= lines
 *   dns_probe CONFIG hostname IP           -> "rc=N name=... aliases=a,b"
 *   dns_probe CONFIG addresses HOST        -> "rc=N" then one address per line
 *   dns_probe CONFIG hostlist LIST IP      -> "rc=N" (SEARCH_OK 0 / FAIL 1 / DEFER 2)
 *   dns_probe CONFIG mx DOMAIN ITEM        -> "rc=N"
 *   dns_probe CONFIG csa DOMAIN IP         -> "<csa_status> [<message>]"
 *   dns_probe CONFIG lookup NAME TYPE [again] -> "rc=N ..." then records (TYPE is a number);
 *                                          with "again": then prints "READY", waits for a line on
 *                                          stdin (the test stops the server) and asks again, so the
 *                                          second answer can only come from the cache
 *
 * rc values are those of dns.h (DNS_SUCCEED 0, NOMATCH 1, NODATA 2, AGAIN 3, FAIL 4) except for
 * dnslists (0/1/2) and hostlist/mx (SEARCH_*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "core/dns.h"
#include "search/match.h"

static void print_sv(const char *label, sv v)
{
	printf("%s=%.*s\n", label, (int)v.len, v.p ? v.p : "");
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: dns_probe CONFIG MODE ARGS...\n");
		return 2;
	}
	arena_init_pools();
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!conf_load(argv[1], NULL, 0, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 2;
	}
	dns_install_match_hooks();
	const char *mode = argv[2];
	arena *a = pool_perm;
	if (strcmp(mode, "dnslists") == 0 && argc == 5) {
		dnslist_vars v = { 0 };
		int rc = dns_dnslists(a, NULL, sv_cstr(argv[3]), sv_cstr(argv[4]), &v, &err);
		printf("rc=%d\n", rc);
		if (rc == 1) {
			print_sv("domain", v.domain);
			print_sv("matched", v.matched);
			print_sv("value", v.value);
			print_sv("text", v.text);
		}
		if (rc == 2)
			printf("err=%s\n", xbuf_cstr(&err));
	} else if (strcmp(mode, "hostname") == 0) {
		sv name, *aliases;
		size_t n;
		dns_rc rc = dns_host_name_lookup(a, sv_cstr(argv[3]), &name, &aliases, &n);
		printf("rc=%d name=%.*s aliases=", rc, (int)name.len, name.p ? name.p : "");
		for (size_t i = 0; i < n; i++)
			printf("%s%.*s", i ? "," : "", (int)aliases[i].len, aliases[i].p);
		printf("\n");
	} else if (strcmp(mode, "addresses") == 0) {
		sv *addrs;
		size_t n;
		dns_rc rc = dns_host_addresses(a, sv_cstr(argv[3]), &addrs, &n);
		printf("rc=%d\n", rc);
		for (size_t i = 0; i < n; i++)
			printf("%.*s\n", (int)addrs[i].len, addrs[i].p);
	} else if (strcmp(mode, "hostlist") == 0 && argc == 5) {
		match_ctx ctx = { 0 };
		int rc = match_isinlist(sv_cstr(argv[4]), sv_cstr(argv[3]), 0, MATCH_HOST, false, &ctx, &err);
		printf("rc=%d\n", rc);
	} else if (strcmp(mode, "csa") == 0 && argc == 5) {
		xbuf msg;
		xbuf_init(&msg, a);
		dns_csa_status st = dns_verify_csa(a, sv_cstr(argv[3]), sv_cstr(argv[4]), &msg);
		printf("%s [%s]\n", dns_csa_status_name(st), xbuf_cstr(&msg));
	} else if (strcmp(mode, "mx") == 0 && argc == 5) {
		int rc = dns_match_mx(sv_cstr(argv[3]), sv_cstr(argv[4]), &err);
		printf("rc=%d\n", rc);
	} else if (strcmp(mode, "lookup") == 0 && (argc == 5 || argc == 6)) {
		for (int round = 0; round < (argc == 6 ? 2 : 1); round++) {
			if (round) {
				printf("READY\n");
				fflush(stdout);
				char line[16];
				if (!fgets(line, sizeof line, stdin))
					return 2;
			}
			dns_answer ans;
			dns_rc rc = dns_lookup(a, sv_cstr(argv[3]), atoi(argv[4]), &ans);
			printf("rc=%d authentic=%d canonical=%.*s\n", rc, ans.authentic, (int)ans.canonical.len,
				ans.canonical.p ? ans.canonical.p : "");
			for (dns_rr *rr = ans.rrs; rr; rr = rr->next)
				printf("%.*s %.*s\n", (int)rr->name.len, rr->name.p, (int)rr->text.len, rr->text.p);
		}
	} else {
		fprintf(stderr, "dns_probe: bad arguments\n");
		return 2;
	}
	return 0;
}
