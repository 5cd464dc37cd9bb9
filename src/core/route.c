/* The router chain: Exim's preconditions in Exim's order, the driver call, and what the generic
 * options do with its result (more, pass_router, unseen, cannot_route_message). */
#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "core/addr.h"
#include "core/route_opts.h"
#include "lib/debug.h"
#include "lib/list.h"
#include "lib/log.h"
#include "mail/address.h"
#include "search/match.h"
#include "search/search.h"

/* A runaway redirection (a -> b -> a with repeat_use...) stops here, as Exim's loop checks would. */
#define ROUTE_MAX_ADDRESSES 10000
#define ROUTE_MAX_DEPTH 100

static sv lower_copy(arena *a, sv s)
{
	char *p = arena_alloc(a, s.len + 1);
	for (size_t i = 0; i < s.len; i++)
		p[i] = (char)tolower((unsigned char)s.p[i]);
	p[s.len] = 0;
	sv r = sv_make(p, s.len);
	r.taint = s.taint;
	return r;
}

static void split_address(arena *a, address_item *ad)
{
	sv addr = ad->address;
	size_t at = addr.len;
	for (size_t i = addr.len; i > 0; i--)
		if (addr.p[i - 1] == '@') {
			at = i - 1;
			break;
		}
	ad->cc_local_part = addr_local_part_unquote(a, sv_sub(addr, 0, at));
	ad->lc_local_part = lower_copy(a, ad->cc_local_part);
	ad->local_part = ad->lc_local_part;
	ad->domain = at < addr.len ? lower_copy(a, sv_sub(addr, at + 1, addr.len)) : SV_LIT("");
}

address_item *route_new_address(arena *a, sv address)
{
	address_item *ad = arena_calloc(a, 1, sizeof *ad);
	ad->address = sv_copy(a, address);
	ad->unique = ad->address;
	ad->rcpt_index = -1;
	ad->host_used_mx = -1;
	split_address(a, ad);
	return ad;
}

address_item *route_child_address(route_ctx *c, address_item *parent, sv address, addr_kind kind)
{
	address_item *ad = arena_calloc(c->a, 1, sizeof *ad);
	ad->kind = kind;
	ad->address = sv_copy(c->a, address);
	ad->parent = parent;
	ad->redirect_depth = parent ? parent->redirect_depth + 1 : 0;
	ad->child_seq = c->children_made++;
	/* Properties a router set on the parent carry to its children (Exim's "prop"). */
	ad->rcpt_index = -1;
	ad->host_used_mx = -1;
	if (parent) {
		ad->rcpt_index = parent->rcpt_index;
		ad->dsn_flags = parent->dsn_flags;
		ad->orcpt = parent->orcpt;
		ad->errors_address = parent->errors_address;
		ad->headers_add = parent->headers_add;
		ad->headers_remove = parent->headers_remove;
	}
	if (kind == ADDR_MAIL) {
		split_address(c->a, ad);
		ad->unique = ad->address;
	} else {
		/* Pipe and file items are unique per parent: "|cmd:parent" as Exim keys them. */
		xbuf u;
		xbuf_init(&u, c->a);
		xbuf_putsv(&u, address);
		xbuf_putc(&u, ':');
		xbuf_putsv(&u, parent ? parent->address : SV_LIT(""));
		ad->unique = xbuf_sv(&u);
		if (parent) {
			ad->local_part = parent->local_part;
			ad->domain = parent->domain;
		}
	}
	return ad;
}

void route_ctx_init(route_ctx *c, arena *a, xp_env *env, route_mode mode, sv sender)
{
	memset(c, 0, sizeof *c);
	c->a = a;
	c->env = env;
	c->mode = mode;
	c->sender = sender;
}

void route_queue(route_ctx *c, address_item *child)
{
	child->next = c->queue;
	c->queue = child;
}

