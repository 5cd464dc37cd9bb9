/* The Sieve parser: tokens to the tree of sieve_internal.h, with Exim 4.96's error texts
 * (recorded from "exim -bf", tests/golden/sieve/). A syntax error ends parsing; the tree keeps
 * the commands before it and an SC_ERROR node where it happened (see sieve.h for why).
 * Bounded: nesting by SIEVE_MAX_DEPTH (the recursion is only as deep as that), size by
 * SIEVE_MAX_NODES and the lexer's string limit. */
#include <stdio.h>
#include <string.h>

#include "core/sieve_internal.h"
#include "mail/smtp_cmd.h"

typedef struct sparser {
	arena *a;
	slexer lx;
	const sieve_options *o;
	bool failed, error_placed;
	sv error;
	int nodes;
	int depth;
	/* require'd capabilities */
	bool fileinto, copy, envelope, vacation, subaddress, numeric, enotify;
} sparser;

static bool fail_at(sparser *ps, int line, const char *why)
{
	if (!ps->failed) {
		ps->failed = true;
		ps->error = sv_cstr(arena_printf(ps->a, "%s in line %d", why, line));
	}
	return false;
}

/* An error found at the next token (a missing or unexpected one): its line, as Exim counts
 * lines up to where it stopped reading. */
static bool fail(sparser *ps, const char *why)
{
	stok t = slex_peek(&ps->lx);
	if (t.kind == STK_BAD)
		return fail_at(ps, t.line, sv_dup(ps->a, t.text));
	return fail_at(ps, t.line, why);
}

static bool need_require(sparser *ps, bool have, const char *cap)
{
	if (have)
		return true;
	char buf[80];
	snprintf(buf, sizeof buf, "missing previous require \"%s\";", cap);
	return fail(ps, buf);
}

static bool count_node(sparser *ps)
{
	if (++ps->nodes > SIEVE_MAX_NODES)
		return fail(ps, "script too complex");
	return true;
}

static bool is_ident(stok t, const char *w)
{
	return t.kind == STK_IDENT && t.text.len == strlen(w) && strncasecmp(t.text.p, w, t.text.len) == 0;
}

static bool is_tag(stok t, const char *w)
{
	return t.kind == STK_TAG && t.text.len == strlen(w) && strncasecmp(t.text.p, w, t.text.len) == 0;
}

/* A string or a bracketed list of strings. false (no error recorded) when the next token starts
 * neither; errors inside a list are recorded. */
static bool string_list(sparser *ps, sstrlist *out, bool *present)
{
	*present = false;
	memset(out, 0, sizeof *out);
	stok t = slex_peek(&ps->lx);
	if (t.kind == STK_STRING) {
		slex_next(&ps->lx);
		if (!count_node(ps))
			return false;
		out->v = arena_alloc(ps->a, sizeof *out->v);
		out->v[0] = t.text;
		out->n = 1;
		*present = true;
		return true;
	}
	if (t.kind != STK_LBRACKET)
		return true;
	slex_next(&ps->lx);
	*present = true;
	int cap = 0;
	t = slex_peek(&ps->lx);
	if (t.kind == STK_RBRACKET) {
		slex_next(&ps->lx);
		return true;
	}
	for (;;) {
		t = slex_next(&ps->lx);
		if (t.kind != STK_STRING)
			return fail_at(ps, t.line, t.kind == STK_BAD ? sv_dup(ps->a, t.text) : "missing string");
		if (!count_node(ps))
			return false;
		if (out->n == cap) {
			int nc = cap ? cap * 2 : 4;
			out->v = arena_realloc(ps->a, out->v, (size_t)cap * sizeof *out->v, (size_t)nc * sizeof *out->v);
			cap = nc;
		}
		out->v[out->n++] = t.text;
		t = slex_next(&ps->lx);
		if (t.kind == STK_RBRACKET)
			return true;
		if (t.kind != STK_COMMA)
			return fail_at(ps, t.line, t.kind == STK_BAD ? sv_dup(ps->a, t.text) : "missing closing bracket");
	}
}

