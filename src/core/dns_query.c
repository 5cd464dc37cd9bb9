/* Building DNS queries, and the resolver configuration: the dns_servers main option (beyond
 * Exim), else /etc/resolv.conf, with Exim's dns_retrans / dns_retry / dns_use_edns0 /
 * dns_dnssec_ok applied over the resolver's defaults. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/dns_internal.h"
#include "lib/ip.h"
#include "lib/list.h"
#include "lib/log.h"

bool dns_name_queryable(sv name)
{
	uint8_t q[DNS_HDR_LEN + 300];
	return dns_build_query(q, sizeof q, 0, name, DNS_T_MX, false, false) != 0;
}

size_t dns_build_query(uint8_t *buf, size_t cap, uint16_t id, sv name, int type, bool edns,
	bool dnssec_ok)
{
	if (cap < DNS_HDR_LEN + 256 + 4 + 11)
		return 0;
	memset(buf, 0, DNS_HDR_LEN);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01;           /* RD */
	buf[5] = 1;              /* QDCOUNT */
	buf[11] = edns ? 1 : 0;  /* ARCOUNT */
	size_t off = DNS_HDR_LEN;
	if (name.len && name.p[name.len - 1] == '.') {
		/* A trailing dot is the root unless escaped (an odd number of backslashes before it). */
		size_t bs = 0;
		while (bs + 1 < name.len && name.p[name.len - 2 - bs] == '\\')
			bs++;
		if (bs % 2 == 0)
			name.len--;
	}
	size_t i = 0;
	while (i < name.len) {
		size_t lenpos = off++;
		size_t l = 0;
		while (i < name.len && name.p[i] != '.') {
			uint8_t c = (uint8_t)name.p[i++];
			if (c == '\\') {
				if (i >= name.len)
					return 0;
				if (i + 2 < name.len && isdigit((unsigned char)name.p[i]) &&
					isdigit((unsigned char)name.p[i + 1]) && isdigit((unsigned char)name.p[i + 2])) {
					int v = (name.p[i] - '0') * 100 + (name.p[i + 1] - '0') * 10 + (name.p[i + 2] - '0');
					if (v > 255)
						return 0;
					c = (uint8_t)v;
					i += 3;
				} else {
					c = (uint8_t)name.p[i++];
				}
			}
			if (++l > 63 || off - DNS_HDR_LEN >= 254)
				return 0;
			buf[off++] = c;
		}
		if (l == 0)
			return 0; /* empty label: "a..b" or a leading dot */
		buf[lenpos] = (uint8_t)l;
		if (i < name.len) {
			i++; /* the separating dot */
			if (i == name.len)
				return 0; /* "a.." (one trailing dot was already removed) */
		}
	}
	buf[off++] = 0;
	buf[off++] = (uint8_t)(type >> 8);
	buf[off++] = (uint8_t)type;
	buf[off++] = 0;
	buf[off++] = 1; /* class IN */
	if (edns) {
		buf[off++] = 0;                      /* root owner */
		buf[off++] = 0; buf[off++] = DNS_T_OPT;
		buf[off++] = DNS_MAX_UDP >> 8; buf[off++] = DNS_MAX_UDP & 0xff;
		buf[off++] = 0; buf[off++] = 0;      /* extended rcode, version */
		buf[off++] = dnssec_ok ? 0x80 : 0; buf[off++] = 0;
		buf[off++] = 0; buf[off++] = 0;      /* RDLEN */
	}
	return off;
}

/* ---- configuration ---- */

static bool add_server(dns_config *cfg, const ip_addr *ip, long port)
{
	if (cfg->nservers >= sizeof cfg->servers / sizeof cfg->servers[0])
		return true; /* like libc, extra servers are ignored */
	dns_server *s = &cfg->servers[cfg->nservers++];
	ip_addr u;
	ip_unmap(ip, &u);
	s->family = u.family == 4 ? AF_INET : AF_INET6;
	memcpy(s->addr, u.b, u.family == 4 ? 4 : 16);
	s->port = (uint16_t)port;
	return true;
}

/* One dns_servers item: "ip", "ip.port" (Exim's local_interfaces style), "[ip]:port", or
 * "a.b.c.d:port". */
static bool parse_server_item(sv item, dns_config *cfg)
{
	ip_addr ip;
	long long port = 53;
	if (ip_parse(item, &ip))
		return add_server(cfg, &ip, port);
	if (item.len > 2 && item.p[0] == '[') {
		const char *close = memchr(item.p, ']', item.len);
		if (!close)
			return false;
		sv addr = sv_sub(item, 1, (size_t)(close - item.p) - 1);
		sv rest = sv_sub(item, (size_t)(close - item.p) + 1, item.len);
		if (!ip_parse(addr, &ip))
			return false;
		if (rest.len) {
			if (rest.p[0] != ':' || !sv_to_long(sv_sub(rest, 1, rest.len), &port))
				return false;
		}
	} else if (memchr(item.p, ':', item.len) && ip_parse(sv_sub(item, 0,
			(size_t)((const char *)memrchr(item.p, ':', item.len) - item.p)), &ip) && ip.family == 4) {
		/* "a.b.c.d:port" (written "a.b.c.d::port" in a colon-separated list, as redis_servers) */
		const char *colon = memrchr(item.p, ':', item.len);
		if (!sv_to_long(sv_sub(item, (size_t)(colon - item.p) + 1, item.len), &port))
			return false;
	} else {
		const char *dot = NULL;
		for (size_t i = item.len; i > 0; i--)
			if (item.p[i - 1] == '.') {
				dot = item.p + i - 1;
				break;
			}
		if (!dot || !ip_parse(sv_sub(item, 0, (size_t)(dot - item.p)), &ip) ||
			!sv_to_long(sv_sub(item, (size_t)(dot - item.p) + 1, item.len), &port))
			return false;
	}
	if (port < 1 || port > 65535)
		return false;
	return add_server(cfg, &ip, port);
}

