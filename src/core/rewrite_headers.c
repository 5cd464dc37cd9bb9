/* Rewriting the addresses in header lines, and the reception-time pass over a new message, as
 * Exim 4.96 does it (observed in its -H files):
 *   - only From, To, Cc, Bcc, Reply-To, Sender and their Resent- versions, each by its own flag;
 *   - within a header only the working address of each item changes (phrase, comments and
 *     folding stay), or the whole item for a w rule;
 *   - when an item grew and now ends beyond column 38 with another item after it on the same
 *     line, the next item is moved to a new line ("\n\t"), as Exim folds;
 *   - the old line stays in the spool marked deleted ('*') with the new one right after it;
 *   - rewritten envelope addresses leave deleted "X-rewrote-original-recipient:" lines (one per
 *     recipient) and then an "X-rewrote-sender:" line;
 *   - order at reception: recipients, (a From: made from the sender as it was), headers, then
 *     the sender. */
#include "core/rewrite.h"

#include <ctype.h>
#include <string.h>

#include "core/rewrite_internal.h"
#include "mail/address.h"

#define FOLD_COLUMN 38

unsigned rewrite_header_flag(sv name)
{
	static const struct { const char *name; unsigned flag; } names[] = {
		{ "from", CONF_REWRITE_FROM }, { "to", CONF_REWRITE_TO }, { "cc", CONF_REWRITE_CC },
		{ "bcc", CONF_REWRITE_BCC }, { "reply-to", CONF_REWRITE_REPLYTO },
		{ "sender", CONF_REWRITE_SENDERHDR },
	};
	name = sv_trim(name);
	if (name.len > 7 && sv_eqi(sv_sub(name, 0, 7), SV_LIT("resent-")))
		name = sv_sub(name, 7, name.len - 7);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (sv_eqi(name, sv_cstr(names[i].name)))
			return names[i].flag;
	return 0;
}

static char header_type_for(unsigned flag)
{
	switch (flag) {
	case CONF_REWRITE_FROM: return 'F';
	case CONF_REWRITE_TO: return 'T';
	case CONF_REWRITE_CC: return 'C';
	case CONF_REWRITE_BCC: return 'B';
	case CONF_REWRITE_REPLYTO: return 'R';
	case CONF_REWRITE_SENDERHDR: return 'S';
	}
	return ' ';
}

static bool any_rule(const conf_rewrite_rule *rules, unsigned flag)
{
	for (const conf_rewrite_rule *r = rules; r; r = r->next)
		if (r->flags & flag)
			return true;
	return false;
}

/* The column where text ends: bytes since the last newline in out. */
static size_t column(const xbuf *out)
{
	size_t i = out->len;
	while (i > 0 && out->p[i - 1] != '\n')
		i--;
	return out->len - i;
}

/* What becomes of one item's working address: the rewrite rules, or qualification. *whole is
 * set (not null) when a w rule replaces the whole item. Returns old when nothing changes. */
typedef struct item_change {
	const conf_rewrite_rule *rules;   /* NULL: qualify with domain */
	unsigned flag;
	xp_env *env;
	const char *domain;
} item_change;

static sv change_item(arena *a, const item_change *c, sv old, const addr_parsed *info, sv *whole)
{
	*whole = SV_NULL;
	if (!c->rules) {
		if (info->has_domain)
			return old;
		xbuf q;
		xbuf_init(&q, a);
		q.taint = old.taint;
		xbuf_putsv(&q, old);
		xbuf_printf(&q, "@%s", c->domain);
		return xbuf_sv(&q);
	}
	if (!info->has_domain)
		return old;     /* unqualified addresses are not rewritten */
	return rewrite_one(a, c->rules, old, c->flag, c->env, whole);
}

/* The items of a header line, each working address changed as c says; the rest of the text
 * (phrases, comments, separators, folding) stays, and a grown item pushes the next one to a new
 * line as Exim folds. */
