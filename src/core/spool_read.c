/* Reading -H files (core/spool.h): everything Exim 4.96 writes, and the older forms it still
 * reads (facts §1): "--" taint marks and "--(lookup)" quoters, the obsolete "-acl N LEN" records,
 * "IP.PORT" host addresses, Exim 3 and early Exim 4 recipient lines. Unknown option lines are
 * kept verbatim so a rewrite preserves them.
 *
 * The input is untrusted in the sense that it may be damaged or hand-edited: every length is
 * checked against what is left, numbers are range-checked, the non-recipients tree is read with
 * an explicit stack and a depth limit, and every error names the line ("<file>: line N: ...").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/spool.h"
#include "core/journal_seal.h"
#include "search/search.h"

#define MAX_RECIPIENTS 16384 /* Exim's sanity limit on the count line */
#define MAX_TREE_DEPTH 100   /* far beyond any balanced tree; bounds later tree walks */

typedef struct reader {
	sv text;
	size_t pos;
	int line;          /* number of the line last returned */
	const char *name;  /* for messages */
	arena *a;
	xbuf *err;
} reader;

static bool fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(reader *r, const char *fmt, ...)
{
	xbuf_printf(r->err, "%s: line %d: ", r->name, r->line);
	va_list ap;
	va_start(ap, fmt);
	xbuf_vprintf(r->err, fmt, ap);
	va_end(ap);
	return false;
}

/* The next line without its newline; false at the end or when the last line has no newline. */
static bool next_line(reader *r, sv *line)
{
	r->line++;
	if (r->pos >= r->text.len)
		return fail(r, "unexpected end of file");
	const char *start = r->text.p + r->pos;
	const char *nl = memchr(start, '\n', r->text.len - r->pos);
	if (!nl)
		return fail(r, "line not terminated by a newline");
	*line = (sv){ start, (size_t)(nl - start), 0, 0 };
	r->pos += line->len + 1;
	return true;
}

/* Strictly "-"? digits (sv_to_long goes through strtoll, which allows white space and stops at
 * an embedded NUL: text that would not survive a rewrite). */
static bool parse_ll(sv v, long long *out)
{
	size_t i = 0;
	bool neg = v.len && v.p[0] == '-';
	if (neg)
		i++;
	if (i == v.len || v.len - i > 18)
		return false;
	long long n = 0;
	for (; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		n = n * 10 + (v.p[i] - '0');
	}
	*out = neg ? -n : n;
	return true;
}

/* "[ip]:port" (4.96) or "ip.port" (before 4.80). */
static bool parse_hostport(sv v, sv *addr, int *port)
{
	size_t sep;
	sv ps;
	if (v.len && v.p[0] == '[') {
		const char *close = memchr(v.p, ']', v.len);
		if (!close)
			return false;
		sep = (size_t)(close - v.p);
		*addr = sv_sub(v, 1, sep - 1);
		if (sep + 1 == v.len)
			ps = SV_NULL; /* "[addr]" alone: port 0 (checked like the rest below) */
		else if (v.p[sep + 1] != ':')
			return false;
		else
			ps = sv_sub(v, sep + 2, v.len);
	} else {
		sep = v.len;
		while (sep > 0 && v.p[sep - 1] != '.')
			sep--;
		if (sep == 0)
			return false;
		*addr = sv_sub(v, 0, sep - 1);
		ps = sv_sub(v, sep, v.len);
	}
	/* Only the characters of IPv4/IPv6 addresses: anything else could not be written back. */
	if (addr->len == 0)
		return false;
	for (size_t i = 0; i < addr->len; i++) {
		char c = addr->p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':'))
			return false;
	}
	long long p = 0;
	if (ps.p && (!parse_ll(ps, &p) || p < 0 || p > 65535))
		return false;
	*port = (int)p;
	addr->taint = v.taint;
	addr->quoter = v.quoter;
	return true;
}

/* Read exactly len bytes and the newline after them (ACL variable values). */
static bool read_block(reader *r, long long len, sv *out)
{
	if (len < 0 || (unsigned long long)len >= r->text.len - r->pos + 0ull)
		return fail(r, "ACL variable value of length %lld runs past the end of the file", len);
	*out = sv_sub(r->text, r->pos, (size_t)len);
	for (size_t i = 0; i < out->len; i++)
		r->line += out->p[i] == '\n';
	r->pos += (size_t)len;
	if (r->text.p[r->pos] != '\n')
		return fail(r, "ACL variable value is not followed by a newline");
	r->pos++;
	r->line++;
	return true;
}

