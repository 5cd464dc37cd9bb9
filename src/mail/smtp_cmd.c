/* SMTP command parsing with Exim 4.96's observable behaviour (see smtp_cmd.h). */
#include "mail/smtp_cmd.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "lib/ip.h"

static const struct { const char *name; smtp_verb v; } verbs[] = {
	{ "helo", SMTP_HELO }, { "ehlo", SMTP_EHLO }, { "mail from:", SMTP_MAIL },
	{ "rcpt to:", SMTP_RCPT }, { "data", SMTP_DATA }, { "bdat", SMTP_BDAT },
	{ "rset", SMTP_RSET }, { "noop", SMTP_NOOP }, { "quit", SMTP_QUIT },
	{ "vrfy", SMTP_VRFY }, { "expn", SMTP_EXPN }, { "etrn", SMTP_ETRN },
	{ "help", SMTP_HELP }, { "auth", SMTP_AUTH }, { "starttls", SMTP_STARTTLS },
};

const char *smtp_verb_name(smtp_verb v)
{
	static const char *names[SMTP_VERB_COUNT] = {
		[SMTP_UNKNOWN] = "", [SMTP_HELO] = "HELO", [SMTP_EHLO] = "EHLO", [SMTP_MAIL] = "MAIL",
		[SMTP_RCPT] = "RCPT", [SMTP_DATA] = "DATA", [SMTP_BDAT] = "BDAT", [SMTP_RSET] = "RSET",
		[SMTP_NOOP] = "NOOP", [SMTP_QUIT] = "QUIT", [SMTP_VRFY] = "VRFY", [SMTP_EXPN] = "EXPN",
		[SMTP_ETRN] = "ETRN", [SMTP_HELP] = "HELP", [SMTP_AUTH] = "AUTH", [SMTP_STARTTLS] = "STARTTLS",
	};
	return (unsigned)v < SMTP_VERB_COUNT ? names[v] : "";
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

smtp_verb smtp_cmd_split(sv line, sv *arg)
{
	*arg = sv_sub(line, line.len, 0);
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		size_t n = strlen(verbs[i].name);
		if (line.len < n) continue;
		size_t k = 0;
		while (k < n && tolower((unsigned char)line.p[k]) == verbs[i].name[k]) k++;
		if (k < n) continue;
		/* Names without a colon must end at a space or the end of the line (Exim: not a tab,
		 * not a bare CR). */
		if (verbs[i].name[n - 1] != ':' && line.len > n && line.p[n] != ' ') continue;
		sv a = sv_sub(line, n, line.len - n);
		while (a.len && is_ws(a.p[0])) { a.p++; a.len--; }
		while (a.len && is_ws(a.p[a.len - 1])) a.len--;
		*arg = a;
		return verbs[i].v;
	}
	return SMTP_UNKNOWN;
}

/* ---- ESMTP parameters ------------------------------------------------------------------- */

/* The mutable argument: parameters are cut off its end one at a time, as Exim does, by
 * writing NULs into the buffer; an unknown parameter is put back (with the separators Exim
 * writes back) and ends the extraction. */
typedef struct optbuf {
	char *p;
	size_t len;     /* current length of the address part */
} optbuf;

/* Take the last "NAME=VALUE" or bare "WORD" off the end. *name and *value point into the
 * buffer; for a bare word they are the same pointer. The separator before the name becomes NUL. */
static bool extract_option(optbuf *b, char **name, char **value)
{
	if (b->len == 0) return false;
	char *s = b->p;
	char *v = s + b->len - 1;
	while (v > s && is_ws(*v)) v--;
	v[1] = '\0';
	b->len = (size_t)(v + 1 - s);
	while (v > s && *v != '=' && !is_ws(*v)) {
		if (*v == '"') {        /* a space inside a quoted local part does not separate */
			do v--; while (v > s && *v != '"');
			if (v <= s) return false;
		}
		v--;
	}
	if (v <= s) return false;
	char *n = v;
	if (*v == '=') {
		while (n > s && isalpha((unsigned char)n[-1])) n--;
		if (n <= s || !is_ws(n[-1])) return false;
		n[-1] = '\0';
		b->len = (size_t)(n - 1 - s);
	} else {
		n++;
		b->len = (size_t)(v - s);
	}
	*v++ = '\0';
	*name = n;
	*value = v;
	return true;
}

