/* The callout parameters of a verify condition (Exim 4.96 "Additional parameters for
 * callouts"): "/callout" or "/callout=p1,p2,..." among the condition's "/" options, plus the
 * older separate options "callout_defer_ok" and "check_postmaster". A parameter that is not a
 * keyword is a time (the per-command timeout), so a misspelt keyword is reported as a bad time
 * value, as Exim reports it. */
#include <string.h>

#include "conf/conf_internal.h"
#include "core/callout.h"

static sv range(sv v, size_t start, size_t end)
{
	return sv_sub(v, start, end > start ? end - start : 0);
}

static bool keyword_value(sv p, const char *name, sv *value)
{
	size_t n = strlen(name);
	if (p.len <= n || memcmp(p.p, name, n) != 0)
		return false;
	sv rest = sv_trim(sv_sub(p, n, p.len));
	if (!rest.len || rest.p[0] != '=')
		return false;
	*value = sv_trim(sv_sub(rest, 1, rest.len));
	return true;
}

static bool bad_time(sv cond, xbuf *err)
{
	xbuf_printf(err, "bad time value in ACL condition \"verify " SV_FMT "\"", SV_ARG(cond));
	return false;
}

static bool parse_params(sv params, bool header_sender, sv cond, callout_opts *o, xbuf *err)
{
	size_t i = 0;
	while (i <= params.len) {
		size_t e = i;
		while (e < params.len && params.p[e] != ',')
			e++;
		sv p = sv_trim(range(params, i, e));
		i = e + 1;
		if (!p.len)
			continue;
		sv v;
		int t;
		if (sv_eq_cstr(p, "defer_ok"))
			o->defer_ok = true;
		else if (sv_eq_cstr(p, "no_cache"))
			o->no_cache = true;
		else if (sv_eq_cstr(p, "random"))
			o->random = true;
		else if (sv_eq_cstr(p, "use_sender"))
			o->use_sender = true;
		else if (sv_eq_cstr(p, "use_postmaster"))
			o->use_postmaster = true;
		else if (sv_eq_cstr(p, "hold"))
			o->hold = true;
		else if (sv_eq_cstr(p, "postmaster")) {
			o->postmaster = true;
			o->postmaster_mailfrom = SV_LIT("");
		} else if (sv_eq_cstr(p, "fullpostmaster")) {
			o->postmaster = o->fullpostmaster = true;
			o->postmaster_mailfrom = SV_LIT("");
		} else if (keyword_value(p, "postmaster_mailfrom", &v)) {
			o->postmaster = true;
			o->postmaster_mailfrom = v;
		} else if (keyword_value(p, "mailfrom", &v)) {
			if (!header_sender) {
				xbuf_printf(err, "\"mailfrom\" is allowed as a callout option only for verify=header_sender "
					"(detected in ACL condition \"" SV_FMT "\")", SV_ARG(cond));
				return false;
			}
			o->mailfrom = v;
			o->has_mailfrom = true;
		} else if (keyword_value(p, "maxwait", &v)) {
			if (!conf_parse_time(v, &t) || t < 0)
				return bad_time(cond, err);
			o->maxwait = t;
		} else if (keyword_value(p, "connect", &v)) {
			if (!conf_parse_time(v, &t) || t < 0)
				return bad_time(cond, err);
			o->connect_timeout = t;
		} else if (conf_parse_time(p, &t) && t >= 0) {
			o->timeout = t;
		} else {
			return bad_time(cond, err);
		}
	}
	return true;
}

bool callout_opts_parse(sv options, bool header_sender, sv cond, callout_opts *o, xbuf *err)
{
	memset(o, 0, sizeof *o);
	o->timeout = 30;
	o->connect_timeout = -1;
	o->maxwait = -1;
	for (size_t i = 0; i < options.len;) {
		size_t e = i + (options.p[i] == '/');
		while (e < options.len && options.p[e] != '/')
			e++;
		sv params;
		sv item = sv_trim(range(options, i + (options.p[i] == '/'), e));
		i = e;
		if (sv_eq_cstr(item, "callout")) {
			o->enabled = true;
		} else if (keyword_value(item, "callout", &params)) {
			o->enabled = true;
			if (!parse_params(params, header_sender, cond, o, err))
				return false;
		} else if (sv_eq_cstr(item, "callout_defer_ok")) {
			o->defer_ok = true;
		} else if (sv_eq_cstr(item, "check_postmaster")) {
			o->postmaster = true;
			o->postmaster_mailfrom = SV_LIT("");
		}
	}
	if (o->connect_timeout < 0)
		o->connect_timeout = o->timeout;
	if (o->maxwait < 0)
		o->maxwait = 4 * o->timeout;
	return true;
}