static sv copy_val(reader *r, sv v, bool tainted, unsigned quoter)
{
	sv c = sv_copy(r->a, v);
	c.taint = tainted;
	c.quoter = (uint8_t)quoter;
	return c;
}

/* A certificate line: "\n" back to newlines (opt_cert in spool_format.c). */
static sv unescape_cert(reader *r, sv v)
{
	xbuf b;
	xbuf_init(&b, r->a);
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] == '\\' && i + 1 < v.len && v.p[i + 1] == 'n') {
			xbuf_putc(&b, '\n');
			i++;
		} else
			xbuf_putc(&b, v.p[i]);
	}
	sv out = xbuf_sv(&b);
	out.taint = v.taint;
	out.quoter = v.quoter;
	return out;
}

/* One option line (without its leading '-'); unknown ones are kept. */
static bool option_line(reader *r, sv whole, message *m, msg_origin *o)
{
	sv s = sv_sub(whole, 1, whole.len);
	bool tainted = false;
	unsigned quoter = 0;
	if (s.len && s.p[0] == '-') {
		tainted = true;
		s = sv_sub(s, 1, s.len);
		if (s.len && s.p[0] == '(') {
			const char *close = memchr(s.p, ')', s.len);
			if (!close)
				return fail(r, "unterminated lookup quoter name");
			sv qn = sv_sub(s, 1, (size_t)(close - s.p) - 1);
			const lookup_info *li = search_driver(qn);
			quoter = li ? search_quoter_id(li) : 0;
			s = sv_sub(s, (size_t)(close - s.p) + 1, s.len);
		}
	}
	size_t sp = 0;
	while (sp < s.len && s.p[sp] != ' ')
		sp++;
	sv name = sv_sub(s, 0, sp);
	sv val = sp < s.len ? sv_sub(s, sp + 1, s.len) : sv_sub(s, s.len, 0);
	sv cv = copy_val(r, val, tainted, quoter);
	long long n;
#define IS(x) sv_eq_cstr(name, x)
#define NUM() do { if (!parse_ll(val, &n)) return fail(r, "bad number in -" SV_FMT, SV_ARG(name)); } while (0)
	if (IS("aclc") || IS("aclm")) {
		/* "<rest> <len>" then the value */
		size_t sp2 = val.len;
		while (sp2 > 0 && val.p[sp2 - 1] != ' ')
			sp2--;
		if (sp2 < 2 || !parse_ll(sv_sub(val, sp2, val.len), &n))
			return fail(r, "malformed ACL variable line");
		sv rest = sv_sub(val, 0, sp2 - 1);
		sv value;
		if (!read_block(r, n, &value))
			return false;
		xbuf nb;
		xbuf_init(&nb, r->a);
		xbuf_printf(&nb, "acl_%c", name.p[3]);
		xbuf_put(&nb, rest.p, rest.len); /* binary-safe: the name is whatever the file says */
		sv vname = xbuf_sv(&nb);
		message_set_aclvar(m, vname, copy_val(r, value, tainted, quoter));
	} else if (IS("acl")) { /* obsolete: "-acl N LEN", 0-9 acl_c0..9, 10-19 acl_m0..9 */
		long long num;
		size_t sp2 = 0;
		while (sp2 < val.len && val.p[sp2] != ' ')
			sp2++;
		if (!parse_ll(sv_sub(val, 0, sp2), &num) || num < 0 || num > 19 ||
			!parse_ll(sv_sub(val, sp2 + 1, val.len), &n))
			return fail(r, "malformed -acl line");
		sv value;
		if (!read_block(r, n, &value))
			return false;
		sv vname = sv_cstr(arena_printf(r->a, "acl_%c%d", num < 10 ? 'c' : 'm', (int)(num % 10)));
		message_set_aclvar(m, vname, copy_val(r, value, tainted, quoter));
	}
	else if (IS("received_time_usec")) {
		if (!val.len || val.p[0] != '.' || !parse_ll(sv_sub(val, 1, val.len), &n) || n < 0 || n > 999999)
			return fail(r, "bad -received_time_usec");
		m->received_usec = (int)n;
	} else if (IS("received_time_complete")) {
		const char *dot = memchr(val.p, '.', val.len);
		long long us = 0;
		if (!dot || !parse_ll(sv_sub(val, 0, (size_t)(dot - val.p)), &n) ||
			!parse_ll(sv_sub(val, (size_t)(dot - val.p) + 1, val.len), &us) || us < 0 || us > 999999)
			return fail(r, "bad -received_time_complete");
		m->received_complete = (time_t)n;
		m->received_complete_usec = (int)us;
	}
	else if (IS("helo_name")) o->helo_name = cv;
	else if (IS("host_address")) {
		if (!parse_hostport(cv, &o->host_address, &o->host_port))
			return fail(r, "bad -host_address");
	} else if (IS("interface_address")) {
		if (!parse_hostport(cv, &o->interface_address, &o->interface_port))
			return fail(r, "bad -interface_address");
	}
	else if (IS("host_name")) o->host_name = cv;
	else if (IS("host_auth")) o->auth_driver = cv;
	else if (IS("host_auth_pubname")) o->auth_pubname = cv;
	else if (IS("active_hostname")) o->active_hostname = cv;
	else if (IS("ident")) o->ident = cv;
	else if (IS("received_protocol")) o->protocol = cv;
	else if (IS("auth_id")) o->auth_id = cv;
	else if (IS("auth_sender")) o->auth_sender = cv;
	else if (IS("debug_selector")) {
		char buf[32];
		char *end;
		if (val.len == 0 || val.len >= sizeof buf)
			return fail(r, "bad -debug_selector");
		memcpy(buf, val.p, val.len);
		buf[val.len] = 0;
		m->debug_selector = strtoul(buf, &end, 0);
		if (*end)
			return fail(r, "bad -debug_selector");
	}
	else if (IS("debuglog_name")) m->debuglog_name = cv;
	else if (IS("spool_file_wireformat")) m->spool_wireformat = true;
	else if (IS("body_linecount")) { NUM(); m->body_linecount = n; }
	else if (IS("body_zerocount")) { NUM(); m->body_zerocount = n; }
	else if (IS("max_received_linelength")) { NUM(); m->max_received_linelength = n; }
	else if (IS("allow_unqualified_recipient")) m->allow_unqualified_recipient = true;
	else if (IS("allow_unqualified_sender")) m->allow_unqualified_sender = true;
	else if (IS("deliver_firsttime")) m->deliver_firsttime = true;
	else if (IS("frozen")) { NUM(); m->frozen = (time_t)(n ? n : 1); }
	else if (IS("N")) m->dont_deliver = true;
	else if (IS("host_lookup_deferred")) o->host_lookup_deferred = true;
	else if (IS("host_lookup_failed")) o->host_lookup_failed = true;
	else if (IS("local")) m->local = true;
	else if (IS("localerror")) m->localerror = true;
	else if (IS("local_scan")) m->local_scan = cv;
	else if (IS("spam_bar")) m->spam_bar = cv;
	else if (IS("spam_score")) m->spam_score = cv;
	else if (IS("spam_score_int")) m->spam_score_int = cv;
	else if (IS("manual_thaw")) m->manual_thaw = true;
	else if (IS("sender_set_untrusted")) m->sender_set_untrusted = true;
	else if (IS("bmi_verdicts")) m->bmi_verdicts = cv;
	else if (IS("tls_certificate_verified")) o->tls_certificate_verified = true;
	else if (IS("tls_cipher")) o->tls_cipher = cv;
	else if (IS("tls_peercert")) o->tls_peercert = unescape_cert(r, cv);
	else if (IS("tls_peerdn")) o->tls_peerdn = cv;
	else if (IS("tls_sni")) o->tls_sni = cv;
	else if (IS("tls_ourcert")) o->tls_ourcert = unescape_cert(r, cv);
	else if (IS("tls_ocsp")) { NUM(); o->tls_ocsp = (int)n; }
	else if (IS("tls_resumption")) {
		if (val.len < 1 || (unsigned char)val.p[0] < 'A' || (unsigned char)val.p[0] > 'A' + 0x3f)
			return fail(r, "bad -tls_resumption");
		o->tls_resumption = (unsigned)(val.p[0] - 'A');
	}
	else if (IS("tls_ver")) o->tls_ver = cv;
	else if (IS("smtputf8")) m->smtputf8 = true;
	else if (IS("utf8_downcvt")) m->utf8_downcvt = true;
	else if (IS("utf8_optdowncvt")) m->utf8_optdowncvt = true;
	else if (IS("dsn_envid")) m->dsn_envid = cv;
	else if (IS("dsn_ret")) { NUM(); m->dsn_ret = (int)n; }
	else {
		if (m->nunknown == m->unknown_cap) {
			size_t nc = m->unknown_cap ? m->unknown_cap * 2 : 4;
			m->unknown_lines = arena_realloc(r->a, m->unknown_lines, m->unknown_cap * sizeof(sv), nc * sizeof(sv));
			m->unknown_cap = nc;
		}
		m->unknown_lines[m->nunknown++] = sv_copy(r->a, whole);
	}
	return true;
#undef IS
#undef NUM
}

