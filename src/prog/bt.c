/* -bt (address testing), -bv and -bvs (address verification), printed as Exim 4.96 prints them.
 *
 * Addresses come from the command line, or from stdin one per line after a "> " prompt.
 * -bt routes each address and everything it is redirected to: deferrals, failures, discards
 * and pipe/file items are printed as they are decided, routed addresses at the end (those for
 * local transports first), each followed by its ancestry ("    <-- parent"), its router and
 * transport, and its hosts with names and addresses padded into columns.
 * -bv prints one line per address: "verified", "failed to verify: ..." or "cannot be resolved
 * at this time: ...". Exit status: 2 if any address failed, else 1 if any deferred, else 0.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/addr.h"
#include "core/dns.h"
#include "expand/expand.h"
#include "lib/log.h"
#include "mail/address.h"
#include "mail/smtp_cmd.h"
#include "prog/cmdline.h"
#include "prog/log_setup.h"
#include "prog/sender_arg.h"
#include "search/search.h"

#define BT_MAX_LINE 1024 /* Exim reads stdin in pieces of 1023 characters: a longer line is several */
#define BT_MAX_ADDRESS 256 /* Exim: "address is ridiculously long" beyond */
#define BT_MAX_ARG 1024    /* Exim: a longer argument stops -bt/-bv */

typedef struct bt_state {
	bool any_fail, any_defer;
	bool reported, discarded; /* for the address being tested: anything printed, anything discarded */
} bt_state;

static void print_parents(const address_item *a)
{
	for (const address_item *p = a->parent; p; p = p->parent)
		printf("    <-- %.*s\n", SV_ARG(p->address));
}

/* The address an item is shown under: a pipe or file item shows its parent's address. */
static sv shown_address(const address_item *a)
{
	return a->kind != ADDR_MAIL && a->parent ? a->parent->address : a->address;
}

static void report(void *ctx, route_rc kind, const address_item *a)
{
	bt_state *st = ctx;
	st->reported |= kind != ROUTE_DISCARD;
	switch (kind) {
	case ROUTE_OK: /* pipe/file item */
		printf("%.*s -> %.*s", SV_ARG(shown_address(a)), SV_ARG(a->address));
		if (a->pfr_error)
			printf("\n*** Error in setting up pipe, file, or autoreply:\n%.*s\n", SV_ARG(a->pfr_error_text));
		else if (a->pfr_forbidden)
			printf(" *** forbidden ***\n");
		else
			printf("\n  transport = %s\n", a->transport ? a->transport : "unset");
		break;
	case ROUTE_FAIL:
		st->any_fail = true;
		printf("%.*s is undeliverable: %.*s\n", SV_ARG(a->address), SV_ARG(a->message));
		print_parents(a);
		break;
	case ROUTE_DISCARD:
		/* Exim tells a discard only when nothing else came of the address (observed: an alias
		 * "a: b, hole" prints b alone; "a: hole" prints "mail to a@... is discarded"). */
		st->discarded = true;
		break;
	default:
		st->any_defer = true;
		printf("%.*s cannot be resolved at this time: %.*s\n", SV_ARG(a->address), SV_ARG(a->message));
		print_parents(a);
		break;
	}
}

static void print_hosts(const route_host *hosts)
{
	int maxlen = 0, maxaddlen = 0;
	/* A host whose address could not be found shows as "unknown". */
	for (const route_host *h = hosts; h; h = h->next) {
		sv addr = h->address.len ? h->address : SV_LIT("unknown");
		if ((int)h->name.len > maxlen)
			maxlen = (int)h->name.len;
		if ((int)addr.len > maxaddlen)
			maxaddlen = (int)addr.len;
	}
	for (const route_host *h = hosts; h; h = h->next) {
		sv addr = h->address.len ? h->address : SV_LIT("unknown");
		printf("  host %-*.*s ", maxlen, SV_ARG(h->name));
		printf("[%.*s%-*c", SV_ARG(addr), maxaddlen + 1 - (int)addr.len, ']');
		if (h->mx >= 0)
			printf(" MX=%d", h->mx);
		if (h->port >= 0)
			printf(" port=%d", h->port);
		if (h->unusable)
			printf(" ** unusable **");
		printf("\n");
	}
}

