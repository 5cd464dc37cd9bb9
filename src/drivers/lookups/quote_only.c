/* Quoting functions of lookups Postern does not build (ldap, ldapdn, ldapm, mysql).
 *
 * ${quote_ldap:}, ${quote_ldap_dn:} and ${quote_mysql:} are pure string transformations that
 * Exim offers whenever those lookups are compiled in (Debian's 4.96 has them), and configurations
 * use them to build queries for external programs too. Postern keeps the operators without the
 * lookups. The results carry no quoter id: no lookup here accepts them as its own quoting, just as
 * in Exim a value quoted for mysql is not accepted by pgsql. */
#include "search/search.h"

#include <string.h>

static bool unknown_option(const char *name, sv opt, xbuf *errmsg)
{
	xbuf_printf(errmsg, "\"" SV_FMT "\" unrecognized after \"${quote_%s\"", SV_ARG(opt), name);
	return false;
}

/* URL-encode one byte: alphanumerics and ! $ ' - . _ ( ) * + stay, the rest become %XX. */
static void url_byte(unsigned char c, xbuf *out)
{
	static const char safe[] = "!$'-._()*+";
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c && strchr(safe, c)))
		xbuf_putc(out, (char)c);
	else
		xbuf_printf(out, "%%%02X", c);
}

/* Filter quoting (RFC 2254: * ( ) \ as \XX) then URL quoting; with opt "dn", DN quoting
 * (RFC 2253: a backslash before , + " \ < > ; before leading spaces and #, and before trailing
 * spaces) then URL quoting. Exim's -be shows a string ends at a NUL byte. */
static bool ldap_quote_as(const char *name, sv in, sv opt, xbuf *out, xbuf *errmsg)
{
	const char *nul = in.len ? memchr(in.p, 0, in.len) : NULL;
	if (nul)
		in.len = (size_t)(nul - in.p);
	bool dn;
	if (!opt.p)
		dn = false;
	else if (sv_eq_cstr(opt, "dn"))
		dn = true;
	else
		return unknown_option(name, opt, errmsg);

	if (!dn) {
		for (size_t i = 0; i < in.len; i++) {
			unsigned char c = (unsigned char)in.p[i];
			if (c == '*' || c == '(' || c == ')' || c == '\\')
				xbuf_printf(out, "%%5C%02X", c);
			else
				url_byte(c, out);
		}
		return true;
	}
	size_t lead = 0, trail = in.len;
	while (lead < in.len && (in.p[lead] == ' ' || in.p[lead] == '#'))
		lead++;
	while (trail > lead && in.p[trail - 1] == ' ')
		trail--;
	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];
		if (i < lead || i >= trail || (c && strchr(",+\"\\<>;", c)))
			xbuf_puts(out, "%5C");
		url_byte(c, out);
	}
	return true;
}

static bool quote_ldap(sv in, sv opt, xbuf *out, xbuf *errmsg)
{
	return ldap_quote_as("ldap", in, opt, out, errmsg);
}
static bool quote_ldapdn(sv in, sv opt, xbuf *out, xbuf *errmsg)
{
	return ldap_quote_as("ldapdn", in, opt, out, errmsg);
}
static bool quote_ldapm(sv in, sv opt, xbuf *out, xbuf *errmsg)
{
	return ldap_quote_as("ldapm", in, opt, out, errmsg);
}

/* MySQL string-literal quoting: \b \t \n \r as escapes, a backslash before ' " and \. */
static bool quote_mysql(sv in, sv opt, xbuf *out, xbuf *errmsg)
{
	if (opt.p)
		return unknown_option("mysql", opt, errmsg);
	for (size_t i = 0; i < in.len && in.p[i]; i++) {
		char c = in.p[i];
		switch (c) {
		case '\b': xbuf_puts(out, "\\b"); break;
		case '\t': xbuf_puts(out, "\\t"); break;
		case '\n': xbuf_puts(out, "\\n"); break;
		case '\r': xbuf_puts(out, "\\r"); break;
		case '\'': case '"': case '\\':
			xbuf_putc(out, '\\');
			xbuf_putc(out, c);
			break;
		default: xbuf_putc(out, c);
		}
	}
	return true;
}

const lookup_quote_only lookup_quote_only_table[] = {
	{ "ldap", quote_ldap },
	{ "ldapdn", quote_ldapdn },
	{ "ldapm", quote_ldapm },
	{ "mysql", quote_mysql },
	{ NULL, NULL },
};
