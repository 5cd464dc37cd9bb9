/* The callout cache in the hints tools: Postern keys its records "D:<domain>" and
 * "A:<address>" (src/core/callout_cache.c); Exim's keys are the bare domain or address. The
 * tools show Exim's keys and Exim 4.96's dump lines (recorded from exim_dumpdb after -bhc
 * callouts):
 *   21-Nov-2026 19:29:47 good@d.example callout=accept
 *   21-Nov-2026 19:29:47 d.example callout=accept postmaster=accept (21-Nov-2026 19:29:47) random=reject (21-Nov-2026 19:29:47)
 * The first time is when the record was written (the newest part of a domain record). */
#include "core/callout_cache.h"
#include "prog/hints_format.h"

sv hints_callout_key(sv key)
{
	if (key.len >= 2 && (key.p[0] == 'A' || key.p[0] == 'D') && key.p[1] == ':')
		return sv_sub(key, 2, key.len);
	return key;
}

static const char *result_word(cc_result r)
{
	return r == CC_ACCEPT ? "accept" : r == CC_REJECT ? "reject" : "unknown";
}

bool hints_callout_format(sv key, sv value, xbuf *out)
{
	cc_domain d;
	long long stamp;
	cc_result r;
	if (key.len >= 2 && key.p[0] == 'D' && cc_domain_decode(value, &d)) {
		long long t = d.stamp > d.pm_stamp ? d.stamp : d.pm_stamp;
		hints_put_time(out, (time_t)(t > d.random_stamp ? t : d.random_stamp));
		xbuf_putc(out, ' ');
		hints_put_printable(out, hints_callout_key(key));
		xbuf_printf(out, " callout=%s postmaster=%s", result_word(d.result), result_word(d.postmaster));
		if (d.postmaster != CC_UNKNOWN) {
			xbuf_puts(out, " (");
			hints_put_time(out, (time_t)d.pm_stamp);
			xbuf_putc(out, ')');
		}
		xbuf_printf(out, " random=%s", result_word(d.random));
		if (d.random != CC_UNKNOWN) {
			xbuf_puts(out, " (");
			hints_put_time(out, (time_t)d.random_stamp);
			xbuf_putc(out, ')');
		}
		xbuf_putc(out, '\n');
		return true;
	}
	if (key.len >= 2 && key.p[0] == 'A' && cc_address_decode(value, &stamp, &r)) {
		hints_put_time(out, (time_t)stamp);
		xbuf_putc(out, ' ');
		hints_put_printable(out, hints_callout_key(key));
		xbuf_printf(out, " callout=%s\n", result_word(r));
		return true;
	}
	return false;
}