const char *route_opt_str(const driver_instance *r, const char *name)
{
	if (!r->generic)
		return NULL;
	const opt_row *row = opt_find(router_class.generic, router_class.ngeneric, name);
	if (!row)
		return NULL;
	const char *v;
	memcpy(&v, (const char *)r->generic + row->offset, sizeof v);
	return v;
}

bool route_opt_bool(const driver_instance *r, const char *name)
{
	if (!r->generic)
		return false;
	const opt_row *row = opt_find(router_class.generic, router_class.ngeneric, name);
	if (!row)
		return false;
	bool v;
	memcpy(&v, (const char *)r->generic + row->offset, sizeof v);
	return v;
}

bool route_opt_private_bool(const driver_instance *r, const char *name)
{
	if (!r->priv || !r->info || !r->info->options)
		return false;
	const opt_row *row = opt_find(r->info->options, r->info->noptions, name);
	if (!row || row->type != OPT_BOOL)
		return false;
	bool v;
	memcpy(&v, (const char *)r->priv + row->offset, sizeof v);
	return v;
}

int route_expand(xp_env *env, const char *src, sv *out, xbuf *err)
{
	*out = SV_NULL;
	if (!src)
		return XP_OK;
	xbuf b;
	xbuf_init(&b, env->a);
	int rc = xp_expand(env, sv_cstr(src), &b, err);
	if (rc == XP_OK)
		*out = xbuf_sv(&b);
	return rc;
}

static int expand_named(void *ectx, sv in, xbuf *out, xbuf *err)
{
	return xp_expand(ectx, in, out, err);
}

/* Match subject against an option's list after expanding it. SEARCH_OK / SEARCH_FAIL /
 * SEARCH_DEFER (a->message set to Exim's "<option> check lookup or other defer"; an expansion
 * failure is also a panic-log line). data receives what a lookup returned ($domain_data...). */
static int option_list_match(route_ctx *c, address_item *a, xp_env *env, const char *option,
	const char *list, sv subject, enum match_kind kind, bool caseless, sv *data)
{
	if (!list)
		return SEARCH_OK; /* an unset list is no restriction */
	xbuf err;
	xbuf_init(&err, c->a);
	sv expanded;
	int rc = route_expand(env, list, &expanded, &err);
	if (rc == XP_FORCEFAIL)
		return SEARCH_FAIL;
	if (rc == XP_OK) {
		xbuf matched;
		xbuf_init(&matched, env->a);
		match_ctx m = { .expand = expand_named, .ectx = env, .matched_data = &matched };
		m.primary_hostname = conf_main_string("primary_hostname");
		rc = match_isinlist(subject, expanded, 0, kind, caseless, &m, &err);
		if (rc == SEARCH_OK && data)
			*data = matched.p ? xbuf_sv(&matched) : subject; /* empty lookup data stays empty (observed) */
		if (rc != SEARCH_DEFER)
			return rc;
	} else {
		route_log(c, LOG_MAIN | LOG_PANIC, "failed to expand \"%s\" while checking a list: %s", list,
			xbuf_cstr(&err));
	}
	a->message = sv_cstr(arena_printf(c->a, "%s check lookup or other defer", option));
	return SEARCH_DEFER;
}

/* local_part_prefix / local_part_suffix: a list of affixes, each possibly with a "*" wildcard
 * at its outer end. Returns true if one matches (and removes it). */