/* The non-recipients tree in pre-order: "XX" alone, or lines "YN address" whose letters say
 * whether a left and a right subtree follow. */
static bool read_tree(reader *r, message *m)
{
	sv line;
	if (!next_line(r, &line))
		return false;
	if (sv_eq_cstr(line, "XX"))
		return true;
	struct slot { msg_tree **link; int depth; } stack[MAX_TREE_DEPTH + 2];
	int sp = 0;
	stack[sp++] = (struct slot){ &m->nonrcpt_tree, 1 };
	bool first = true;
	while (sp > 0) {
		if (!first && !next_line(r, &line))
			return false;
		first = false;
		if (line.len < 3 || (line.p[0] != 'Y' && line.p[0] != 'N') ||
			(line.p[1] != 'Y' && line.p[1] != 'N') || line.p[2] != ' ')
			return fail(r, "malformed non-recipients tree line");
		struct slot s = stack[--sp];
		if (s.depth > MAX_TREE_DEPTH)
			return fail(r, "non-recipients tree deeper than %d levels", MAX_TREE_DEPTH);
		msg_tree *n = arena_calloc(r->a, 1, sizeof *n);
		n->name = sv_copy(r->a, sv_sub(line, 3, line.len));
		*s.link = n;
		if (m->nnonrcpt == m->nonrcpt_cap) {
			size_t nc = m->nonrcpt_cap ? m->nonrcpt_cap * 2 : 8;
			m->nonrcpt = arena_realloc(r->a, m->nonrcpt, m->nonrcpt_cap * sizeof(sv), nc * sizeof(sv));
			m->nonrcpt_cap = nc;
		}
		m->nonrcpt[m->nnonrcpt++] = n->name;
		if (line.p[1] == 'Y')
			stack[sp++] = (struct slot){ &n->right, s.depth + 1 };
		if (line.p[0] == 'Y')
			stack[sp++] = (struct slot){ &n->left, s.depth + 1 };
	}
	msg_tree_rebalance_info(m->nonrcpt_tree);
	return true;
}