/* Routed addresses printed so far in this run, over all the addresses tested: a repeat is marked.
 * Exim 4.96 keys an address given to -bt by the text as given (before qualification: "btuser"
 * and "btuser@vm" are different) and a redirected one by its address, case-sensitively; pipe,
 * file and directory deliveries are never marked. So root on its own and root from postmaster
 * differ, while the same child reached through two different aliases is a repeat. */
typedef struct seen_unique {
	struct seen_unique *next;
	sv unique;
} seen_unique;
static seen_unique *printed;

static bool seen_before(sv unique)
{
	for (seen_unique *s = printed; s; s = s->next)
		if (sv_eq(s->unique, unique))
			return true;
	seen_unique *s = arena_alloc(pool_perm, sizeof *s);
	s->unique = sv_copy(pool_perm, unique);
	s->next = printed;
	printed = s;
	return false;
}

static void print_successes(const address_item *list, sv given)
{
	for (const address_item *a = list; a; a = a->next) {
		bool dup = a->kind == ADDR_MAIL && seen_before(a->parent ? a->address : given);
		printf("%.*s%s\n", SV_ARG(a->address), dup ? "   [duplicate, would not be delivered]" : "");
		print_parents(a);
		printf("  router = %s, transport = %s\n", a->router ? a->router->name : "unset",
			a->transport ? a->transport : "unset");
		print_hosts(a->hosts);
	}
}

static const char *qualify_for(bool sender)
{
	const char *q = sender ? NULL : conf_main_string("qualify_recipient");
	if (!q || !*q)
		q = conf_main_string("qualify_domain");
	if (!q || !*q)
		q = conf_main_string("primary_hostname");
	return q ? q : "";
}

/* Exim does not write the main log in these modes: -bt shows a line as "LOG: MAIN" and the
 * indented text, -bv as a time-stamped line, both on stderr. */
static void log_tagged(void *ctx, unsigned which, const char *text)
{
	(void)ctx;
	fprintf(stderr, "LOG:%s%s\n  %s\n", which & LOG_MAIN ? " MAIN" : "", which & LOG_PANIC ? " PANIC" : "", text);
}

static void log_stamped(void *ctx, unsigned which, const char *text)
{
	(void)ctx;
	(void)which;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	xbuf stamp;
	xbuf_init(&stamp, pool_scratch);
	log_format_stamp(&tv, &stamp);
	fprintf(stderr, "%s %s\n", xbuf_cstr(&stamp), text);
}

/* Parse and qualify an address as Exim's -bt/-bv do; false prints Exim's syntax error. */
static size_t given_len; /* the parsed address's length before qualification */