/* Put an unknown parameter back. MAIL restores the separators as they were (a bare word keeps
 * its space); RCPT always writes '=' before the value, which turns "a@b c" into "a@b=c" in its
 * error messages, as Exim 4.96 shows. */
static void restore_option(optbuf *b, char *name, char *value, bool rcpt_style)
{
	name[-1] = ' ';
	if (rcpt_style || value != name) value[-1] = '=';
	b->len = strlen(b->p);
}

static bool name_is(const char *name, const char *want)
{
	for (; *want; name++, want++)
		if (toupper((unsigned char)*name) != *want) return false;
	return *name == '\0';
}

/* SIZE=: leading digits as strtoul reads them; anything beyond INT_MAX (or negative, which
 * strtoul wraps) is INT_MAX. Junk gives 0. */
static long long parse_size(const char *v, bool *clamped)
{
	errno = 0;
	unsigned long long n = strtoull(v, NULL, 10);
	*clamped = false;
	if (errno == ERANGE || n > INT_MAX) { *clamped = true; return INT_MAX; }
	return (long long)n;
}

static void fail(smtp_addr_result *r, int code, const char *text)
{
	r->ok = false;
	r->code = code;
	r->why_off = 0;
	xbuf_reset(r->msg);
	xbuf_puts(r->msg, text);
}

static bool finish_address(optbuf *b, bool allow_null, bool utf8, const smtp_features *f, smtp_addr_result *r,
	uint8_t taint)
{
	xbuf *addr_out = r->addr;
	xbuf_reset(addr_out);
	sv s = { b->p, b->len, taint, 0 };
	r->cmd_data = s;
	xbuf why;
	xbuf_init(&why, r->msg->a);
	bool is_null = false, has_domain = false;
	if (!smtp_parse_address_opts(s, allow_null, f->allow_domain_literals, f->strip_trailing_dot, utf8,
			addr_out, &is_null, &has_domain, &why)) {
		r->ok = false;
		r->code = 501;
		xbuf_reset(r->msg);
		xbuf_printf(r->msg, SV_FMT ": ", SV_ARG(s));
		r->why_off = r->msg->len;   /* the SMTP syntax error log line shows the reason alone */
		xbuf_puts(r->msg, xbuf_cstr(&why));
		if (!why.a) xbuf_free(&why);
		return false;
	}
	if (!why.a) xbuf_free(&why);
	r->ok = true;
	r->code = 250;
	r->null_address = is_null;
	r->has_domain = has_domain;
	r->address = xbuf_sv(addr_out);
	r->address.taint = taint;
	return true;
}

static void copy_in(sv arg, char *work, optbuf *b)
{
	memcpy(work, arg.p, arg.len);
	work[arg.len] = '\0';
	b->p = work;
	b->len = arg.len;
}

