/* iplsearch: an lsearch-format file whose keys are IP addresses or CIDR networks (IPv6 keys
 * quoted); the first key containing the lookup address wins. */
#include "drivers/lookups/lsearch_file.h"
#include "search/match_internal.h"

static int match_net(sv filekey, sv key, void *ctx, xbuf *err)
{
	const match_ip *ip = ctx;
	match_ip net;
	int bits;
	if (!match_ip_parse_cidr(filekey, &net, &bits) || net.family != ip->family)
		return SEARCH_FAIL;
	for (int i = 0; i < bits / 8; i++)
		if (ip->b[i] != net.b[i])
			return SEARCH_FAIL;
	if (bits % 8) {
		uint8_t m = (uint8_t)(0xff << (8 - bits % 8));
		if ((ip->b[bits / 8] & m) != (net.b[bits / 8] & m))
			return SEARCH_FAIL;
	}
	return SEARCH_OK;
}

static int iplsearch_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	match_ip ip;
	if (!match_ip_parse(key, &ip)) {
		xbuf_printf(errmsg, "\"" SV_FMT "\" is not a valid iplsearch key (an IP address, with optional "
			"CIDR mask, is wanted): in a host list, use net-iplsearch as the search type", SV_ARG(key));
		return SEARCH_DEFER;
	}
	return lsearch_scan(handle, key, match_net, &ip, lsearch_opt_ret_full(opts), result, errmsg);
}

const lookup_info lookup_iplsearch = {
	.name = "iplsearch", .type = LOOKUP_SINGLEKEY,
	.open = lsearch_open, .find = iplsearch_find, .close = lsearch_close,
};