static bool strip_affix(route_ctx *c, address_item *a, const char *list, bool prefix, bool caseful)
{
	list_iter it;
	list_iter_init(&it, sv_cstr(list), 0);
	xbuf item;
	xbuf_init(&item, c->a);
	while (list_next(&it, &item)) {
		sv pat = xbuf_sv(&item);
		sv lp = a->local_part;
		bool wild = pat.len && (prefix ? pat.p[0] == '*' : pat.p[pat.len - 1] == '*');
		sv fixed = wild ? (prefix ? sv_sub(pat, 1, pat.len) : sv_sub(pat, 0, pat.len - 1)) : pat;
		if (fixed.len > lp.len)
			continue;
		/* A wildcard prefix ("*-") ends at the last occurrence of its fixed part, a wildcard
		 * suffix ("-*") starts at the first, as in Exim; plain affixes anchor at the ends. */
		size_t span = lp.len - fixed.len;
		for (size_t k = 0; k <= span; k++) {
			size_t start = prefix ? (wild ? span - k : 0) : (wild ? k : span);
			sv cand = sv_sub(lp, start, fixed.len);
			if (caseful ? sv_eq(cand, fixed) : sv_eqi(cand, fixed)) {
				if (prefix) {
					size_t end = start + fixed.len;
					a->prefix = sv_copy(c->a, sv_sub(lp, 0, end));
					a->prefix_v = wild ? sv_copy(c->a, sv_sub(lp, 0, start)) : SV_LIT("");
					a->local_part = sv_sub(lp, end, lp.len);
				} else {
					a->suffix = sv_copy(c->a, sv_sub(lp, start, lp.len));
					a->suffix_v = wild ? sv_copy(c->a, sv_sub(lp, start + fixed.len, lp.len)) : SV_LIT("");
					a->local_part = sv_sub(lp, 0, start);
				}
				return true;
			}
			if (!wild)
				break;
		}
	}
	return false;
}

/* require_files: each item is a file that must exist, "!file" one that must not; an item that
 * cannot be checked defers unless it is "+file" ... Exim's full rules reduced to existence
 * checks (the ",user" and "+" forms are honoured for existence only). */
static route_rc check_require_files(route_ctx *c, xp_env *env, const char *list, address_item *a, xbuf *err)
{
	sv expanded;
	int rc = route_expand(env, list, &expanded, err);
	if (rc == XP_FORCEFAIL)
		return ROUTE_SKIP;
	if (rc != XP_OK) {
		a->message = xbuf_sv(err);
		return ROUTE_DEFER;
	}
	list_iter it;
	list_iter_init(&it, expanded, 0);
	xbuf item;
	xbuf_init(&item, c->a);
	while (list_next(&it, &item)) {
		sv f = xbuf_sv(&item);
		bool negate = false, eacces_ok = false;
		if (f.len && f.p[0] == '!') { negate = true; f = sv_sub(f, 1, f.len); }
		if (f.len && f.p[0] == '+') { eacces_ok = true; f = sv_sub(f, 1, f.len); }
		if (!f.len || f.p[0] != '/')
			continue; /* a user or group item: the check is done as root here */
		struct stat st;
		char *path = sv_dup(c->a, f);
		int r = stat(path, &st);
		if (r != 0 && errno != ENOENT && errno != ENOTDIR && !eacces_ok) {
			a->message = sv_cstr(arena_printf(c->a, "require_files: error for %s: %s", path, strerror(errno)));
			return ROUTE_DEFER;
		}
		bool exists = r == 0;
		if (exists == negate)
			return ROUTE_SKIP;
	}
	return ROUTE_OK;
}

static bool ancestor_loop(const driver_instance *r, const address_item *a)
{
	const router_ops *ops = r->info ? r->info->ops : NULL;
	bool repeat_use = ops && ops->repeat_use ? ops->repeat_use(r) : true;
	for (const address_item *p = a->parent; p; p = p->parent) {
		if (p->router != r)
			continue;
		if (!repeat_use || sv_eqi(p->address, a->address))
			return true;
	}
	return false;
}

/* Exim's preconditions, in its order. ROUTE_OK: run the router; ROUTE_SKIP: next router;
 * ROUTE_DEFER / ROUTE_FAIL with a->message. */