bool dns_parse_servers(const char *list, dns_config *cfg, xbuf *err)
{
	list_iter it;
	xbuf item;
	xbuf_init(&item, pool_scratch);
	list_iter_init(&it, sv_cstr(list), 0);
	cfg->nservers = 0;
	while (list_next(&it, &item)) {
		if (!parse_server_item(xbuf_sv(&item), cfg)) {
			xbuf_printf(err, "dns_servers: \"%s\" is not an IP address, \"ip.port\" or \"[ip]:port\"",
				xbuf_cstr(&item));
			return false;
		}
	}
	return true;
}

void dns_parse_resolv_conf(sv text, dns_config *cfg)
{
	while (text.len) {
		const char *nl = memchr(text.p, '\n', text.len);
		sv line = nl ? sv_sub(text, 0, (size_t)(nl - text.p)) : text;
		text = nl ? sv_sub(text, (size_t)(nl - text.p) + 1, text.len) : sv_sub(text, text.len, 0);
		/* words */
		sv w[16];
		size_t nw = 0;
		size_t i = 0;
		while (i < line.len && nw < 16) {
			while (i < line.len && isspace((unsigned char)line.p[i]))
				i++;
			size_t s = i;
			while (i < line.len && !isspace((unsigned char)line.p[i]))
				i++;
			if (i > s)
				w[nw++] = sv_sub(line, s, i - s);
		}
		if (nw == 0 || w[0].p[0] == '#' || w[0].p[0] == ';')
			continue;
		if (sv_eq_cstr(w[0], "nameserver") && nw >= 2) {
			ip_addr ip;
			sv zone;
			if (ip_parse_zone(w[1], &ip, &zone))
				add_server(cfg, &ip, 53);
		} else if (sv_eq_cstr(w[0], "options")) {
			for (size_t k = 1; k < nw; k++) {
				long long v;
				if (sv_starts(w[k], "timeout:") && sv_to_long(sv_sub(w[k], 8, w[k].len), &v) && v >= 1)
					cfg->timeout = v > 30 ? 30 : (int)v;
				else if (sv_starts(w[k], "attempts:") && sv_to_long(sv_sub(w[k], 9, w[k].len), &v) && v >= 1)
					cfg->attempts = v > 5 ? 5 : (int)v;
				else if (sv_eq_cstr(w[k], "edns0"))
					cfg->edns0 = true;
				/* trust-ad is implied: the AD bit is reported as the server gives it */
			}
		}
	}
}

static dns_config config;
static bool config_loaded;

void dns_config_reset(void)
{
	config_loaded = false;
}

static void load_resolv_conf(dns_config *cfg)
{
	FILE *f = fopen("/etc/resolv.conf", "r");
	if (!f)
		return;
	char buf[16384];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	dns_parse_resolv_conf(sv_make(buf, n), cfg);
}

const dns_config *dns_config_get(void)
{
	if (config_loaded)
		return &config;
	memset(&config, 0, sizeof config);
	config.timeout = 5;
	config.attempts = 2;
	dns_config tmp = config;
	load_resolv_conf(&tmp);
	config.timeout = tmp.timeout;
	config.attempts = tmp.attempts;
	config.edns0 = tmp.edns0;
	if (conf_main.dns_servers && *conf_main.dns_servers) {
		xbuf err;
		xbuf_init(&err, pool_scratch);
		if (!dns_parse_servers(conf_main.dns_servers, &config, &err)) {
			/* No servers at all rather than a guess: every lookup is a temporary failure. */
			log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
			config.nservers = 0;
		}
	} else {
		memcpy(config.servers, tmp.servers, sizeof tmp.servers);
		config.nservers = tmp.nservers;
		if (config.nservers == 0) {
			ip_addr lo = { .family = 4, .b = { 127, 0, 0, 1 } };
			add_server(&config, &lo, 53); /* libc's default */
		}
	}
	if (conf_main.dns_retrans > 0)
		config.timeout = conf_main.dns_retrans;
	if (conf_main.dns_retry > 0)
		config.attempts = conf_main.dns_retry;
	if (conf_main.dns_use_edns0 >= 0)
		config.edns0 = conf_main.dns_use_edns0 > 0;
	if (conf_main.dns_dnssec_ok >= 0)
		config.dnssec_ok = conf_main.dns_dnssec_ok > 0;
	config_loaded = true;
	return &config;
}