bool smtp_parse_mail(sv arg, char *work, const smtp_features *f, smtp_mail_params *out, smtp_addr_result *r)
{
	memset(out, 0, sizeof *out);
	optbuf b;
	copy_in(arg, work, &b);
	char *name, *value;
	while (!f->no_params && extract_option(&b, &name, &value)) {
		bool bare = name == value;
		sv vv = { value, strlen(value), arg.taint, 0 };
		/* A known option that takes a value but came with an empty one: Exim drops it and
		 * takes no more (what is left before it goes to the address parser). */
		if (!bare && !*value && (name_is(name, "SIZE") || name_is(name, "BODY") || name_is(name, "AUTH")
				|| name_is(name, "RET") || name_is(name, "ENVID")))
			break;
		if (name_is(name, "SIZE") && !bare) {
			/* A value that is not a whole number is dropped and ends the extraction: what
			 * is left before it goes to the address parser (Exim). */
			char *end = NULL;
			(void)strtoll(value, &end, 10);
			if (!*value || !end || *end || end == value) break;
			out->size_given = true;
			out->size = parse_size(value, &out->size_clamped);
		} else if (name_is(name, "BODY") && !bare && !f->eightbitmime) {
			/* Exim drops a BODY it did not advertise and takes no more options: what is left
			 * before it goes to the address parser. */
			break;
		} else if ((name_is(name, "RET") || name_is(name, "ENVID")) && !bare && !f->dsn) {
			/* RET, ENVID and PRDR that were not advertised are taken and ignored. */
		} else if (name_is(name, "PRDR") && !f->prdr) {
		} else if (name_is(name, "SMTPUTF8") && bare && !f->smtputf8) {
			fail(r, 501, "SMTPUTF8 used when not advertised");
			return false;
		} else if (name_is(name, "BODY") && !bare && f->eightbitmime) {
			if (name_is(value, "8BITMIME")) out->body = 8;
			else if (name_is(value, "7BIT")) out->body = 7;
			else { fail(r, 501, "invalid data for BODY"); return false; }
		} else if (name_is(name, "RET") && !bare && f->dsn) {
			if (out->ret) { fail(r, 501, "RET can be specified once only"); return false; }
			if (name_is(value, "HDRS")) out->ret = 2;
			else if (name_is(value, "FULL")) out->ret = 1;
			else if (*value) { fail(r, 501, "Value for RET is invalid"); return false; }
		} else if (name_is(name, "ENVID") && !bare && f->dsn) {
			if (out->envid_given) { fail(r, 501, "ENVID can be specified once only"); return false; }
			out->envid_given = true;
			out->envid = vv;
		} else if (name_is(name, "AUTH") && !bare) {
			out->auth_given = true;
			out->auth = vv;
			if (out->n_auths < SMTP_MAIL_AUTH_MAX) out->auths[out->n_auths++] = vv;
		} else if (name_is(name, "PRDR") && f->prdr) {
			out->prdr = true;
		} else if (name_is(name, "SMTPUTF8") && bare && f->smtputf8) {
			out->smtputf8 = true;
		} else {
			restore_option(&b, name, value, false);
			break;
		}
	}
	return finish_address(&b, true, out->smtputf8 || f->utf8_addresses, f, r, arg.taint);
}

/* NOTIFY=NEVER or a comma list of SUCCESS FAILURE DELAY. */
static bool parse_notify(const char *v, unsigned *bits)
{
	*bits = 0;
	if (name_is(v, "NEVER")) { *bits = 0x02; return true; }
	const char *p = v;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char word[16];
		if (n == 0 || n >= sizeof word) return false;
		memcpy(word, p, n);
		word[n] = '\0';
		if (name_is(word, "SUCCESS")) *bits |= 0x04;
		else if (name_is(word, "FAILURE")) *bits |= 0x08;
		else if (name_is(word, "DELAY")) *bits |= 0x10;
		else return false;
		if (!e) return true;
		p = e + 1;
	}
}

bool smtp_parse_rcpt(sv arg, char *work, const smtp_features *f, smtp_rcpt_params *out, smtp_addr_result *r)
{
	memset(out, 0, sizeof *out);
	optbuf b;
	copy_in(arg, work, &b);
	char *name, *value;
	while (!f->no_params && extract_option(&b, &name, &value)) {
		bool bare = name == value;
		if (name_is(name, "NOTIFY") && !bare && f->dsn) {
			if (out->notify_given) { fail(r, 501, "NOTIFY can be specified once only"); return false; }
			if (!*value) continue;   /* Exim takes an empty NOTIFY as none at all */
			if (!parse_notify(value, &out->notify)) { fail(r, 501, "Invalid value for NOTIFY parameter"); return false; }
			out->notify_given = true;
		} else if (name_is(name, "ORCPT") && !bare && f->dsn) {
			if (out->orcpt.p) { fail(r, 501, "ORCPT can be specified once only"); return false; }
			out->orcpt = (sv){ value, strlen(value), arg.taint, 0 };
		} else {
			restore_option(&b, name, value, true);
			break;
		}
	}
	return finish_address(&b, false, f->utf8_addresses, f, r, arg.taint);
}

/* ---- BDAT, HELO ------------------------------------------------------------------------- */