static route_rc preconditions(route_ctx *c, const driver_instance *r, address_item *a, xp_env *env)
{
	xbuf err;
	xbuf_init(&err, c->a);
	bool caseful = route_opt_bool(r, "caseful_local_part");
	a->local_part = caseful ? a->cc_local_part : a->lc_local_part;
	a->prefix = a->suffix = a->prefix_v = a->suffix_v = SV_NULL;
	a->domain_data = a->local_part_data = SV_NULL;
	if (ancestor_loop(r, a))
		return ROUTE_SKIP;
	const char *pfx = route_opt_str(r, "local_part_prefix");
	if (pfx && !strip_affix(c, a, pfx, true, caseful) && !route_opt_bool(r, "local_part_prefix_optional"))
		return ROUTE_SKIP;
	const char *sfx = route_opt_str(r, "local_part_suffix");
	if (sfx && !strip_affix(c, a, sfx, false, caseful) && !route_opt_bool(r, "local_part_suffix_optional"))
		return ROUTE_SKIP;
	switch (c->mode) {
	case ROUTE_MODE_VERIFY_RECIPIENT:
		if (!route_opt_bool(r, "verify_recipient"))
			return ROUTE_SKIP;
		break;
	case ROUTE_MODE_VERIFY_SENDER:
		if (!route_opt_bool(r, "verify_sender"))
			return ROUTE_SKIP;
		break;
	case ROUTE_MODE_ADDRESS_TEST:
		if (!route_opt_bool(r, "address_test") || route_opt_bool(r, "verify_only"))
			return ROUTE_SKIP;
		break;
	case ROUTE_MODE_EXPN:
		if (!route_opt_bool(r, "expn") || route_opt_bool(r, "verify_only"))
			return ROUTE_SKIP;
		break;
	case ROUTE_MODE_DELIVER:
		if (route_opt_bool(r, "verify_only"))
			return ROUTE_SKIP;
		break;
	}
	int rc;
	if ((rc = option_list_match(c, a, env, "domains", route_opt_str(r, "domains"), a->domain, MATCH_DOMAIN,
		     true, &a->domain_data)) != SEARCH_OK)
		goto list_result;
	if ((rc = option_list_match(c, a, env, "local_parts", route_opt_str(r, "local_parts"), a->local_part,
		     MATCH_LOCALPART, !caseful, &a->local_part_data)) != SEARCH_OK)
		goto list_result;
	if (route_opt_bool(r, "check_local_user")) {
		char *name = sv_dup(c->a, a->local_part);
		struct passwd *pw = getpwnam(name);
		if (!pw)
			return ROUTE_SKIP;
		a->home = sv_copy(c->a, sv_cstr(pw->pw_dir));
		/* The account name becomes the untainted $local_part_data, as in Exim 4.96. */
		a->local_part_data = sv_copy(c->a, sv_cstr(pw->pw_name));
		a->uid = pw->pw_uid;
		a->gid = pw->pw_gid;
		a->uid_set = a->gid_set = true;
	}
	const char *rhd = route_opt_str(r, "router_home_directory");
	if (rhd) {
		sv home;
		rc = route_expand(env, rhd, &home, &err);
		if (rc == XP_FORCEFAIL)
			return ROUTE_SKIP;
		if (rc != XP_OK) {
			a->message = sv_cstr(arena_printf(c->a, "failed to expand \"%s\" for router_home_directory: %s",
				rhd, xbuf_cstr(&err)));
			return ROUTE_DEFER;
		}
		a->home = home;
	}
	if ((rc = option_list_match(c, a, env, "senders", route_opt_str(r, "senders"), c->sender, MATCH_ADDRESS,
		     true, NULL)) != SEARCH_OK)
		goto list_result;
	/* debug_print comes out once the list and user preconditions passed, before require_files
	 * and condition (as Exim 4.96 shows it). stdout is not flushed, so the two streams
	 * interleave as Exim's do. */
	const char *dp = route_opt_str(r, "debug_print");
	if (dp && (debug_selector || c->show_debug_print)) {
		sv t;
		if (route_expand(env, dp, &t, &err) == XP_OK) {
			/* A newline is added only when the text does not end with one (as Exim). */
			const char *nl = t.len && t.p[t.len - 1] == '\n' ? "" : "\n";
			if (debug_selector)
				debug_printf(SV_FMT "%s", SV_ARG(t), nl);
			else
				fprintf(stderr, SV_FMT "%s", SV_ARG(t), nl);
		} else {
			fprintf(stderr, "failed to expand debug_output \"%s\": %s\n", dp, xbuf_cstr(&err));
		}
		xbuf_reset(&err);
	}
	const char *req = route_opt_str(r, "require_files");
	if (req) {
		route_rc rr = check_require_files(c, env, req, a, &err);
		if (rr != ROUTE_OK)
			return rr;
	}
	const char *cond = route_opt_str(r, "condition");
	if (cond) {
		bool yes;
		rc = xp_expand_bool(env, sv_cstr(cond), &yes, &err);
		if (rc == XP_ERROR && env->lookup_deferred) {
			a->message = SV_LIT("condition check lookup defer");
			return ROUTE_DEFER;
		}
		/* An expansion failure is logged and counts as false, as in Exim. */
		if (rc == XP_ERROR)
			route_log(c, LOG_MAIN | LOG_PANIC, "failed to expand condition \"%s\" for %s router: %s", cond,
				r->name, xbuf_cstr(&err));
		if (rc != XP_OK || !yes)
			return ROUTE_SKIP;
	}
	return ROUTE_OK;
list_result:
	return rc == SEARCH_FAIL ? ROUTE_SKIP : ROUTE_DEFER;
}

