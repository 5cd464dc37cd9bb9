/* iplsearch: an lsearch-format file whose keys are IP addresses or CIDR networks (IPv6 keys
 * quoted); the first key containing the lookup address wins. */
#include "drivers/lookups/lsearch_file.h"
#include "lib/ip.h"

static int match_net(sv filekey, sv key, void *ctx, xbuf *err)
{
	const ip_addr *ip = ctx;
	ip_addr net;
	int bits;
	if (ip_parse_cidr(filekey, &net, &bits))
		;
	else if (ip_parse(filekey, &net))
		bits = ip_max_bits(&net);
	else
		return SEARCH_FAIL;
	return net.family == ip->family && ip_in_net(ip, &net, bits) ? SEARCH_OK : SEARCH_FAIL;
}

static int iplsearch_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	ip_addr parsed, ip;
	if (!ip_parse(key, &parsed)) {
		xbuf_printf(errmsg, "\"" SV_FMT "\" is not a valid iplsearch key (an IP address, with optional "
			"CIDR mask, is wanted): in a host list, use net-iplsearch as the search type", SV_ARG(key));
		return SEARCH_DEFER;
	}
	ip_unmap(&parsed, &ip); /* "::ffff:1.2.3.4" is looked up as 1.2.3.4 */
	return lsearch_scan(handle, key, match_net, &ip, lsearch_opt_ret_full(opts), result, errmsg);
}

const lookup_info lookup_iplsearch = {
	.name = "iplsearch", .type = LOOKUP_SINGLEKEY,
	.open = lsearch_open, .check = lsearch_check, .find = iplsearch_find, .close = lsearch_close,
};