bool smtp_parse_bdat(sv arg, unsigned long long *size, bool *last)
{
	/* Exim reads the size as sscanf's %u does: white space, an optional sign, digits, with
	 * strtoul's value (ULONG_MAX when too big, a minus sign negating it) cut to 32 bits. The
	 * chunk is the last when what follows (after white space) is "LAST" and nothing else. */
	size_t i = 0;
	*last = false;
	while (i < arg.len && isspace((unsigned char)arg.p[i])) i++;
	bool neg = false;
	if (i < arg.len && (arg.p[i] == '+' || arg.p[i] == '-')) neg = arg.p[i++] == '-';
	if (i >= arg.len || !isdigit((unsigned char)arg.p[i])) return false;
	unsigned long long n = 0;
	bool over = false;
	while (i < arg.len && isdigit((unsigned char)arg.p[i])) {
		unsigned d = (unsigned)(arg.p[i++] - '0');
		if (n > (ULLONG_MAX - d) / 10) over = true;
		else n = n * 10 + d;
	}
	if (over) n = ULLONG_MAX;
	else if (neg) n = 0 - n;
	*size = (uint32_t)n;
	while (i < arg.len && isspace((unsigned char)arg.p[i])) i++;
	*last = arg.len - i == 4 && strncasecmp(arg.p + i, "LAST", 4) == 0;
	return true;
}

bool smtp_helo_valid(sv arg, sv allow_chars)
{
	if (arg.len == 0) return false;
	if (arg.p[0] == '[') {
		if (arg.p[arg.len - 1] != ']' || arg.len < 3) return false;
		sv inner = sv_sub(arg, 1, arg.len - 2);
		if (inner.len > 5 && strncasecmp(inner.p, "IPv6:", 5) == 0) inner = sv_sub(inner, 5, inner.len - 5);
		ip_addr ip;
		return ip_parse(inner, &ip);
	}
	for (size_t i = 0; i < arg.len; i++) {
		unsigned char c = (unsigned char)arg.p[i];
		if (isalnum(c) || c == '-' || c == '.') continue;
		if (allow_chars.len && memchr(allow_chars.p, c, allow_chars.len)) continue;
		return false;
	}
	return true;
}

/* ---- Addresses -------------------------------------------------------------------------- */

enum { MAX_COMMENT_DEPTH = 64, MAY_NOT_FOLLOW_MAX = 32 };

typedef struct cur {
	const char *p;
	size_t n, i;
	bool strip_dot;   /* strip_trailing_dot: one dot may end a domain, and is dropped */
	bool utf8;        /* SMTPUTF8 was given: domains may have 8-bit (UTF-8) bytes */
} cur;

static bool at_end(const cur *c) { return c->i >= c->n; }
static char peek(const cur *c) { return c->i < c->n ? c->p[c->i] : '\0'; }

/* White space and (nested) comments; an unterminated comment runs to the end, as in Exim. */
static void skip_cfws(cur *c)
{
	for (;;) {
		while (!at_end(c) && is_ws(c->p[c->i])) c->i++;
		if (peek(c) != '(') return;
		int depth = 0;
		while (!at_end(c)) {
			char ch = c->p[c->i++];
			if (ch == '\\' && !at_end(c)) c->i++;
			else if (ch == '(') { if (++depth > MAX_COMMENT_DEPTH) { c->i = c->n; return; } }
			else if (ch == ')' && --depth == 0) break;
		}
	}
}

static bool is_special(unsigned char ch)
{
	return ch <= ' ' || ch == 127 || strchr("()<>@,;:\\\".[]", ch) != NULL;
}

/* An atom (a backslash quotes the next character) or a quoted string, appended to out as
 * written. Returns 1 read, 0 nothing there, -1 unmatched quote. */