static bool parse_address(sv text, bool sender, xbuf *out)
{
	/* The complaint's "X may not follow Y" keeps white space at the end (observed). */
	sv untrimmed_end = text;
	while (untrimmed_end.len && isspace((unsigned char)untrimmed_end.p[0]))
		untrimmed_end = sv_sub(untrimmed_end, 1, untrimmed_end.len - 1);
	text = sv_trim(text);
	/* A bare source route ("@a,@b:local@domain") is taken as if it were in <...>. */
	bool wrapped = text.len && text.p[0] == '@';
	if (wrapped) {
		char *w = arena_alloc(pool_msg, text.len + 3);
		w[0] = '<';
		memcpy(w + 1, text.p, text.len);
		memcpy(w + 1 + text.len, ">", 2);
		text = sv_make(w, text.len + 2);
	}
	addr_parsed info;
	const char *why = NULL;
	if (!text.len || !addr_extract(text, NULL, out, &info, &why) || info.empty || info.local_len == 0) {
		/* Exim's parser's texts, which the SMTP address parser reproduces. */
		xbuf o2, reason;
		xbuf_init(&o2, pool_msg);
		xbuf_init(&reason, pool_msg);
		bool is_null = false, has_domain = false;
		if (smtp_parse_address(wrapped || !text.len ? text : untrimmed_end, false, conf_main.allow_domain_literals,
			&o2, &is_null, &has_domain,
			&reason) || !reason.len)
			xbuf_puts(&reason, "malformed address");
		const char *why_text = xbuf_cstr(&reason), *follow = strstr(why_text, " may not follow <");
		if (wrapped && follow && follow > why_text && follow[-1] == '>') {
			/* "X> may not follow <Y": the brackets were ours, not the argument's */
			printf("syntax error: %.*s may not follow %s\n", (int)(follow - 1 - why_text), why_text,
				follow + strlen(" may not follow <"));
			return false;
		}
		printf("syntax error: %s\n", why_text);
		return false;
	}
	const char *lit_err = info.route_literal ? smtp_address_literal_error(text, conf_main.allow_domain_literals) : NULL;
	if (lit_err) {
		printf("syntax error: %s\n", lit_err);
		return false;
	}
	/* Exim's limit on a parsed address, before it is qualified. */
	if (out->len > BT_MAX_ADDRESS) {
		printf("syntax error: address is ridiculously long: %.64s...\n", out->p);
		return false;
	}
	given_len = out->len;
	if (!info.has_domain) {
		xbuf_putc(out, '@');
		xbuf_puts(out, qualify_for(sender));
	}
	return true;
}

/* Where the address starting at s[i] ends in a command-line argument: Exim takes a list, ended
 * by the first comma outside quotes, comments and <...>. An address starting with '@' is a
 * source route whose commas run to its ':'. A backslash protects the next character. */
static size_t item_end(sv s, size_t i)
{
	bool route = i < s.len && s.p[i] == '@', quoted = false;
	int depth = 0, angle = 0;
	for (; i < s.len; i++) {
		char ch = s.p[i];
		if (ch == '\\' && i + 1 < s.len) {
			i++;
		} else if (quoted) {
			quoted = ch != '"';
		} else if (ch == '"') {
			quoted = true;
		} else if (ch == '(') {
			depth++;
		} else if (depth) {
			depth -= ch == ')';
		} else if (route) {
			route = ch != ':';
		} else if (ch == '<') {
			angle++;
		} else if (ch == '>') {
			angle -= angle > 0;
		} else if (ch == ',' && !angle) {
			break;
		}
	}
	return i;
}

static void test_one(const cmdline *cl, xp_env *env, sv sender, sv text, bt_state *st)
{
	if (!sv_trim(text).len) {
		printf("syntax error: empty address\n");
		st->any_fail = true;
		return;
	}
	arena_mark m = arena_getmark(pool_msg);
	xbuf addr;
	xbuf_init(&addr, pool_msg);
	bool verify_sender = cl->mode == MODE_BVA && cl->verify_sender;
	if (!parse_address(text, verify_sender, &addr)) {
		st->any_fail = true;
		arena_reset(pool_msg, m);
		return;
	}
	sv given = sv_copy(pool_msg, xbuf_sv(&addr));
	if (given_len < given.len)
		given.len = given_len; /* without the qualification parse_address added */
	route_ctx c;
	route_mode mode = cl->mode == MODE_BT ? ROUTE_MODE_ADDRESS_TEST
		: verify_sender ? ROUTE_MODE_VERIFY_SENDER : ROUTE_MODE_VERIFY_RECIPIENT;
	route_ctx_init(&c, pool_msg, env, mode, sender);
	c.show_debug_print = cl->mode == MODE_BT; /* -bv does not show it */
	c.log_main = cl->mode == MODE_BT ? log_tagged : log_stamped;
	/* Command-line data is tainted, as in Exim. */
	address_item *top = route_new_address(pool_msg, sv_tainted(xbuf_sv(&addr)));
	if (cl->mode == MODE_BT) {
		c.report = report;
		c.report_ctx = st;
		st->reported = st->discarded = false;
		route_chain(&c, top);
		if (st->discarded && !st->reported && !c.res.local && !c.res.remote)
			printf("mail to %.*s is discarded\n", SV_ARG(top->address));
		print_successes(c.res.local, given);
		print_successes(c.res.remote, given);
	} else {
		c.verify = true;
		route_rc rc = route_chain(&c, top);
		const address_item *d = NULL;
		for (const address_item *x = rc == ROUTE_FAIL ? c.res.failed : c.res.deferred; x; x = x->next)
			d = x; /* the first decided */
		sv msg = d && d->message.p ? d->message : SV_LIT("Unrouteable address"); /* ":fail:" alone: empty */
		if (rc == ROUTE_OK) {
			printf("%.*s verified\n", SV_ARG(top->address));
		} else if (rc == ROUTE_FAIL) {
			st->any_fail = true;
			printf("%.*s failed to verify: %.*s\n", SV_ARG(top->address), SV_ARG(msg));
		} else {
			st->any_defer = true;
			printf("%.*s cannot be resolved at this time: %.*s\n", SV_ARG(top->address), SV_ARG(msg));
		}
	}
	arena_reset(pool_msg, m);
}

