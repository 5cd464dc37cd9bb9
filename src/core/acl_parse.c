/* ACL text -> statements: the condition table (built-in and registered), the line syntax with
 * Exim 4.96's error wording, and the splitting of file and inline ACL text into lines.
 *
 * Line syntax (as Exim reads it): a line starting with a verb begins a statement and may carry
 * its first condition; other lines add one condition or modifier each: "[!] name = value" (or
 * "set acl_xxx = value", or a bare "endpass"). The value is the rest of the line, unexpanded. */
#include <ctype.h>
#include <string.h>

#include "core/acl_internal.h"
#include "lib/arena.h"

#define W(x) ACL_BIT(ACL_WHERE_##x)

/* Where message-changing modifiers make sense: while a message is being received. */
#define MSG_WHERES (W(MAIL) | W(RCPT) | W(PREDATA) | W(DATA) | W(PRDR) | W(MIME) | W(NOTSMTP) \
	| W(DKIM) | W(NOTSMTP_START))
/* Where there is no sender (checked against Exim 4.96 -bh, as are the other masks). The not-QUIT
 * ACL may test it (Exim 4.96 crashes there when no MAIL was given). */
#define NO_SENDER (W(AUTH) | W(CONNECT) | W(HELO) | W(ETRN) | W(EXPN) | W(STARTTLS) | W(VRFY) | W(QUIT) | W(MAILAUTH))
#define NOT_SMTP (W(NOTSMTP) | W(NOTSMTP_START))

static const acl_cond_def builtin[C__COUNT] = {
	[C_ACL] = { "acl", false, false, 0, NULL },   /* each word expanded (cond_acl) */
	[C_ADD_HEADER] = { "add_header", true, true, ACL_ALL_WHERE & ~MSG_WHERES, NULL },
	[C_AUTHENTICATED] = { "authenticated", false, true, NOT_SMTP | W(CONNECT) | W(HELO), NULL },
	[C_CONDITION] = { "condition", false, true, 0, NULL },
	[C_CONTINUE] = { "continue", true, true, 0, NULL },
	[C_CONTROL] = { "control", true, true, 0, NULL },
	[C_DELAY] = { "delay", true, true, W(NOTQUIT), NULL },
	[C_DECODE] = { "decode", false, true, ACL_ALL_WHERE & ~W(MIME), NULL },
	[C_DNSLISTS] = { "dnslists", false, true, NOT_SMTP, NULL },
	[C_DOMAINS] = { "domains", false, true, ACL_ALL_WHERE & ~(W(RCPT) | W(VRFY) | W(PRDR)), NULL },
	[C_ENCRYPTED] = { "encrypted", false, true, NOT_SMTP | W(HELO), NULL },
	[C_ENDPASS] = { "endpass", true, false, 0, NULL },
	[C_HOSTS] = { "hosts", false, true, NOT_SMTP, NULL },
	[C_LOCAL_PARTS] = { "local_parts", false, true, ACL_ALL_WHERE & ~(W(RCPT) | W(VRFY) | W(PRDR)), NULL },
	[C_LOG_MESSAGE] = { "log_message", true, false, 0, NULL },
	[C_LOG_REJECT_TARGET] = { "log_reject_target", true, true, 0, NULL },
	[C_LOGWRITE] = { "logwrite", true, true, 0, NULL },
	[C_MESSAGE] = { "message", true, false, 0, NULL },
	[C_MIME_REGEX] = { "mime_regex", false, true, ACL_ALL_WHERE & ~W(MIME), NULL },
	[C_QUEUE] = { "queue", true, true, W(DATA) | W(PRDR) | W(MIME) | W(DKIM) | W(NOTSMTP), NULL },
	[C_RATELIMIT] = { "ratelimit", false, true, 0, NULL },
	[C_RECIPIENTS] = { "recipients", false, true, ACL_ALL_WHERE & ~(W(RCPT) | W(PRDR)), NULL },
	[C_REGEX] = { "regex", false, true, ACL_ALL_WHERE & ~(W(DATA) | W(NOTSMTP) | W(PRDR) | W(MIME)), NULL },
	[C_REMOVE_HEADER] = { "remove_header", true, true, ACL_ALL_WHERE & ~MSG_WHERES, NULL },
	[C_SEEN] = { "seen", false, true, 0, NULL },
	[C_SENDER_DOMAINS] = { "sender_domains", false, true, NO_SENDER, NULL },
	[C_SENDERS] = { "senders", false, true, NO_SENDER, NULL },
	[C_SET] = { "set", true, true, 0, NULL },
	[C_UDPSEND] = { "udpsend", true, true, 0, NULL },
	[C_VERIFY] = { "verify", false, true, W(NOTSMTP_START), NULL },
};