/* "...<sep>LEN,NUM" at the end of s: returns the field of LEN bytes before it (after a space). */
static bool take_field(sv *s, char sep, sv *field, long long *num)
{
	size_t end = s->len;
	size_t i = end;
	while (i > 0 && s->p[i - 1] != ' ')
		i--;
	if (i == 0)
		return false;
	sv tok = sv_sub(*s, i, end); /* "LEN,NUM" */
	const char *comma = memchr(tok.p, ',', tok.len);
	long long len;
	if (!comma || !parse_ll(sv_sub(tok, 0, (size_t)(comma - tok.p)), &len) ||
		!parse_ll(sv_sub(tok, (size_t)(comma - tok.p) + 1, tok.len), num))
		return false;
	/* before the token: " FIELD " with FIELD exactly len bytes */
	size_t fend = i - 1;
	if (len < 0 || (size_t)len + 1 > fend)
		return false;
	size_t fstart = fend - (size_t)len;
	if (s->p[fstart - 1] != ' ')
		return false;
	*field = sv_sub(*s, fstart, (size_t)len);
	s->len = fstart - 1;
	(void)sep;
	return true;
}

static bool recipient_line(reader *r, sv line, message *m)
{
	sv addr = line;
	sv orcpt = SV_NULL, errors_to = SV_NULL;
	long long dsn = 0, pno = -1;
	const char *hash = NULL;
	for (size_t i = line.len; i > 0; i--)
		if (line.p[i - 1] == '#') { hash = line.p + i - 1; break; }
	long long flags;
	if (hash && parse_ll(sv_sub(line, (size_t)(hash - line.p) + 1, line.len), &flags)) {
		addr.len = (size_t)(hash - line.p);
		if (flags & 1) {
			if (!take_field(&addr, ',', &errors_to, &pno))
				return fail(r, "malformed recipient line");
		}
		if (flags & 2) {
			if (!take_field(&addr, ',', &orcpt, &dsn))
				return fail(r, "malformed recipient line");
		}
	} else {
		/* Exim 3: "addr LEN,PNO,..."; early Exim 4: "addr PNO" */
		size_t i = line.len;
		while (i > 0 && line.p[i - 1] != ' ')
			i--;
		if (i > 0) {
			sv tok = sv_sub(line, i, line.len);
			long long v;
			bool digits_commas = tok.len > 0;
			for (size_t k = 0; k < tok.len; k++)
				if (!(tok.p[k] >= '0' && tok.p[k] <= '9') && tok.p[k] != ',' && tok.p[k] != '-')
					digits_commas = false;
			if (digits_commas) {
				addr.len = i - 1;
				if (parse_ll(tok, &v))
					pno = v;
				else {
					const char *c = memchr(tok.p, ',', tok.len);
					if (c && parse_ll(sv_sub(tok, (size_t)(c - tok.p) + 1, tok.len), &v))
						pno = v;
				}
			}
		}
	}
	addr.taint = true;       /* as the sender above */
	if (orcpt.p)
		orcpt.taint = true;
	if (errors_to.p)
		errors_to.taint = true;
	message_add_recipient(m, addr);
	msg_recipient *rc = message_last_recipient(m);
	rc->orcpt = sv_copy(r->a, orcpt.p ? orcpt : sv_make("", 0));
	rc->errors_to = sv_copy(r->a, errors_to.p ? errors_to : sv_make("", 0));
	rc->dsn_flags = (unsigned)dsn;
	rc->pno = (int)pno;
	return true;
}