/* An expanded boolean option ("more", "unseen"); errors defer with a->message. */
static route_rc expand_flag(route_ctx *c, const driver_instance *r, const char *name, xp_env *env,
	address_item *a, bool *out, bool name_in_message)
{
	const char *v = route_opt_str(r, name);
	*out = false;
	if (!v)
		return ROUTE_OK;
	xbuf err;
	xbuf_init(&err, c->a);
	int rc = xp_expand_bool(env, sv_cstr(v), out, &err);
	if (rc == XP_OK)
		return ROUTE_OK;
	/* Exim quotes the value for "more", the option's name for "unseen". */
	a->message = sv_cstr(arena_printf(c->a, "failed to expand \"%s\" in %s router: %s",
		name_in_message ? name : v, r->name, xbuf_cstr(&err)));
	return ROUTE_DEFER;
}

/* unseen: the address is delivered by this router and a copy goes on to the next one. The two
 * share a new parent holding the original, so both show it as their origin. */
static void make_unseen_copy(route_ctx *c, address_item *a, const driver_instance *next)
{
	address_item *orig = arena_alloc(c->a, sizeof *orig);
	*orig = *a;
	orig->next = NULL;
	address_item *copy = arena_alloc(c->a, sizeof *copy);
	*copy = *a;
	copy->parent = orig;
	copy->router = NULL;
	copy->transport = NULL;
	copy->hosts = NULL;
	copy->start_router = next;
	a->parent = orig;
	route_queue(c, copy);
}

/* No router took the address. The text is the cannot_route_message of the last router
 * considered, else what a declining router said (dnslookup on a domain literal), else
 * "Unrouteable address". */
static route_rc cannot_route(route_ctx *c, address_item *a, const driver_instance *last, xp_env *env)
{
	if (!a->message.len)
		a->message = SV_LIT("Unrouteable address");
	const char *crm = last ? route_opt_str(last, "cannot_route_message") : NULL;
	if (crm) {
		xbuf err;
		xbuf_init(&err, c->a);
		sv m;
		if (route_expand(env, crm, &m, &err) == XP_OK) {
			a->user_message = m;
			a->message = m;
		}
	}
	return ROUTE_FAIL;
}