static int read_word(cur *c, xbuf *out)
{
	size_t start = c->i;
	if (peek(c) == '"') {
		c->i++;
		while (!at_end(c) && c->p[c->i] != '"') {
			if (c->p[c->i] == '\\' && c->i + 1 < c->n) c->i++;
			c->i++;
		}
		if (at_end(c)) { c->i = start; return -1; }
		c->i++;
	} else {
		while (!at_end(c)) {
			unsigned char ch = (unsigned char)c->p[c->i];
			if (ch == '\\' && c->i + 1 < c->n) { c->i += 2; continue; }
			if (is_special(ch)) break;
			c->i++;
		}
		if (c->i == start) return 0;
	}
	xbuf_put(out, c->p + start, c->i - start);
	return 1;
}

/* word *( "." [word] ): Exim accepts empty words between dots in SMTP addresses. */
static int read_local(cur *c, xbuf *out)
{
	int rc = read_word(c, out);
	if (rc < 0) return rc;
	if (rc == 0 && peek(c) != '.') return 0;
	for (;;) {
		size_t save = c->i;
		skip_cfws(c);
		if (peek(c) != '.') { c->i = save; return 1; }
		c->i++;
		xbuf_putc(out, '.');
		skip_cfws(c);
		if (read_word(c, out) < 0) return -1;
	}
}

static bool read_label(cur *c, xbuf *out)
{
	size_t start = c->i;
	unsigned char ch = (unsigned char)peek(c);
	if (!isalnum(ch) && !(c->utf8 && ch >= 0x80)) return false;
	while (!at_end(c)) {
		ch = (unsigned char)c->p[c->i];
		if (!isalnum(ch) && ch != '-' && !(c->utf8 && ch >= 0x80)) break;
		c->i++;
	}
	xbuf_put(out, c->p + start, c->i - start);
	return true;
}

/* How a domain literal is taken: refused (allow_domain_literals false), taken when its text has
 * the characters of an IP address, or taken whatever it holds (the domain of a bare local@domain,
 * which Exim does not look into). */
enum literal_mode { LIT_REFUSED, LIT_CHECKED, LIT_ANY };

/* "[...]" at '['. Exim 4.96 (observed) takes an optional "IPv6:"/"IPv4:" tag (any case), then
 * only dots, colons and hex digits before the ']'; whether it is a valid address is left to the
 * router. */
static const char *read_literal(cur *c, enum literal_mode mode, xbuf *out)
{
	/* Exim refuses any "[" domain when literals are not allowed, before looking inside. */
	if (mode == LIT_REFUSED) return "domain literals not allowed";
	size_t start = c->i++;
	if (mode == LIT_CHECKED) {
		if (c->n - c->i >= 5 && (strncasecmp(c->p + c->i, "IPv6:", 5) == 0
			|| strncasecmp(c->p + c->i, "IPv4:", 5) == 0))
			c->i += 5;
		while (!at_end(c) && (c->p[c->i] == '.' || c->p[c->i] == ':' || isxdigit((unsigned char)c->p[c->i])))
			c->i++;
	} else {
		/* Not looked into, but white space, '[' and '\\' still end it (Exim 4.96, observed). */
		while (!at_end(c) && c->p[c->i] != ']') {
			unsigned char ch = (unsigned char)c->p[c->i];
			if (isspace(ch) || ch == '[' || ch == '\\') return "malformed domain literal";
			c->i++;
		}
	}
	if (at_end(c) || c->p[c->i] != ']') return "malformed domain literal";
	c->i++;
	xbuf_put(out, c->p + start, c->i - start);
	return NULL;
}

/* A domain: labels separated by dots, or a literal in brackets. */
static const char *read_domain_as(cur *c, enum literal_mode mode, xbuf *out)
{
	if (peek(c) == '[') return read_literal(c, mode, out);
	if (!read_label(c, out)) return "domain missing or malformed";
	for (;;) {
		size_t save = c->i;
		skip_cfws(c);
		if (peek(c) != '.') { c->i = save; return NULL; }
		c->i++;
		xbuf_putc(out, '.');
		skip_cfws(c);
		if (!read_label(c, out)) {
			/* Exim takes a dot that ends the domain (not one before another dot). */
			if (c->strip_dot && peek(c) != '.') {
				xbuf_truncate(out, out->len - 1);
				return NULL;
			}
			return "domain missing or malformed";
		}
	}
}