bool spool_parse_header_ex(arena *a, const char *name, const char *id, sv text, message *m,
	msg_origin *o, spool_parse_info *info, xbuf *err)
{
	reader r = { .text = text, .name = name, .a = a, .err = err };
	spool_parse_info dummy;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof *info);
	info->text = text;
	memset(m, 0, sizeof *m);
	memset(o, 0, sizeof *o);
	m->a = a;
	m->origin = o;
	sv line;
	if (!next_line(&r, &line))
		return false;
	if (line.len != MSG_ID_LEN + 2 || !spool_valid_id(sv_sub(line, 0, MSG_ID_LEN)) ||
		!sv_eq_cstr(sv_sub(line, MSG_ID_LEN, 2), "-H") ||
		(id && memcmp(line.p, id, MSG_ID_LEN) != 0))
		return fail(&r, "first line is not the file's name (%s-H)", id ? id : "<id>");
	memcpy(m->id, line.p, MSG_ID_LEN);
	m->id[MSG_ID_LEN] = 0;

	if (!next_line(&r, &line))
		return false;
	{ /* "<login> <uid> <gid>", parsed from the right */
		long long uid, gid;
		size_t j = line.len;
		while (j > 0 && line.p[j - 1] != ' ') j--;
		size_t i = j > 0 ? j - 1 : 0;
		while (i > 0 && line.p[i - 1] != ' ') i--;
		if (j == 0 || i == 0 || !parse_ll(sv_sub(line, j, line.len), &gid) ||
			!parse_ll(sv_sub(line, i, j - 1 - i), &uid))
			return fail(&r, "expected \"<login> <uid> <gid>\"");
		o->login = sv_copy(a, sv_sub(line, 0, i - 1));
		o->uid = (uid_t)uid;
		o->gid = (gid_t)gid;
	}
	if (!next_line(&r, &line))
		return false;
	if (line.len < 2 || line.p[0] != '<' || line.p[line.len - 1] != '>')
		return fail(&r, "sender is not in angle brackets");
	/* Envelope addresses came from outside (SMTP, a command line): tainted once read back, as
	 * Exim 4.96 treats them, so a local part cannot name a file or command unchecked. */
	sv sender = sv_sub(line, 1, line.len - 2);
	sender.taint = true;
	m->sender = sv_copy(a, sender);
	if (!next_line(&r, &line))
		return false;
	{
		size_t sp = 0;
		while (sp < line.len && line.p[sp] != ' ') sp++;
		long long t, w;
		if (sp == line.len || !parse_ll(sv_sub(line, 0, sp), &t) ||
			!parse_ll(sv_sub(line, sp + 1, line.len), &w) || w < 0 || w > 1000000)
			return fail(&r, "expected \"<received time> <warning count>\"");
		m->received_time = (time_t)t;
		m->warning_count = (int)w;
	}
	/* Option lines, then the non-recipients tree. */
	for (;;) {
		if (r.pos < text.len && text.p[r.pos] == '-') {
			size_t at = r.pos;
			if (!next_line(&r, &line))
				return false;
			static const char sum_name[] = "-postern_sum ";
			if (line.len >= sizeof sum_name - 1 && memcmp(line.p, sum_name, sizeof sum_name - 1) == 0) {
				info->sum_off = at;
				info->sum_len = r.pos - at;
				info->sum = sv_sub(line, sizeof sum_name - 1, line.len);
				continue;
			}
			if (!option_line(&r, line, m, o))
				return false;
			continue;
		}
		break;
	}
	if (!read_tree(&r, m))
		return false;
	if (!next_line(&r, &line))
		return false;
	long long nr;
	if (!parse_ll(line, &nr) || nr < 0 || nr > MAX_RECIPIENTS)
		return fail(&r, "bad recipient count");
	for (long long i = 0; i < nr; i++) {
		if (!next_line(&r, &line) || !recipient_line(&r, line, m))
			return false;
	}
	info->envelope_read = true;
	if (!next_line(&r, &line))
		return false;
	if (line.len)
		return fail(&r, "expected a blank line after the recipients");
	/* Headers: "NNNt " then exactly NNN bytes. */
	while (r.pos < text.len) {
		r.line++;
		size_t p = r.pos;
		long long len = 0;
		size_t digits = 0;
		while (p < text.len && text.p[p] >= '0' && text.p[p] <= '9' && digits < 9) {
			len = len * 10 + (text.p[p] - '0');
			p++;
			digits++;
		}
		if (digits == 0 || p + 2 > text.len || text.p[p + 1] != ' ')
			return fail(&r, "malformed header length/type");
		char type = text.p[p];
		if ((unsigned char)type < 0x20 || (unsigned char)type >= 0x7f)
			return fail(&r, "malformed header type");
		if (type != '*')
			info->header_bytes += len;
		p += 2;
		if ((unsigned long long)len > text.len - p)
			return fail(&r, "header of length %lld runs past the end of the file", len);
		sv htext = sv_sub(text, p, (size_t)len);
		message_add_header(m, type, htext);
		for (size_t k = 0; k + 1 < htext.len; k++)
			r.line += htext.p[k] == '\n';
		r.pos = p + (size_t)len;
	}
	m->size = info->header_bytes;
	return true;
}