route_rc route_address(route_ctx *c, address_item *a)
{
	const driver_instance *r = a->start_router ? a->start_router : conf_driver_instances("routers");
	const driver_instance *last_seen = NULL;
	xp_provider vars;
	xp_env *env = c->env;
	route_vars_push(env, &vars, a);
	route_rc result = ROUTE_FAIL;
	a->message = SV_NULL;
	for (; r; r = r->next) {
		last_seen = r;
		route_rc rc = preconditions(c, r, a, env);
		if (rc == ROUTE_SKIP)
			continue;
		if (rc != ROUTE_OK) {
			result = rc;
			goto out;
		}
		const char *ad = route_opt_str(r, "address_data");
		if (ad) {
			xbuf err;
			xbuf_init(&err, c->a);
			sv v;
			int xr = route_expand(env, ad, &v, &err);
			if (xr == XP_FORCEFAIL)
				continue; /* forced failure: the router declines */
			if (xr != XP_OK) {
				a->message = sv_cstr(arena_printf(c->a, "expansion of \"%s\" failed in %s router: %s", ad,
					r->name, xbuf_cstr(&err)));
				result = ROUTE_DEFER;
				goto out;
			}
			a->address_data = v;
		}
		const router_ops *ops = r->info ? r->info->ops : NULL;
		if (!ops || !ops->route) {
			a->message = sv_cstr(arena_printf(c->a, "%s router: the %s driver cannot route addresses yet",
				r->name, r->info ? r->info->name : "?"));
			result = ROUTE_DEFER;
			goto out;
		}
		a->router = r;
		rc = ops->route(r, a, c, env);
		bool more;
		if (rc == ROUTE_DECLINE || rc == ROUTE_PASS) {
			a->router = NULL;
			if (!a->keep_hosts)
				a->hosts = NULL;
			a->keep_hosts = false;
			a->transport = NULL;
			if (expand_flag(c, r, "more", env, a, &more, false) != ROUTE_OK) {
				result = ROUTE_DEFER;
				goto out;
			}
			if (!more) {
				result = cannot_route(c, a, r, env);
				goto out;
			}
			const char *pr = route_opt_str(r, "pass_router");
			if (rc == ROUTE_PASS && pr) {
				/* pass_router names a later router: the loop's r = r->next lands on it. */
				const driver_instance *d = r;
				while (d->next && strcmp(d->next->name, pr) != 0)
					d = d->next;
				if (!d->next) {
					a->message = sv_cstr(arena_printf(c->a, "pass_router \"%s\" not found after %s router",
						pr, r->name));
					result = ROUTE_DEFER;
					goto out;
				}
				r = d;
			}
			continue;
		}
		if (rc == ROUTE_OK || rc == ROUTE_REROUTED || rc == ROUTE_DISCARD) {
			bool unseen;
			if (expand_flag(c, r, "more", env, a, &more, false) != ROUTE_OK) {
				result = ROUTE_DEFER;
				goto out;
			}
			if (expand_flag(c, r, "unseen", env, a, &unseen, true) != ROUTE_OK) {
				/* Exim routes the address and defers a copy with the expansion error. */
				address_item *copy = arena_alloc(c->a, sizeof *copy);
				*copy = *a;
				a->message = SV_NULL;
				copy->next = c->res.deferred;
				c->res.deferred = copy;
				if (c->report)
					c->report(c->report_ctx, ROUTE_DEFER, copy);
				unseen = false;
			}
			if (unseen && more && r->next) {
				make_unseen_copy(c, a, r->next);
				/* A discarded original is not reported: the copy carries on. */
				if (rc == ROUTE_DISCARD)
					rc = ROUTE_REROUTED;
			}
		}
		result = rc == ROUTE_ERROR ? ROUTE_DEFER : rc;
		goto out;
	}
	result = cannot_route(c, a, last_seen, env);
out:
	/* The provider lives on this stack frame: take it off the chain wherever it is now. */
	for (xp_provider **pp = &env->providers; *pp; pp = &(*pp)->next)
		if (*pp == &vars) {
			*pp = vars.next;
			break;
		}
	return result;
}

static void add_result(address_item **list, address_item *a)
{
	a->next = *list;
	*list = a;
}