static const char *read_domain(cur *c, bool allow_literals, xbuf *out)
{
	return read_domain_as(c, allow_literals ? LIT_CHECKED : LIT_REFUSED, out);
}

/* A source route "@a,@b:" at '@' (dropped from the result). Exim's wording when the colon is
 * missing: after a list with commas the colon is named, else the local part is. */
static const char *read_route(cur *c, bool allow_lit, arena *a)
{
	xbuf route;
	xbuf_init(&route, a);
	bool commas = false;
	const char *err = NULL;
	while (peek(c) == '@') {
		c->i++;
		skip_cfws(c);
		if ((err = read_domain(c, allow_lit, &route)) != NULL) break;
		skip_cfws(c);
		if (peek(c) != ',') break;
		c->i++;
		commas = true;
		skip_cfws(c);
	}
	if (!route.a) xbuf_free(&route);
	if (err) return err;
	if (peek(c) != ':') return commas ? "colon expected after route list" : "no local part";
	c->i++;
	skip_cfws(c);
	return NULL;
}

/* After a source route: local@domain, the domain being required. */
static const char *read_routed(cur *c, bool allow_lit, xbuf *out, bool *has_domain)
{
	int rc = read_local(c, out);
	if (rc < 0) return "unmatched doublequote in local part";
	if (rc == 0) return "missing or malformed local part";
	skip_cfws(c);
	if (peek(c) != '@') return "domain missing in source-routed address";
	c->i++;
	skip_cfws(c);
	xbuf_putc(out, '@');
	const char *e = read_domain(c, allow_lit, out);
	if (e) return e;
	*has_domain = true;
	return NULL;
}

/* "<[@route,...:]local[@domain]>" starting at '<'. */
static const char *read_angle(cur *c, bool allow_null, bool allow_lit, xbuf *out, bool *is_null,
	bool *has_domain, xbuf *why)
{
	c->i++;
	skip_cfws(c);
	if (peek(c) == '>') {
		if (!allow_null) return "missing or malformed local part";
		c->i++;
		*is_null = true;
		return NULL;
	}
	if (peek(c) == '@') {                      /* source route: dropped from the result */
		const char *e = read_route(c, allow_lit, out->a);
		if (!e) e = read_routed(c, allow_lit, out, has_domain);
		if (e) return e;
		skip_cfws(c);
		if (at_end(c)) return "'>' missing at end of address";
		if (peek(c) != '>') return NULL;      /* the caller reports what follows */
		c->i++;
		return NULL;
	}
	size_t lstart = out->len;
	int rc = read_local(c, out);
	if (rc < 0) return "unmatched doublequote in local part";
	if (rc == 0) return "missing or malformed local part";
	skip_cfws(c);
	if (peek(c) == '@') {
		c->i++;
		skip_cfws(c);
		xbuf_putc(out, '@');
		const char *e = read_domain(c, allow_lit, out);
		if (e) return e;
		*has_domain = true;
		skip_cfws(c);
		if (at_end(c)) return "'>' missing at end of address";
	} else if (peek(c) != '>') {
		xbuf_printf(why, "\"@\" or \".\" expected after \"%.*s\"", (int)(out->len - lstart), out->p + lstart);
		return "";
	}
	if (peek(c) != '>') return NULL;          /* the caller reports what follows */
	c->i++;
	return NULL;
}

/* Well-formed UTF-8 sequences only (lead byte and the number of continuation bytes). */
static bool utf8_valid(const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char b = (unsigned char)p[i];
		size_t more = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2 : (b & 0xF8) == 0xF0 ? 3 : 9;
		if (more == 9 || (more && i + more >= n)) return false;
		for (size_t k = 1; k <= more; k++)
			if (((unsigned char)p[i + k] & 0xC0) != 0x80) return false;
		i += more + 1;
	}
	return true;
}

const char *smtp_address_literal_error(sv s, bool allow_lit)
{
	if (!memchr(s.p, '[', s.len)) return NULL;
	xbuf out, why;
	xbuf_init(&out, NULL);
	xbuf_init(&why, NULL);
	bool is_null, has_domain;
	const char *err = NULL;
	if (!smtp_parse_address(s, true, allow_lit, &out, &is_null, &has_domain, &why)) {
		const char *w = xbuf_cstr(&why);
		if (strcmp(w, "domain literals not allowed") == 0) err = "domain literals not allowed";
		else if (strcmp(w, "malformed domain literal") == 0) err = "malformed domain literal";
	}
	xbuf_free(&out);
	xbuf_free(&why);
	return err;
}