bool spool_parse_header(arena *a, const char *id, sv text, message *out, msg_origin *origin, xbuf *err)
{
	const char *name = arena_printf(a, "%s-H", id ? id : "spool");
	return spool_parse_header_ex(a, name, id, text, out, origin, NULL, err);
}

bool spool_read_file(const char *path, size_t max, xbuf *out, int *errnum)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*errnum = errno;
		return false;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		*errnum = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		close(fd);
		return false;
	}
	xbuf_reserve(out, (size_t)st.st_size + 1);
	for (;;) {
		xbuf_reserve(out, 65536);
		size_t want = out->cap - out->len - 1;
		ssize_t n = read(fd, out->p + out->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*errnum = errno;
			close(fd);
			return false;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->p[out->len] = 0;
		if (out->len > max) {
			*errnum = EFBIG;
			close(fd);
			return false;
		}
		/* A short read of a regular file is its end; with all fstat promised read, the read
		 * that would return 0 is not needed (spool files are replaced by rename, never
		 * written in place, so the size cannot change under us). */
		if ((size_t)n < want && out->len >= (size_t)st.st_size)
			break;
	}
	close(fd);
	return true;
}

bool spool_read_header_ex(arena *a, const spool_config *sc, const char *id, message *out,
	msg_origin *origin, spool_parse_info *info, xbuf *err)
{
	spool_parse_info dummy;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof *info);
	const char *path = spool_path(a, sc, "input", id, "-H");
	xbuf text;
	xbuf_init(&text, a);
	int e = 0;
	if (!spool_read_file(path, SPOOL_MAX_HEADER_FILE, &text, &e)) {
		info->errnum = e;
		xbuf_printf(err, "%s: %s", path, strerror(e));
		memset(out, 0, sizeof *out);
		memset(origin, 0, sizeof *origin);
		return false;
	}
	bool ok = spool_parse_header_ex(a, path, id, xbuf_sv(&text), out, origin, info, err);
	info->file_size = (long long)text.len;
	/* $message_size and the -bp size: headers + body (the -D file minus its name line) + 1 for
	 * the blank line between them, as Exim counts it. */
	struct stat st;
	const char *dpath = spool_path(a, sc, "input", id, "-D");
	if (stat(dpath, &st) == 0) {
		info->data_size = (long long)st.st_size;
		out->size = info->header_bytes + (long long)st.st_size - (MSG_ID_LEN + 3) + 1;
	} else
		info->data_size = -1;
	return ok;
}