/* -f as Exim checks it before testing anything (prog/sender_arg.h). NULL (after printing
 * Exim's complaint) when it is bad. */
static const char *checked_sender(const char *given)
{
	return sender_arg_parse(pool_perm, given, qualify_for(true));
}

/* The sender routers see ($sender_address, "senders ="): -f if given, else the caller. */
static sv caller_sender(const cmdline *cl)
{
	if (cl->sender)
		return sv_cstr(checked_sender(cl->sender));
	struct passwd *pw = getpwuid(getuid());
	return sv_cstr(arena_printf(pool_perm, "%s@%s", pw ? pw->pw_name : "root", qualify_for(true)));
}

static sv sender_value;

static bool sender_var(void *ctx, sv name, xbuf *out)
{
	(void)ctx;
	if (!sv_eq_cstr(name, "sender_address"))
		return false;
	xbuf_putsv(out, sender_value);
	return true;
}

int bt_main(const cmdline *cl)
{
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!log_setup_from_config(LOG_ECHO_TAGGED, NULL, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	dns_install_match_hooks();
	xp_env env;
	xp_env_init(&env, pool_scratch);
	env.state = pool_perm;
	if (cl->sender && !checked_sender(cl->sender))
		return 1;
	sender_value = caller_sender(cl);
	xp_provider sp = { .get = sender_var };
	xp_env_push_provider(&env, &sp);
	bt_state st = { 0 };
	if (cl->nargs) {
		for (size_t i = 0; i < cl->nargs; i++) {
			sv arg = sv_cstr(cl->args[i]);
			if (arg.len > BT_MAX_ARG) {
				fflush(stdout);
				fprintf(stderr, "exim: length limit exceeded (%zu > %d) for: address verification\n", arg.len,
					BT_MAX_ARG);
				return 1;
			}
			/* Each argument is a list (an empty one has no address); after an address, commas
			 * and white space are skipped. */
			for (size_t at = 0; at < arg.len;) {
				size_t end = item_end(arg, at);
				test_one(cl, &env, sender_value, sv_sub(arg, at, end - at), &st);
				for (at = end; at < arg.len && (arg.p[at] == ',' || isspace((unsigned char)arg.p[at]));)
					at++;
			}
		}
	} else {
		char line[BT_MAX_LINE];
		for (;;) {
			printf("> ");
			fflush(stdout);
			if (!fgets(line, sizeof line, stdin))
				break;
			sv t = sv_trim(sv_cstr(line));
			/* A line is one address (not a list); an empty line is a syntax error. */
			test_one(cl, &env, sender_value, t, &st);
		}
		printf("\n");
	}
	search_tidyup();
	xp_env_release(&env);
	return st.any_fail ? 2 : st.any_defer ? 1 : 0;
}