bool smtp_parse_address(sv s, bool allow_null, bool allow_lit, xbuf *out, bool *is_null,
	bool *has_domain, xbuf *why)
{
	return smtp_parse_address_opts(s, allow_null, allow_lit, false, false, out, is_null, has_domain, why);
}

bool smtp_parse_address_opts(sv s, bool allow_null, bool allow_lit, bool strip_dot, bool utf8, xbuf *out,
	bool *is_null, bool *has_domain, xbuf *why)
{
	cur c = { s.p, s.len, 0, strip_dot, utf8 };
	*is_null = *has_domain = false;
	xbuf_reset(why);
	const char *err = NULL;
	skip_cfws(&c);
	if (peek(&c) == '<') {
		err = read_angle(&c, allow_null, allow_lit, out, is_null, has_domain, why);
	} else if (peek(&c) == '@') {
		/* A bare source-routed address; unlike a bare local@domain, its domains are held to
		 * allow_domain_literals (Exim). */
		err = read_route(&c, allow_lit, out->a);
		if (!err) err = read_routed(&c, allow_lit, out, has_domain);
	} else {
		int rc = read_local(&c, out);
		if (rc < 0) err = "unmatched doublequote in local part";
		else if (rc == 0) err = "missing or malformed local part (expected word or \"<\")";
		else {
			size_t after_word = c.i;
			skip_cfws(&c);
			char ch = peek(&c);
			if (ch == '@') {
				c.i++;
				skip_cfws(&c);
				xbuf_putc(out, '@');
				/* Exim checks allow_domain_literals only for addresses in angle brackets (or
				 * starting with a route): a bare local@[literal] is taken either way. */
				err = read_domain_as(&c, LIT_ANY, out);
				*has_domain = err == NULL;
			} else if (ch == '<' || (ch == '"' && c.i > after_word)
				|| (!at_end(&c) && !is_special((unsigned char)ch))) {
				/* A phrase: more words, then the route address. */
				for (;;) {
					skip_cfws(&c);
					if (peek(&c) == '<') break;
					xbuf_reset(out);
					int w = read_word(&c, out);
					if (w < 0) { err = "unmatched doublequote in local part"; break; }
					if (w == 0) { err = "missing or malformed local part (expected word or \"<\")"; break; }
				}
				xbuf_reset(out);
				if (!err) err = read_angle(&c, allow_null, allow_lit, out, is_null, has_domain, why);
			} else if (ch != '\0' && ch != ';' && c.i == after_word) {
				err = "missing or malformed local part (expected word or \"<\")";
			}
		}
	}
	if (err) {
		if (*err) { xbuf_reset(why); xbuf_puts(why, err); }
		return false;
	}
	skip_cfws(&c);
	if (!at_end(&c)) {
		xbuf_reset(why);
		size_t rest = c.n - c.i;
		xbuf_printf(why, "malformed address: %.*s may not follow %.*s",
			(int)(rest > MAY_NOT_FOLLOW_MAX ? MAY_NOT_FOLLOW_MAX : rest), c.p + c.i, (int)c.i, c.p);
		return false;
	}
	/* With UTF-8 domains allowed, Exim checks that the domain is UTF-8 indeed. */
	if (c.utf8) {
		const char *at = memrchr(out->p, '@', out->len);
		if (at && !utf8_valid(at + 1, out->len - (size_t)(at + 1 - out->p))) {
			xbuf_reset(why);
			xbuf_puts(why, "invalid UTF-8 byte sequence");
			return false;
		}
	}
	/* Exim refuses an address longer than 256 characters, showing its first 64. */
	if (out->len > 256) {
		xbuf_reset(why);
		xbuf_printf(why, "address is ridiculously long: %.64s...", out->p);
		return false;
	}
	return true;
}