/* Registered module conditions. */
#define MAX_REGISTERED 32
static acl_cond_def registered[MAX_REGISTERED];
static int nregistered;

const acl_cond_def *acl_cond_def_get(int id)
{
	if (id >= 0 && id < C__COUNT)
		return &builtin[id];
	if (id >= C__COUNT && id < C__COUNT + nregistered)
		return &registered[id - C__COUNT];
	return NULL;
}

int acl_cond_lookup(sv name)
{
	for (int i = 0; i < C__COUNT; i++)
		if (sv_eq_cstr(name, builtin[i].name))
			return i;
	for (int i = 0; i < nregistered; i++)
		if (sv_eq_cstr(name, registered[i].name))
			return C__COUNT + i;
	return -1;
}

bool acl_register_condition(const char *name, unsigned forbid_mask, bool modifier, acl_cond_fn fn)
{
	if (!name || !fn || nregistered == MAX_REGISTERED || acl_cond_lookup(sv_cstr(name)) >= 0)
		return false;
	registered[nregistered++] = (acl_cond_def){ name, modifier, true, forbid_mask & ACL_ALL_WHERE, fn };
	return true;
}

static const char *const verb_names[V__COUNT] = {
	"accept", "defer", "deny", "discard", "drop", "require", "warn",
};

const char *acl_verb_name(int v)
{
	return v >= 0 && v < V__COUNT ? verb_names[v] : "?";
}

static bool name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

static size_t skip_space(sv s, size_t i)
{
	while (i < s.len && isspace((unsigned char)s.p[i]))
		i++;
	return i;
}

static size_t read_name(sv s, size_t i)
{
	while (i < s.len && name_char(s.p[i]))
		i++;
	return i;
}

/* One condition or modifier starting at offset i of line; appended to st. */
static bool parse_condition(arena *a, sv line, size_t i, acl_stmt *st, acl_cond ***tail, xbuf *err)
{
	bool negated = false;
	if (i < line.len && line.p[i] == '!') {
		negated = true;
		i = skip_space(line, i + 1);
	}
	size_t start = i;
	i = read_name(line, i);
	int id = start < i && isalpha((unsigned char)line.p[start]) ? acl_cond_lookup(sv_range(line, start, i)) : -1;
	if (id < 0) {
		xbuf_printf(err, "unknown ACL condition/modifier in \"" SV_FMT "\"", SV_ARG(line));
		return false;
	}
	const acl_cond_def *def = acl_cond_def_get(id);
	if (negated && def->modifier) {
		xbuf_printf(err, "ACL error: negation is not allowed with \"%s\"", def->name);
		return false;
	}
	/* endpass passes control on only after an accepting verb (Exim 4.96 refuses the rest). */
	if (id == C_ENDPASS && st->verb != V_ACCEPT && st->verb != V_DISCARD) {
		xbuf_printf(err, "ACL error: \"endpass\" is not allowed with \"%s\"", acl_verb_name(st->verb));
		return false;
	}
	acl_cond *cd = arena_calloc(a, 1, sizeof *cd);
	cd->id = id;
	cd->negated = negated;
	if (id == C_SET) {
		i = skip_space(line, i);
		sv rest = sv_sub(line, i, line.len);
		size_t vend = read_name(line, i);
		sv var = sv_range(line, i, vend);
		if (!sv_starts(var, "acl_c") && !sv_starts(var, "acl_m")) {
			xbuf_printf(err, "invalid variable name after \"set\" in ACL modifier \"set " SV_FMT "\" "
				"(must start \"acl_c\" or \"acl_m\")", SV_ARG(rest));
			return false;
		}
		if (var.len == 5 || !(isdigit((unsigned char)var.p[5]) || var.p[5] == '_')) {
			xbuf_printf(err, "invalid variable name after \"set\" in ACL modifier \"set " SV_FMT "\" "
				"(digit or underscore must follow acl_c or acl_m)", SV_ARG(rest));
			return false;
		}
		cd->varname = sv_copy(a, var);
		i = vend;
	}
	if (id != C_ENDPASS) {
		i = skip_space(line, i);
		if (i >= line.len || line.p[i] != '=') {
			xbuf_printf(err, "\"=\" missing after ACL \"%s\" %s", def->name,
				def->modifier ? "modifier" : "condition");
			return false;
		}
		i = skip_space(line, i + 1);
		cd->arg = sv_copy(a, sv_trim(sv_sub(line, i, line.len)));
	}
	**tail = cd;
	*tail = &cd->next;
	return true;
}

