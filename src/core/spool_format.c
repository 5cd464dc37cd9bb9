/* The -H file text, byte for byte as Exim 4.96 writes it (facts §1, checked against files
 * written by Debian's exim4 4.96): envelope lines, option lines in Exim's order with "--" marking
 * tainted values (and "--(lookup)" values quoted for a lookup), ACL variables and non-recipients
 * in the pre-order of Exim's balanced trees, recipients (extended form when DSN/one-time data is
 * present) and the header lines with their lengths and type letters. */
#include <stdio.h>
#include <string.h>

#include "core/spool.h"
#include "search/search.h"

/* A value on an option line: a newline inside would end the line early, so it becomes a space
 * (Exim does the same for addresses and auth_sender). */
static void put_flat(xbuf *out, sv v)
{
	size_t start = 0;
	if (v.len == 0)
		return;  /* an unset value may have a NULL pointer */
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] == '\n') {
			xbuf_put(out, v.p + start, i - start);
			xbuf_putc(out, ' ');
			start = i + 1;
		}
	xbuf_put(out, v.p + start, v.len - start);
}

/* "-name" or "--name" / "--(quoter)name" for a tainted value. */
static void put_optname(xbuf *out, const char *name, sv v)
{
	xbuf_putc(out, '-');
	if (v.taint) {
		xbuf_putc(out, '-');
		const lookup_info *li = v.quoter ? search_quoter_driver(v.quoter) : NULL;
		if (li)
			xbuf_printf(out, "(%s)", li->name);
	}
	xbuf_puts(out, name);
}

static void opt_str(xbuf *out, const char *name, sv v)
{
	if (!v.len)
		return;
	put_optname(out, name, v);
	xbuf_putc(out, ' ');
	put_flat(out, v);
	xbuf_putc(out, '\n');
}

/* Certificates are PEM text; the file keeps each on one line with its newlines as "\n". */
static void opt_cert(xbuf *out, const char *name, sv v)
{
	if (!v.len)
		return;
	put_optname(out, name, v);
	xbuf_putc(out, ' ');
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] == '\n')
			xbuf_puts(out, "\\n");
		else
			xbuf_putc(out, v.p[i]);
	}
	xbuf_putc(out, '\n');
}

static void opt_flag(xbuf *out, const char *name, bool on)
{
	if (on)
		xbuf_printf(out, "-%s\n", name);
}

static void opt_hostport(xbuf *out, const char *name, sv addr, int port)
{
	if (!addr.len)
		return;
	put_optname(out, name, addr);
	xbuf_puts(out, " [");
	put_flat(out, addr);
	xbuf_printf(out, "]:%d\n", port);
}

/* ACL variables of one kind ('c' or 'm'): a tree built in the order they were first set, walked
 * in pre-order, each "-aclX <rest> <len>\n<value>\n". */
static const msg_aclvar *find_var(const message *m, sv name)
{
	return message_get_aclvar(m, name);
}

static void put_aclvars_walk(xbuf *out, const message *m, const msg_tree *n, char kind, int depth)
{
	if (!n || depth > 200)
		return;
	const msg_aclvar *v = find_var(m, n->name);
	if (v) {
		sv rest = sv_sub(v->name, 5, v->name.len);
		put_optname(out, kind == 'c' ? "aclc" : "aclm", v->value);
		xbuf_putc(out, ' ');
		xbuf_putsv(out, (sv){ rest.p, rest.len, 0, 0 });
		xbuf_printf(out, " %zu\n", v->value.len);
		xbuf_put(out, v->value.p, v->value.len);
		xbuf_putc(out, '\n');
	}
	put_aclvars_walk(out, m, n->left, kind, depth + 1);
	put_aclvars_walk(out, m, n->right, kind, depth + 1);
}

static void put_aclvars(xbuf *out, const message *m, char kind, arena *a)
{
	msg_tree *root = NULL;
	const char prefix[] = { 'a', 'c', 'l', '_', kind, 0 };
	for (const msg_aclvar *v = m->aclvars; v; v = v->next)
		if (v->name.len > 5 && sv_starts(v->name, prefix))
			msg_tree_insert(a, &root, v->name);
	put_aclvars_walk(out, m, root, kind, 0);
}