static bool change_header_items(arena *a, const item_change *c, sv text, size_t nlen, sv *out)
{
	sv body = sv_sub(text, nlen + 1, text.len - nlen - 1);
	xbuf nb, addr;
	xbuf_init(&nb, a);
	xbuf_init(&addr, a);
	nb.taint = text.taint;
	xbuf_put(&nb, text.p, nlen + 1);
	size_t pos = 0, cursor = 0;
	bool changed = false, fold_next = false;
	addr_group_state groups = { .allow = true };
	sv item;
	while (addr_next_item(body, &pos, &item)) {
		size_t istart = (size_t)(item.p - body.p);
		size_t lead = 0;
		while (lead < item.len && isspace((unsigned char)item.p[lead]))
			lead++;
		sv core = item;
		core.p += lead;
		core.len -= lead;
		while (core.len && isspace((unsigned char)core.p[core.len - 1]))
			core.len--;
		/* Copy what comes before the item (separator and white space) as it is; a fold asked
		 * for by the previous item goes right before this one's text. */
		xbuf_put(&nb, body.p + cursor, istart + lead - cursor);
		if (fold_next && core.len && !memchr(body.p + cursor, '\n', istart + lead - cursor))
			xbuf_puts(&nb, "\n\t");
		fold_next = false;
		cursor = istart + lead;
		if (!core.len)
			continue;
		xbuf_reset(&addr);
		addr_parsed info;
		const char *why;
		if (!addr_extract(core, &groups, &addr, &info, &why) || info.empty)
			continue;
		sv old = xbuf_sv(&addr);
		old.taint |= text.taint;
		old = sv_copy(a, old);
		sv whole;
		sv nw = change_item(a, c, old, &info, &whole);
		if (sv_eq(nw, old) && sv_is_null(whole))
			continue;
		/* Replace the working address where it is written, else the whole item. */
		size_t before = nb.len;
		const char *hit = NULL;
		if (sv_is_null(whole) && old.len <= core.len)
			hit = memmem(core.p, core.len, old.p, old.len);
		if (hit) {
			xbuf_put(&nb, core.p, (size_t)(hit - core.p));
			xbuf_putsv(&nb, nw);
			xbuf_put(&nb, hit + old.len, core.len - (size_t)(hit - core.p) - old.len);
		} else {
			xbuf_putsv(&nb, sv_is_null(whole) ? nw : whole);
		}
		cursor += core.len;
		changed = true;
		if (nb.len - before > core.len && column(&nb) > FOLD_COLUMN)
			fold_next = true;
	}
	xbuf_put(&nb, body.p + cursor, body.len - cursor);
	if (!changed)
		return false;
	*out = xbuf_sv(&nb);
	return true;
}

bool rewrite_header_line(arena *a, const conf_rewrite_rule *rules, char type, sv text, xp_env *env,
	sv *out)
{
	(void)type;
	const char *colon = memchr(text.p, ':', text.len);
	if (!colon)
		return false;
	size_t nlen = (size_t)(colon - text.p);
	unsigned flag = rewrite_header_flag(sv_make(text.p, nlen));
	if (!flag || !any_rule(rules, flag))
		return false;
	item_change c = { .rules = rules, .flag = flag, .env = env };
	return change_header_items(a, &c, text, nlen, out);
}

bool rewrite_header_qualify(arena *a, sv text, const char *domain, sv *out)
{
	const char *colon = memchr(text.p, ':', text.len);
	if (!colon)
		return false;
	item_change c = { .domain = domain };
	return change_header_items(a, &c, text, (size_t)(colon - text.p), out);
}

bool rewrite_headers(message *m, const conf_rewrite_rule *rules, unsigned which, xp_env *env)
{
	bool any = false;
	for (msg_header *h = m->headers; h; h = h->next) {
		if (h->type == '*')
			continue;
		const char *colon = memchr(h->text.p, ':', h->text.len);
		if (!colon)
			continue;
		unsigned flag = rewrite_header_flag(sv_make(h->text.p, (size_t)(colon - h->text.p)));
		if (!(flag & which))
			continue;
		sv nt;
		if (!rewrite_header_line(m->a, rules, h->type, h->text, env, &nt))
			continue;
		if (h->qualified) {
			h->text = nt;
			h->qualified = false;
			any = true;
			continue;
		}
		char type = h->type != ' ' ? h->type : header_type_for(flag);
		h->type = '*';
		/* Right after the old line (insert_header takes NULL as "at the start"). */
		msg_header *n = h->next ? message_insert_header(m, h->next, type, nt)
		                        : message_add_header(m, type, nt);
		h = n;    /* the new line is not rewritten again */
		any = true;
	}
	return any;
}

static void record(message *m, const char *name, sv old)
{
	xbuf b;
	xbuf_init(&b, m->a);
	xbuf_puts(&b, name);
	xbuf_putsv(&b, old);
	xbuf_putc(&b, '\n');
	message_add_header(m, '*', xbuf_sv(&b));
}

void rewrite_reception_recipients(message *m, xp_env *env)
{
	const conf_rewrite_rule *rules = conf_rewrite_rules();
	if (!any_rule(rules, CONF_REWRITE_RECIPIENT))
		return;
	for (size_t i = 0; i < m->nrcpt; i++) {
		sv old = m->rcpt[i].address;
		sv nw = rewrite_one(m->a, rules, old, CONF_REWRITE_RECIPIENT, env, NULL);
		if (sv_eq(nw, old))
			continue;
		m->rcpt[i].address = nw;
		record(m, "X-rewrote-original-recipient: ", old);
	}
}

void rewrite_reception_headers_sender(message *m, xp_env *env)
{
	const conf_rewrite_rule *rules = conf_rewrite_rules();
	if (!rules)
		return;
	rewrite_headers(m, rules, CONF_REWRITE_HEADERS, env);
	if (m->sender.len && any_rule(rules, CONF_REWRITE_SENDER)) {
		sv old = m->sender;
		m->sender = rewrite_one(m->a, rules, m->sender, CONF_REWRITE_SENDER, env, NULL);
		if (!sv_eq(old, m->sender))
			record(m, "X-rewrote-sender: ", old);
	}
}

void rewrite_message_at_reception(message *m, xp_env *env, bool smtp_time)
{
	if (smtp_time)
		return;           /* S rules run per command: rewrite_smtp_address */
	rewrite_reception_recipients(m, env);
	rewrite_reception_headers_sender(m, env);
}