static bool transport_is_local(const char *name)
{
	if (!name)
		return false;
	for (const driver_instance *t = conf_driver_instances("transports"); t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t->info && strcmp(t->info->name, "smtp") != 0;
	return false;
}

/* percent_hack_domains: "a%b@relay" with relay in the list becomes "a@b" (split at the last
 * '%'), repeated while the new domain is in the list too; the result is one child, routed
 * instead of the original. NULL when the hack does not apply. */
static address_item *percent_hack(route_ctx *c, address_item *a)
{
	const char *list = conf_main_string("percent_hack_domains");
	if (!list || !*list)
		return NULL;
	sv lp = a->cc_local_part, dom = a->domain, dom_as_written = SV_NULL;
	bool changed = false;
	for (int i = 0; i < 100; i++) {
		const char *pct = memrchr(lp.p, '%', lp.len);
		if (!pct || option_list_match(c, a, c->env, "percent_hack_domains", list, dom, MATCH_DOMAIN, true, NULL)
			!= SEARCH_OK)
			break;
		size_t at = (size_t)(pct - lp.p);
		dom_as_written = sv_sub(lp, at + 1, lp.len);
		dom = lower_copy(c->a, dom_as_written);
		lp = sv_sub(lp, 0, at);
		changed = true;
	}
	if (!changed)
		return NULL;
	xbuf na;
	xbuf_init(&na, c->a);
	xbuf_putsv(&na, lp);
	xbuf_putc(&na, '@');
	xbuf_putsv(&na, dom_as_written);
	return route_child_address(c, a, xbuf_sv(&na), ADDR_MAIL);
}

route_rc route_chain(route_ctx *c, address_item *top)
{
	route_queue(c, top);
	bool any_ok = false, any_defer = false, any_fail = false;
	while (c->queue) {
		address_item *a = c->queue;
		c->queue = a->next;
		a->next = NULL;
		if (++c->routed > ROUTE_MAX_ADDRESSES || a->redirect_depth > ROUTE_MAX_DEPTH) {
			a->message = SV_LIT("too many addresses generated by redirection");
			add_result(&c->res.deferred, a);
			any_defer = true;
			if (c->report)
				c->report(c->report_ctx, ROUTE_DEFER, a);
			continue;
		}
		if (a->kind != ADDR_MAIL) {
			add_result(&c->res.pfr, a);
			any_ok = true;
			if (c->report)
				c->report(c->report_ctx, ROUTE_OK, a);
			continue;
		}
		address_item *hacked = percent_hack(c, a);
		if (hacked) {
			route_queue(c, hacked);
			continue;
		}
		address_item *queued_before = c->queue;
		route_rc rc = route_address(c, a);
		switch (rc) {
		case ROUTE_OK:
			add_result(transport_is_local(a->transport) ? &c->res.local : &c->res.remote, a);
			any_ok = true;
			break;
		case ROUTE_REROUTED:
			any_ok = true;
			if (c->verify) {
				size_t kids = 0;
				for (address_item *k = c->queue; k && k != queued_before; k = k->next)
					kids++;
				if (kids > 1 || c->success_on_redirect)
					goto done;
			}
			break;
		case ROUTE_DISCARD:
			add_result(&c->res.discarded, a);
			any_ok = true;
			break;
		case ROUTE_FAIL:
			add_result(&c->res.failed, a);
			any_fail = true;
			break;
		default:
			add_result(&c->res.deferred, a);
			any_defer = true;
			break;
		}
		if (c->report && (rc == ROUTE_FAIL || rc == ROUTE_DISCARD || (rc != ROUTE_OK && rc != ROUTE_REROUTED)))
			c->report(c->report_ctx, rc == ROUTE_FAIL || rc == ROUTE_DISCARD ? rc : ROUTE_DEFER, a);
	}
done:
	/* Deferrals recorded outside the loop (an unseen copy that could not be made) count too. */
	any_defer = any_defer || c->res.deferred != NULL;
	if (any_fail)
		return ROUTE_FAIL;
	if (any_defer)
		return ROUTE_DEFER;
	return any_ok ? ROUTE_OK : ROUTE_FAIL;
}