bool spool_read_header(arena *a, const spool_config *sc, const char *id, message *out,
	msg_origin *origin, xbuf *err)
{
	return spool_read_header_ex(a, sc, id, out, origin, NULL, err);
}

static void journal_add(void *m, sv address)
{
	message_add_nonrecipient(m, address);
}

bool spool_read_journal(arena *a, const spool_config *sc, const char *id, message *m)
{
	const char *path = spool_path(a, sc, "input", id, "-J");
	xbuf text;
	xbuf_init(&text, a);
	int e;
	if (!spool_read_file(path, SPOOL_MAX_HEADER_FILE, &text, &e))
		return false;
	/* One delivered address per line, in batches sealed by Postern or in Exim's plain form
	 * (core/journal_seal.h says which lines count). */
	bool pending = false;
	journal_parse(xbuf_sv(&text), id, journal_add, m, &pending);
	/* A batch whose Maildir directory the queue runner had not synced yet (its runner was
	 * killed): what it names is in the page cache; make it durable before anyone relies on
	 * the journal (core/journal_seal.h): the directories its batches name are synced (a
	 * global sync() only for a batch that names none). */
	if (pending)
		journal_sync_pending(xbuf_sv(&text), id);
	return true;
}

/* ---- listing the queue ---- */

static int id_order(const void *pa, const void *pb)
{
	const char *a = pa, *b = pb;
	/* Arrival order: the time part, then the sub-second part, then the pid. */
	int c = memcmp(a, b, 6);
	if (!c) c = memcmp(a + 14, b + 14, 2);
	if (!c) c = memcmp(a + 7, b + 7, 6);
	return c;
}

static void scan_dir(const char *dir, char (**ids)[MSG_ID_LEN + 1], size_t *n, size_t *cap)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len != MSG_ID_LEN + 2 || strcmp(e->d_name + MSG_ID_LEN, "-H") != 0 ||
			!spool_valid_id(sv_make(e->d_name, MSG_ID_LEN)))
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			char (*nn)[MSG_ID_LEN + 1] = realloc(*ids, nc * sizeof **ids);
			if (!nn)
				abort();
			*ids = nn;
			*cap = nc;
		}
		memcpy((*ids)[*n], e->d_name, MSG_ID_LEN);
		(*ids)[*n][MSG_ID_LEN] = 0;
		(*n)++;
	}
	closedir(d);
}

size_t spool_list_ids_ordered(arena *a, const spool_config *sc, bool sorted,
	char (**ids)[MSG_ID_LEN + 1], xbuf *err)
{
	(void)err;
	char (*tmp)[MSG_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	const char *q = sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
	const char *base = arena_printf(a, "%s%s%s/input", sc->directory, q ? "/" : "", q ? q : "");
	/* Messages may be in input/ itself and, with split_spool_directory (or left over from when
	 * it was set), in its one-character subdirectories. */
	scan_dir(base, &tmp, &n, &cap);
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	for (const char *c = b62; *c; c++)
		scan_dir(arena_printf(a, "%s/%c", base, *c), &tmp, &n, &cap);
	if (sorted && n > 1)
		qsort(tmp, n, sizeof *tmp, id_order);
	*ids = n ? arena_memdup(a, tmp, n * sizeof *tmp) : NULL;
	free(tmp);
	return n;
}

size_t spool_list_ids(arena *a, const spool_config *sc, char (**ids)[MSG_ID_LEN + 1], xbuf *err)
{
	return spool_list_ids_ordered(a, sc, true, ids, err);
}