bool acl_parse(arena *a, const acl_src_line *lines, size_t n, acl_stmt **out, xbuf *err, size_t *eline)
{
	acl_stmt *first = NULL, **stail = &first, *cur = NULL;
	acl_cond **ctail = NULL;
	for (size_t ln = 0; ln < n; ln++) {
		sv line = sv_trim(lines[ln].text);
		*eline = ln;
		if (!line.len || line.p[0] == '#')
			continue;
		size_t i = 0;
		if (isalpha((unsigned char)line.p[0])) {
			size_t end = read_name(line, 0);
			sv word = sv_sub(line, 0, end);
			int verb = -1;
			for (int v = 0; v < V__COUNT; v++)
				if (sv_eq_cstr(word, verb_names[v]))
					verb = v;
			if (verb >= 0) {
				cur = arena_calloc(a, 1, sizeof *cur);
				cur->verb = verb;
				cur->file = lines[ln].file;
				cur->line = lines[ln].line;
				*stail = cur;
				stail = &cur->next;
				ctail = &cur->conds;
				i = skip_space(line, end);
				if (i >= line.len)
					continue;
			} else if (!cur) {
				xbuf_printf(err, "unknown ACL verb \"" SV_FMT "\" in \"" SV_FMT "\"", SV_ARG(word), SV_ARG(line));
				return false;
			}
		} else if (!cur) {
			xbuf_printf(err, "malformed ACL line \"" SV_FMT "\"", SV_ARG(line));
			return false;
		}
		if (!parse_condition(a, line, i, cur, &ctail, err))
			return false;
	}
	*out = first;
	return true;
}

size_t acl_split_text(arena *a, sv text, const char *file, acl_src_line **out)
{
	size_t cap = 8, n = 0;
	acl_src_line *lines = arena_alloc(a, cap * sizeof *lines);
	xbuf cur;
	xbuf_init(&cur, a);
	bool continuing = false;
	int lineno = 0, startline = 0;
	size_t pos = 0;
	while (pos < text.len) {
		const char *nl = memchr(text.p + pos, '\n', text.len - pos);
		size_t end = nl ? (size_t)(nl - text.p) : text.len;
		sv raw = sv_range(text, pos, end);
		pos = end + 1;
		lineno++;
		/* Trailing white space goes; leading white space of a continuation too. */
		while (raw.len && isspace((unsigned char)raw.p[raw.len - 1]))
			raw.len--;
		if (continuing) {
			raw = sv_trim(raw);
		} else {
			sv t = sv_trim(raw);
			if (!t.len || t.p[0] == '#')
				continue;
			xbuf_init(&cur, a);
			startline = lineno;
		}
		continuing = raw.len && raw.p[raw.len - 1] == '\\';
		if (continuing)
			raw.len--;
		xbuf_putsv(&cur, raw);
		if (continuing && pos < text.len)
			continue;
		continuing = false;
		if (!sv_trim(xbuf_sv(&cur)).len)
			continue; /* only continuation backslashes: nothing there */
		if (n == cap) {
			lines = arena_realloc(a, lines, cap * sizeof *lines, 2 * cap * sizeof *lines);
			cap *= 2;
		}
		lines[n++] = (acl_src_line){ xbuf_sv(&cur), file, startline };
	}
	*out = lines;
	return n;
}