static bool need_strings(sparser *ps, sstrlist *out, const char *what)
{
	bool present;
	if (!string_list(ps, out, &present))
		return false;
	return present || fail(ps, what);
}

static bool need_string(sparser *ps, sv *out, const char *what)
{
	stok t = slex_peek(&ps->lx);
	if (t.kind != STK_STRING)
		return fail(ps, what);
	slex_next(&ps->lx);
	*out = t.text;
	return count_node(ps);
}

static bool need_number(sparser *ps, unsigned long long *out)
{
	stok t = slex_peek(&ps->lx);
	if (t.kind != STK_NUMBER)
		return fail(ps, "missing number");
	if (t.num_overflow)
		return fail(ps, "number overflow");
	slex_next(&ps->lx);
	*out = t.num;
	return true;
}

/* A header name is printable ASCII other than ':' and space (Exim allows 8-bit names). */
static bool valid_header_name(sv s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == ':' || c <= ' ' || c == 127)
			return false;
	}
	return true;
}

/* The header lines an address test may look at (RFC 5228 5.1; Exim refuses others). */
static bool address_header(sv n)
{
	static const char *const names[] = { "from", "to", "cc", "bcc", "sender", "resent-from", "resent-to" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (sv_eqi(n, sv_cstr(names[i])))
			return true;
	return false;
}

/* Optional tags of comparing tests: :comparator, a match type, an address part. */
static bool compare_tags(sparser *ps, stest *t, bool address_part)
{
	bool have_cmp = false, have_match = false, have_part = false;
	for (;;) {
		stok k = slex_peek(&ps->lx);
		if (k.kind != STK_TAG)
			return true;
		if (is_tag(k, "comparator")) {
			slex_next(&ps->lx);
			if (have_cmp)
				return fail(ps, "comparator already specified");
			sv name;
			if (!need_string(ps, &name, "missing comparator"))
				return false;
			if (sv_eq_cstr(name, "i;octet"))
				t->cmp = SCMP_OCTET;
			else if (sv_eq_cstr(name, "i;ascii-casemap"))
				t->cmp = SCMP_CASEMAP;
			else if (sv_eq_cstr(name, "i;ascii-numeric")) {
				if (!need_require(ps, ps->numeric, "comparator-i;ascii-numeric"))
					return false;
				t->cmp = SCMP_NUMERIC;
			} else
				return fail(ps, "invalid comparator");
			have_cmp = true;
			if (t->cmp == SCMP_NUMERIC && have_match && t->match != SM_IS)
				return fail(ps, "comparator does not offer specified matchtype");
		} else if (is_tag(k, "is") || is_tag(k, "contains") || is_tag(k, "matches")) {
			slex_next(&ps->lx);
			if (have_match)
				return fail(ps, "match type already specified");
			t->match = is_tag(k, "is") ? SM_IS : is_tag(k, "contains") ? SM_CONTAINS : SM_MATCHES;
			have_match = true;
			if (t->cmp == SCMP_NUMERIC && t->match != SM_IS)
				return fail(ps, "comparator does not offer specified matchtype");
		} else if (address_part && (is_tag(k, "all") || is_tag(k, "localpart") || is_tag(k, "domain")
			|| is_tag(k, "user") || is_tag(k, "detail"))) {
			slex_next(&ps->lx);
			if (have_part)
				return fail(ps, "address part already specified");
			if ((is_tag(k, "user") || is_tag(k, "detail")) && !need_require(ps, ps->subaddress, "subaddress"))
				return false;
			t->part = is_tag(k, "all") ? SAP_ALL : is_tag(k, "localpart") ? SAP_LOCALPART
				: is_tag(k, "domain") ? SAP_DOMAIN : is_tag(k, "user") ? SAP_USER : SAP_DETAIL;
			have_part = true;
		} else {
			return true;   /* not ours: the next argument's parser complains */
		}
	}
}

static bool parse_test(sparser *ps, stest **out);

static bool test_list(sparser *ps, stest *t)
{
	stok k = slex_peek(&ps->lx);
	if (k.kind != STK_LPAREN)
		return fail(ps, "missing test list");
	slex_next(&ps->lx);
	int cap = 0;
	for (;;) {
		stest *kid;
		if (!parse_test(ps, &kid))
			return false;
		if (t->nkids == cap) {
			int nc = cap ? cap * 2 : 4;
			t->kids = arena_realloc(ps->a, t->kids, (size_t)cap * sizeof *t->kids, (size_t)nc * sizeof *t->kids);
			cap = nc;
		}
		t->kids[t->nkids++] = kid;
		k = slex_peek(&ps->lx);
		if (k.kind == STK_COMMA) {
			slex_next(&ps->lx);
			continue;
		}
		if (k.kind != STK_RPAREN)
			return fail(ps, "missing closing paren");
		slex_next(&ps->lx);
		return true;
	}
}

static bool parse_test(sparser *ps, stest **out)
{
	if (++ps->depth > SIEVE_MAX_DEPTH)
		return fail(ps, "nesting too deep");
	if (!count_node(ps))
		return false;
	stest *t = arena_calloc(ps->a, 1, sizeof *t);
	t->cmp = SCMP_CASEMAP;
	t->match = SM_IS;
	*out = t;
	stok k = slex_peek(&ps->lx);
	bool ok = true;
	if (k.kind != STK_IDENT) {
		ok = fail(ps, "missing test");
	} else if (is_ident(k, "true") || is_ident(k, "false")) {
		slex_next(&ps->lx);
		t->kind = is_ident(k, "true") ? ST_TRUE : ST_FALSE;
	} else if (is_ident(k, "not")) {
		slex_next(&ps->lx);
		t->kind = ST_NOT;
		t->kids = arena_alloc(ps->a, sizeof *t->kids);
		t->nkids = 1;
		ok = parse_test(ps, &t->kids[0]);
	} else if (is_ident(k, "allof") || is_ident(k, "anyof")) {
		slex_next(&ps->lx);
		t->kind = is_ident(k, "allof") ? ST_ALLOF : ST_ANYOF;
		ok = test_list(ps, t);
	} else if (is_ident(k, "header") || is_ident(k, "address") || is_ident(k, "envelope")) {
		slex_next(&ps->lx);
		t->kind = is_ident(k, "header") ? ST_HEADER : is_ident(k, "address") ? ST_ADDRESS : ST_ENVELOPE;
		if (t->kind == ST_ENVELOPE && !need_require(ps, ps->envelope, "envelope"))
			return false;
		ok = compare_tags(ps, t, t->kind != ST_HEADER)
			&& need_strings(ps, &t->names, t->kind == ST_ENVELOPE ? "envelope string list expected"
				: "header string list expected");
		for (int i = 0; ok && i < t->names.n; i++) {
			sv n = t->names.v[i];
			if (t->kind == ST_ENVELOPE) {
				if (!sv_eqi(n, SV_LIT("from")) && !sv_eqi(n, SV_LIT("to")))
					ok = fail(ps, "invalid envelope string");
			} else if (t->kind == ST_ADDRESS && !address_header(n)) {
				ok = fail(ps, "invalid header field");
			} else if (!valid_header_name(n)) {
				ok = fail(ps, "invalid header field");
			}
		}
		ok = ok && need_strings(ps, &t->keys, "key string list expected");
	} else if (is_ident(k, "exists")) {
		slex_next(&ps->lx);
		t->kind = ST_EXISTS;
		ok = need_strings(ps, &t->names, "header string list expected");
		for (int i = 0; ok && i < t->names.n; i++)
			if (!valid_header_name(t->names.v[i]))
				ok = fail(ps, "invalid header field");
	} else if (is_ident(k, "size")) {
		slex_next(&ps->lx);
		t->kind = ST_SIZE;
		stok tag = slex_peek(&ps->lx);
		if (is_tag(tag, "over") || is_tag(tag, "under")) {
			slex_next(&ps->lx);
			t->over = is_tag(tag, "over");
			ok = need_number(ps, &t->limit);
		} else {
			ok = fail(ps, "missing :over or :under");
		}
	} else if (is_ident(k, "valid_notify_method")) {
		slex_next(&ps->lx);
		if (!need_require(ps, ps->enotify, "enotify"))
			return false;
		t->kind = ST_VALID_NOTIFY_METHOD;
		ok = need_strings(ps, &t->names, "URI string list expected");
	} else if (is_ident(k, "notify_method_capability")) {
		slex_next(&ps->lx);
		if (!need_require(ps, ps->enotify, "enotify"))
			return false;
		t->kind = ST_NOTIFY_METHOD_CAPABILITY;
		sv uri;
		ok = compare_tags(ps, t, false) && need_string(ps, &uri, "missing notification URI string")
			&& need_string(ps, &t->capability, "missing notification capability string")
			&& need_strings(ps, &t->keys, "missing key string list");
		if (ok) {
			t->names.v = arena_alloc(ps->a, sizeof *t->names.v);
			t->names.v[0] = uri;
			t->names.n = 1;
		}
	} else {
		ok = fail(ps, "missing test");
	}
	ps->depth--;
	return ok;
}

static bool semicolon(sparser *ps)
{
	stok t = slex_peek(&ps->lx);
	if (t.kind != STK_SEMI)
		return fail(ps, "missing semicolon");
	slex_next(&ps->lx);
	return true;
}

static bool parse_block(sparser *ps, scmd **list, bool top);

static scmd *new_cmd(sparser *ps, scmd_kind kind)
{
	scmd *c = arena_calloc(ps->a, 1, sizeof *c);
	c->kind = kind;
	c->days = -1;
	(void)ps;
	return c;
}

/* require: every capability must be one Exim knows, matched exactly (observed: "FILEINTO" is
 * unknown). The lexer decodes encoded characters from the next token on. */
static bool parse_require(sparser *ps)
{
	sstrlist caps;
	if (!need_strings(ps, &caps, "capability string list expected"))
		return false;
	for (int i = 0; i < caps.n; i++) {
		sv c = caps.v[i];
		if (sv_eq_cstr(c, "fileinto"))
			ps->fileinto = true;
		else if (sv_eq_cstr(c, "copy"))
			ps->copy = true;
		else if (sv_eq_cstr(c, "envelope"))
			ps->envelope = true;
		else if (sv_eq_cstr(c, "subaddress"))
			ps->subaddress = true;
		else if (sv_eq_cstr(c, "comparator-i;ascii-numeric"))
			ps->numeric = true;
		else if (sv_eq_cstr(c, "comparator-i;octet") || sv_eq_cstr(c, "comparator-i;ascii-casemap"))
			;
		else if (sv_eq_cstr(c, "encoded-character"))
			ps->lx.encoded_character = true;
		else if (sv_eq_cstr(c, "vacation")) {
			if (!ps->o->vacation)
				return fail(ps, "vacation disabled");
			if (ps->o->vacation_open && !ps->o->vacation_open(ps->o->vacation_ctx))
				return fail(ps, "unable to open vacation directory");
			ps->vacation = true;
		} else if (sv_eq_cstr(c, "enotify")) {
			if (!ps->o->enotify)
				return fail(ps, "enotify disabled");
			ps->enotify = true;
		} else
			return fail(ps, "unknown capability");
	}
	/* The semicolon is read without looking further, so the next string is lexed with the
	 * capabilities just required. */
	return semicolon(ps);
}

/* vacation :from must be one address, checked as the script is read (so also in a branch that
 * does not run), with Exim 4.96's texts (observed): "empty address", or "malformed address
 * \"<text>\" (<why>)" with the reason Exim's address parser gives. */
static bool from_valid(sparser *ps, sv from, int line)
{
	if (from.len == 0)
		return fail_at(ps, line, "empty address");
	xbuf out, why;
	xbuf_init(&out, ps->a);
	xbuf_init(&why, ps->a);
	bool is_null = false, has_domain = false;
	if (smtp_parse_address(from, false, true, &out, &is_null, &has_domain, &why))
		return true;
	return fail_at(ps, line, arena_printf(ps->a, "malformed address \"" SV_FMT "\" (%s)", SV_ARG(from),
		xbuf_cstr(&why)));
}

static bool parse_vacation(sparser *ps, scmd *c)
{
	for (;;) {
		stok k = slex_peek(&ps->lx);
		if (k.kind != STK_TAG)
			break;
		slex_next(&ps->lx);
		bool ok;
		if (is_tag(k, "days")) {
			unsigned long long d;
			ok = need_number(ps, &d);
			c->days = d > 1000000 ? 1000000 : (long long)d;
		} else if (is_tag(k, "subject")) {
			ok = need_string(ps, &c->subject, "missing subject string");
		} else if (is_tag(k, "from")) {
			ok = need_string(ps, &c->from, "missing from string") && from_valid(ps, c->from, k.line);
		} else if (is_tag(k, "handle")) {
			ok = need_string(ps, &c->handle, "missing handle string");
		} else if (is_tag(k, "addresses")) {
			ok = need_strings(ps, &c->addresses, "missing addresses string list");
		} else if (is_tag(k, "mime")) {
			c->mime = true;
			ok = true;
		} else {
			ok = fail(ps, "syntax error");
		}
		if (!ok)
			return false;
	}
	return need_string(ps, &c->arg, "missing reason string");
}

static bool parse_notify(sparser *ps, scmd *c)
{
	for (;;) {
		stok k = slex_peek(&ps->lx);
		if (k.kind != STK_TAG)
			break;
		slex_next(&ps->lx);
		bool ok;
		if (is_tag(k, "from"))
			ok = need_string(ps, &c->from, "from string expected");
		else if (is_tag(k, "importance"))
			ok = need_string(ps, &c->importance, "importance string expected");
		else if (is_tag(k, "options"))
			ok = need_strings(ps, &c->options, "options string list expected");
		else if (is_tag(k, "message"))
			ok = need_string(ps, &c->message, "message string expected");
		else
			ok = fail(ps, "syntax error");
		if (!ok)
			return false;
	}
	return need_string(ps, &c->arg, "missing method string");
}

/* One command; *tail is where it is linked when complete (an if is linked before its block, so
 * that commands before an error inside the block run). false on error. */
static bool parse_command(sparser *ps, scmd ***tail, bool *none)
{
	*none = false;
	stok k = slex_peek(&ps->lx);
	if (k.kind != STK_IDENT) {
		*none = true;
		return true;
	}
	if (!count_node(ps))
		return false;
	scmd *c;
	if (is_ident(k, "require")) {
		slex_next(&ps->lx);
		return parse_require(ps);
	}
	if (is_ident(k, "if")) {
		slex_next(&ps->lx);
		c = new_cmd(ps, SC_IF);
		if (!parse_test(ps, &c->test))
			return false;
		stok b = slex_peek(&ps->lx);
		if (b.kind != STK_LBRACE)
			return fail(ps, "missing block");
		c->line = b.line;
		**tail = c;
		*tail = &c->next;
		slex_next(&ps->lx);
		if (!parse_block(ps, &c->then_cmds, false))
			return false;
		/* elsif chains hang off the else part. An error in an elsif test is marked after the
		 * whole if: Exim reports it whichever branch runs, unless the branch stops. */
		for (scmd *cur = c;;) {
			stok e = slex_peek(&ps->lx);
			if (is_ident(e, "elsif")) {
				slex_next(&ps->lx);
				scmd *n = new_cmd(ps, SC_IF);
				if (!parse_test(ps, &n->test))
					return false;
				b = slex_peek(&ps->lx);
				if (b.kind != STK_LBRACE)
					return fail(ps, "missing block");
				n->line = b.line;
				slex_next(&ps->lx);
				cur->else_cmds = n;
				cur = n;
				if (!parse_block(ps, &n->then_cmds, false))
					return false;
				continue;
			}
			if (is_ident(e, "else")) {
				slex_next(&ps->lx);
				b = slex_peek(&ps->lx);
				if (b.kind != STK_LBRACE)
					return fail(ps, "missing block");
				slex_next(&ps->lx);
				return parse_block(ps, &cur->else_cmds, false);
			}
			return true;
		}
	}
	if (is_ident(k, "stop") || is_ident(k, "keep") || is_ident(k, "discard")) {
		slex_next(&ps->lx);
		c = new_cmd(ps, is_ident(k, "stop") ? SC_STOP : is_ident(k, "keep") ? SC_KEEP : SC_DISCARD);
	} else if (is_ident(k, "redirect") || is_ident(k, "fileinto")) {
		slex_next(&ps->lx);
		bool redirect = is_ident(k, "redirect");
		if (!redirect && !need_require(ps, ps->fileinto, "fileinto"))
			return false;
		c = new_cmd(ps, redirect ? SC_REDIRECT : SC_FILEINTO);
		stok tag = slex_peek(&ps->lx);
		if (is_tag(tag, "copy")) {
			slex_next(&ps->lx);
			if (!need_require(ps, ps->copy, "copy"))
				return false;
			c->copy = true;
		}
		if (!need_string(ps, &c->arg, redirect ? "missing redirect recipient string" : "missing fileinto folder string"))
			return false;
		if (redirect) {
			/* Exim refuses unqualified recipients (its Sieve notes, "Semantics of redirect"). */
			const char *at = memchr(c->arg.p, '@', c->arg.len);
			if (!at || at == c->arg.p || at == c->arg.p + c->arg.len - 1)
				return fail(ps, "unqualified recipient address");
		} else {
			bool dotdot = false;
			for (size_t i = 0; i + 1 < c->arg.len; i++)
				dotdot = dotdot || (c->arg.p[i] == '.' && c->arg.p[i + 1] == '.');
			if (c->arg.len == 0 || dotdot)
				return fail(ps, "invalid folder");
		}
	} else if (is_ident(k, "vacation")) {
		slex_next(&ps->lx);
		if (!need_require(ps, ps->vacation, "vacation"))
			return false;
		c = new_cmd(ps, SC_VACATION);
		if (!parse_vacation(ps, c))
			return false;
	} else if (is_ident(k, "notify")) {
		slex_next(&ps->lx);
		if (!need_require(ps, ps->enotify, "enotify"))
			return false;
		c = new_cmd(ps, SC_NOTIFY);
		if (!parse_notify(ps, c))
			return false;
	} else {
		*none = true;
		return true;
	}
	if (!semicolon(ps))
		return false;
	c->line = ps->lx.line;
	**tail = c;
	*tail = &c->next;
	return true;
}

/* Commands up to "}" (block) or the end (top). On an error the SC_ERROR mark goes into the
 * innermost block being parsed. */
static bool parse_block(sparser *ps, scmd **list, bool top)
{
	scmd **tail = list;
	while (*tail)
		tail = &(*tail)->next;
	if (++ps->depth > SIEVE_MAX_DEPTH) {
		fail(ps, "nesting too deep");
		goto error;
	}
	for (;;) {
		bool none;
		if (!parse_command(ps, &tail, &none))
			goto error;
		if (!none)
			continue;
		stok t = slex_peek(&ps->lx);
		if (top) {
			if (t.kind != STK_EOF) {
				fail(ps, "syntax error");
				goto error;
			}
			break;
		}
		if (t.kind != STK_RBRACE) {
			fail(ps, "expecting command or closing brace");
			goto error;
		}
		slex_next(&ps->lx);
		break;
	}
	ps->depth--;
	return true;
error:
	if (!ps->error_placed) {
		ps->error_placed = true;
		scmd *e = new_cmd(ps, SC_ERROR);
		*tail = e;
	}
	return false;
}

sieve_program *sieve_parse(arena *a, sv text, const sieve_options *o)
{
	sparser ps = { .a = a, .o = o };
	if (text.len > SIEVE_MAX_SCRIPT)
		text.len = SIEVE_MAX_SCRIPT;
	slex_init(&ps.lx, a, text);
	sieve_program *p = arena_calloc(a, 1, sizeof *p);
	p->vacation_enabled = o->vacation;
	p->enotify_enabled = o->enotify;
	parse_block(&ps, &p->cmds, true);
	p->error = ps.failed ? ps.error : SV_NULL;
	return p;
}

sv sieve_parse_error(const sieve_program *p)
{
	return p->error;
}