static void put_nonrcpt_walk(xbuf *out, const msg_tree *n, int depth)
{
	if (!n || depth > 200)
		return;
	xbuf_printf(out, "%c%c ", n->left ? 'Y' : 'N', n->right ? 'Y' : 'N');
	put_flat(out, n->name);
	xbuf_putc(out, '\n');
	put_nonrcpt_walk(out, n->left, depth + 1);
	put_nonrcpt_walk(out, n->right, depth + 1);
}

/* A decimal number, zero-padded to width digits when it is not negative ("%0*lld"): the -H
 * file's numbers went through xbuf_printf, a fifth of the instructions of writing it. */
static void put_num(xbuf *out, long long v, int width)
{
	char d[24];
	int n = 0;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		d[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		xbuf_putc(out, '-');
	else
		while (n < width && n < (int)sizeof d)
			d[n++] = '0';
	while (n > 0)
		xbuf_putc(out, d[--n]);
}

void spool_format_header(const message *m, xbuf *out)
{
	static const msg_origin no_origin;
	const msg_origin *o = m->origin ? m->origin : &no_origin;
	bool taint = out->taint;
	arena *a = arena_new("spool_format");

	xbuf_puts(out, m->id);
	xbuf_puts(out, "-H\n");
	sv login = o->login.len ? o->login : SV_LIT("root");
	if (login.len > 63)
		login.len = 63;
	put_flat(out, login);
	xbuf_putc(out, ' ');
	put_num(out, (long)o->uid, 0);
	xbuf_putc(out, ' ');
	put_num(out, (long)o->gid, 0);
	xbuf_putc(out, '\n');
	xbuf_putc(out, '<');
	put_flat(out, m->sender);
	xbuf_puts(out, ">\n");
	put_num(out, (long long)m->received_time, 0);
	xbuf_putc(out, ' ');
	put_num(out, m->warning_count, 0);
	xbuf_puts(out, "\n-received_time_usec .");
	put_num(out, m->received_usec, 6);
	xbuf_puts(out, "\n-received_time_complete ");
	put_num(out, m->received_complete ? (long long)m->received_complete : (long long)m->received_time, 0);
	xbuf_putc(out, '.');
	put_num(out, m->received_complete ? m->received_complete_usec : m->received_usec, 6);
	xbuf_putc(out, '\n');
	opt_str(out, "helo_name", o->helo_name);
	opt_hostport(out, "host_address", o->host_address, o->host_port);
	opt_str(out, "host_name", o->host_name);
	opt_str(out, "host_auth", o->auth_driver);
	opt_str(out, "host_auth_pubname", o->auth_pubname);
	opt_hostport(out, "interface_address", o->interface_address, o->interface_port);
	opt_str(out, "active_hostname", o->active_hostname);
	opt_str(out, "ident", o->ident);
	opt_str(out, "received_protocol", o->protocol);
	put_aclvars(out, m, 'c', a);
	put_aclvars(out, m, 'm', a);
	if (m->debug_selector)
		xbuf_printf(out, "-debug_selector 0x%lx\n", m->debug_selector);
	opt_str(out, "debuglog_name", m->debuglog_name);
	if (m->spool_wireformat)
		xbuf_puts(out, "-spool_file_wireformat\n");
	else {
		xbuf_puts(out, "-body_linecount ");
		put_num(out, m->body_linecount, 0);
		xbuf_putc(out, '\n');
	}
	xbuf_puts(out, "-max_received_linelength ");
	put_num(out, m->max_received_linelength, 0);
	xbuf_putc(out, '\n');
	if (m->body_zerocount > 0)
		xbuf_printf(out, "-body_zerocount %lld\n", m->body_zerocount);
	opt_str(out, "auth_id", o->auth_id);
	opt_str(out, "auth_sender", o->auth_sender);
	opt_flag(out, "allow_unqualified_recipient", m->allow_unqualified_recipient);
	opt_flag(out, "allow_unqualified_sender", m->allow_unqualified_sender);
	opt_flag(out, "deliver_firsttime", m->deliver_firsttime);
	if (m->frozen)
		xbuf_printf(out, "-frozen %lld\n", (long long)m->frozen);
	opt_flag(out, "N", m->dont_deliver);
	opt_flag(out, "host_lookup_deferred", o->host_lookup_deferred);
	opt_flag(out, "host_lookup_failed", o->host_lookup_failed);
	opt_flag(out, "local", m->local);
	opt_flag(out, "localerror", m->localerror);
	opt_str(out, "local_scan", m->local_scan);
	opt_str(out, "spam_bar", m->spam_bar);
	opt_str(out, "spam_score", m->spam_score);
	opt_str(out, "spam_score_int", m->spam_score_int);
	opt_flag(out, "manual_thaw", m->manual_thaw);
	opt_flag(out, "sender_set_untrusted", m->sender_set_untrusted);
	opt_str(out, "bmi_verdicts", m->bmi_verdicts);
	opt_flag(out, "tls_certificate_verified", o->tls_certificate_verified);
	opt_str(out, "tls_cipher", o->tls_cipher);
	opt_cert(out, "tls_peercert", o->tls_peercert);
	opt_str(out, "tls_peerdn", o->tls_peerdn);
	opt_str(out, "tls_sni", o->tls_sni);
	opt_cert(out, "tls_ourcert", o->tls_ourcert);
	if (o->tls_ocsp)
		xbuf_printf(out, "-tls_ocsp %d\n", o->tls_ocsp);
	xbuf_puts(out, "-tls_resumption ");
	xbuf_putc(out, (char)('A' + (int)(o->tls_resumption & 0x3f)));
	xbuf_putc(out, '\n');
	opt_str(out, "tls_ver", o->tls_ver);
	opt_flag(out, "smtputf8", m->smtputf8);
	if (m->utf8_downcvt)
		xbuf_puts(out, "-utf8_downcvt\n");
	else if (m->utf8_optdowncvt)
		xbuf_puts(out, "-utf8_optdowncvt\n");
	/* Exim writes ENVID without a taint mark even though it came from MAIL (observed). */
	opt_str(out, "dsn_envid", (sv){ m->dsn_envid.p, m->dsn_envid.len, 0, 0 });
	if (m->dsn_ret)
		xbuf_printf(out, "-dsn_ret %d\n", m->dsn_ret);
	/* Lines this version read but does not interpret, so a rewrite keeps them. */
	for (size_t i = 0; i < m->nunknown; i++) {
		xbuf_putsv(out, m->unknown_lines[i]);
		xbuf_putc(out, '\n');
	}

	if (m->nonrcpt_tree)
		put_nonrcpt_walk(out, m->nonrcpt_tree, 0);
	else
		xbuf_puts(out, "XX\n");

	put_num(out, (long long)m->nrcpt, 0);
	xbuf_putc(out, '\n');
	for (size_t i = 0; i < m->nrcpt; i++) {
		const msg_recipient *r = &m->rcpt[i];
		put_flat(out, r->address);
		if (r->pno >= 0 || r->errors_to.len || r->dsn_flags) {
			xbuf_putc(out, ' ');
			put_flat(out, r->orcpt);
			xbuf_printf(out, " %zu,%u ", r->orcpt.len, r->dsn_flags);
			put_flat(out, r->errors_to);
			xbuf_printf(out, " %zu,%d#3", r->errors_to.len, r->pno);
		}
		xbuf_putc(out, '\n');
	}

	xbuf_putc(out, '\n');
	for (const msg_header *h = m->headers; h; h = h->next) {
		put_num(out, (long long)h->text.len, 3);
		xbuf_putc(out, h->type ? h->type : ' ');
		xbuf_putc(out, ' ');
		xbuf_put(out, h->text.p, h->text.len);
	}
	arena_free(a);
	out->taint = taint; /* the file's bytes are what they are; taint is recorded per line */
}
