/* Callout verification (callout.h): the cache, the order of the probes on a connection and
 * Exim 4.96's texts. Observed with exim -bhc against a scripted server:
 *  - recipient rejected: reply "550-Callout verification failed:" then the remote's lines;
 *    log "<name> [<ip>] : SMTP error from remote mail server after RCPT TO:<a>: <reply>";
 *  - sender rejected: reply lines "Called:   <ip>", "Sent:     <cmd>", "Response: <reply>";
 *  - no host answered: "Could not complete recipient|sender verify callout" (+ ": <why>" logged);
 *  - a cached rejection: "Previous (cached) callout verification failure" (a sender's log line
 *    then names no reason);
 *  - random: "RCPT TO:<random@domain>" first; on its rejection RSET and the real address;
 *  - postmaster: after the address was accepted, RSET, MAIL, "RCPT TO:<postmaster@domain>". */
#include "core/callout.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/callout_cache.h"

static bool skip_callouts;

void callout_set_skip(bool skip)
{
	skip_callouts = skip;
}

bool callout_skipped(void)
{
	return skip_callouts;
}

/* ---- $callout_address, $sender_verify_failure, $recipient_verify_failure ---- */

static struct {
	char callout_address[96];
	char sender_failure[16];
	char recipient_failure[16];
} vars;

static void set_text(char *dst, size_t n, sv v)
{
	size_t len = v.len < n - 1 ? v.len : n - 1;
	memcpy(dst, v.p, len);
	dst[len] = 0;
}

static bool vars_get(void *ctx, sv name, xbuf *out)
{
	(void)ctx;
	if (sv_eq_cstr(name, "callout_address"))
		xbuf_puts(out, vars.callout_address);
	else if (sv_eq_cstr(name, "sender_verify_failure"))
		xbuf_puts(out, vars.sender_failure);
	else if (sv_eq_cstr(name, "recipient_verify_failure"))
		xbuf_puts(out, vars.recipient_failure);
	else
		return false;
	return true;
}

/* The provider goes once on each environment that verifies (malloc'd: an environment may
 * outlive any arena at hand here, and there are only a few per process). */
static void vars_attach(xp_env *env)
{
	for (xp_provider *p = env->providers; p; p = p->next)
		if (p->get == vars_get)
			return;
	xp_provider *p = calloc(1, sizeof *p);
	if (!p)
		return;
	p->get = vars_get;
	xp_env_push_provider(env, p);
}

void callout_note_failure(xp_env *env, bool recipient, const char *what)
{
	vars_attach(env);
	char *dst = recipient ? vars.recipient_failure : vars.sender_failure;
	set_text(dst, sizeof vars.sender_failure, sv_cstr(what ? what : ""));
}

/* ---- the verification ---- */

typedef struct co_state {
	xp_env *env;
	arena *a;
	const char *spool;
	const callout_opts *o;
	bool recipient;
	sv address, domain, from, key;
	long long now;
	cc_domain dom;                /* what we learnt (written back) */
	/* the deciding step and its host */
	callout_step step;
	const route_host *host;
	const char *failure;          /* $..._verify_failure value */
	bool cached;                  /* decided from the cache */
} co_state;

static sv domain_of(sv address)
{
	for (size_t i = address.len; i > 0; i--)
		if (address.p[i - 1] == '@')
			return sv_sub(address, i, address.len);
	return SV_LIT("");
}

static sv concat(arena *a, sv x, const char *mid, sv y)
{
	xbuf b;
	xbuf_init(&b, a);
	xbuf_putsv(&b, x);
	xbuf_puts(&b, mid);
	xbuf_putsv(&b, y);
	return xbuf_sv(&b);
}

static void host_prefix(const co_state *s, xbuf *out)
{
	if (s->host)
		xbuf_printf(out, SV_FMT " [" SV_FMT "] : ", SV_ARG(s->host->name.len ? s->host->name : s->host->address),
			SV_ARG(s->host->address));
}

static acl_result failed(co_state *s, xbuf *user_msg, xbuf *log_msg)
{
	callout_note_failure(s->env, s->recipient, s->failure);
	if (s->cached) {
		xbuf_puts(user_msg, "Previous (cached) callout verification failure");
		if (s->recipient)
			xbuf_puts(log_msg, "Previous (cached) callout verification failure");
		return ACL_FAIL;
	}
	host_prefix(s, log_msg);
	xbuf_putsv(log_msg, s->step.message);
	if (s->recipient) {
		xbuf_puts(user_msg, "Callout verification failed:\n");
		xbuf_putsv(user_msg, s->step.response);
	} else {
		xbuf_printf(user_msg, "Called:   " SV_FMT "\nSent:     " SV_FMT "\nResponse: " SV_FMT,
			SV_ARG(s->host ? s->host->address : SV_LIT("")), SV_ARG(s->step.sent), SV_ARG(s->step.response));
	}
	return ACL_FAIL;
}

static acl_result deferred(co_state *s, xbuf *user_msg, xbuf *log_msg)
{
	if (s->o->defer_ok)
		return ACL_OK;
	const char *what = s->recipient ? "Could not complete recipient verify callout"
		: "Could not complete sender verify callout";
	xbuf_puts(user_msg, what);
	xbuf_puts(log_msg, what);
	if (s->step.message.len) {
		xbuf_puts(log_msg, ": ");
		host_prefix(s, log_msg);
		xbuf_putsv(log_msg, s->step.message);
	}
	return ACL_DEFER;
}

typedef enum host_outcome { HOST_ACCEPT, HOST_REJECT, HOST_TRY_NEXT } host_outcome;

/* A rejection of the connection or of MAIL FROM:<> means no callout to the domain can
 * succeed: remembered in the domain record. */
static host_outcome mail_rejected(co_state *s, const callout_step *st)
{
	s->step = *st;
	s->failure = "mail";
	if (s->from.len == 0) {
		s->dom.result = CC_REJECT;
		s->dom.stamp = s->now;
	}
	return HOST_REJECT;
}

static host_outcome try_host(co_state *s, const address_item *routed, const route_host *h, bool need_random,
	bool need_postmaster)
{
	callout_step st;
	s->host = h;
	callout_link *l = callout_link_open(s->a, s->env, routed, h, s->o->timeout, s->o->connect_timeout, &st);
	if (!l) {
		s->step = st;
		if (st.rc == CALLOUT_REJECT)
			return mail_rejected(s, &st);
		return HOST_TRY_NEXT;
	}
	set_text(vars.callout_address, sizeof vars.callout_address, callout_link_address(l));
	bool rset = false;
	host_outcome out = HOST_TRY_NEXT;
	if (need_random) {
		xbuf lp, err;
		xbuf_init(&lp, s->a);
		xbuf_init(&err, s->a);
		const char *pattern = conf_main.callout_random_local_part;
		if (xp_expand(s->env, sv_cstr(pattern ? pattern : ""), &lp, &err) == XP_OK) {
			callout_link_probe(l, false, s->from, concat(s->a, xbuf_sv(&lp), "@", s->domain), &st);
			rset = true;
			if (st.rc == CALLOUT_ACCEPT) {
				/* The host takes anything: the real address cannot be checked, and need not be. */
				s->dom.random = CC_ACCEPT;
				s->dom.random_stamp = s->now;
				s->dom.result = CC_ACCEPT;
				s->dom.stamp = s->now;
				callout_link_close(l);
				return HOST_ACCEPT;
			}
			if (st.rc == CALLOUT_REJECT && st.at_mail) {
				callout_link_close(l);
				return mail_rejected(s, &st);
			}
			if (st.rc == CALLOUT_REJECT) {
				s->dom.random = CC_REJECT;
				s->dom.random_stamp = s->now;
			}
			if (st.rc == CALLOUT_HOSTFAIL) {
				s->step = st;
				callout_link_close(l);
				return HOST_TRY_NEXT;
			}
		}
	}
	callout_link_probe(l, rset, s->from, s->address, &st);
	rset = true;
	s->step = st;
	switch (st.rc) {
	case CALLOUT_ACCEPT:
		out = HOST_ACCEPT;
		if (s->from.len == 0) {
			s->dom.result = CC_ACCEPT;
			s->dom.stamp = s->now;
		}
		break;
	case CALLOUT_REJECT:
		if (st.at_mail) {
			callout_link_close(l);
			return mail_rejected(s, &st);
		}
		s->failure = "recipient";
		out = HOST_REJECT;
		break;
	default:
		callout_link_close(l);
		return HOST_TRY_NEXT;
	}
	if (out == HOST_ACCEPT && need_postmaster) {
		sv pm = concat(s->a, SV_LIT("postmaster"), "@", s->domain);
		callout_link_probe(l, rset, s->o->postmaster_mailfrom, pm, &st);
		if (st.rc == CALLOUT_REJECT && !st.at_mail && s->o->fullpostmaster)
			callout_link_probe(l, true, s->o->postmaster_mailfrom, SV_LIT("postmaster"), &st);
		if (st.rc == CALLOUT_ACCEPT) {
			s->dom.postmaster = CC_ACCEPT;
			s->dom.pm_stamp = s->now;
		} else if (st.rc == CALLOUT_REJECT) {
			s->dom.postmaster = CC_REJECT;
			s->dom.pm_stamp = s->now;
			s->step = st;
			s->failure = "postmaster";
			out = HOST_REJECT;
		} else {
			s->step = st;
			out = HOST_TRY_NEXT;
		}
	}
	callout_link_close(l);
	return out;
}

static const char *expanded_spool(xp_env *env, arena *a)
{
	const char *sd = conf_main_string("spool_directory");
	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	if (xp_expand(env, sv_cstr(sd ? sd : ""), &out, &err) != XP_OK)
		return NULL;
	return xbuf_cstr(&out);
}

acl_result callout_verify(xp_env *env, arena *a, const address_item *routed, sv address, sv sender,
	bool is_recipient, const callout_opts *o, xbuf *user_msg, xbuf *log_msg)
{
	vars_attach(env);
	if (skip_callouts || !o->enabled)
		return ACL_OK;
	co_state s = { .env = env, .a = a, .o = o, .recipient = is_recipient, .address = address,
		.now = (long long)time(NULL) };
	s.dom = (cc_domain){ .result = CC_UNKNOWN, .postmaster = CC_UNKNOWN, .random = CC_UNKNOWN };
	s.domain = domain_of(address);
	s.spool = o->no_cache ? NULL : expanded_spool(env, a);
	if (is_recipient && o->use_sender)
		s.from = sender;
	else if (is_recipient && o->use_postmaster) {
		const char *qd = conf_main_string("qualify_domain");
		if (!qd || !*qd)
			qd = conf_main_string("primary_hostname");
		s.from = concat(a, SV_LIT("postmaster"), "@", sv_cstr(qd ? qd : ""));
	} else if (o->has_mailfrom)
		s.from = o->mailfrom;
	else
		s.from = SV_LIT("");
	s.key = s.from.len ? concat(a, address, "/<", concat(a, s.from, ">", SV_LIT(""))) : address;

	/* What the cache already knows. */
	cc_domain known = s.dom;
	if (s.spool) {
		cc_read_domain(s.spool, a, s.domain, s.now, &known);
		if (known.result == CC_REJECT || (o->postmaster && known.postmaster == CC_REJECT)) {
			s.cached = true;
			s.failure = known.result == CC_REJECT ? "mail" : "postmaster";
			return failed(&s, user_msg, log_msg);
		}
		if (o->random && known.random == CC_ACCEPT)
			return ACL_OK;
		cc_result ar = cc_read_address(s.spool, a, s.key, s.now);
		if (ar == CC_ACCEPT)
			return ACL_OK;
		if (ar == CC_REJECT) {
			s.cached = true;
			s.failure = "recipient";
			return failed(&s, user_msg, log_msg);
		}
	}
	bool need_random = o->random && known.random == CC_UNKNOWN;
	bool need_postmaster = o->postmaster && known.postmaster != CC_ACCEPT;

	route_host *hosts = callout_link_hosts(a, env, routed);
	if (!hosts)
		return ACL_OK; /* nothing to call (a local delivery, or no hosts): routing decides */
	long long deadline = s.now + o->maxwait;
	host_outcome out = HOST_TRY_NEXT;
	for (const route_host *h = hosts; h && out == HOST_TRY_NEXT; h = h->next) {
		if (h->unusable || !h->address.len)
			continue;
		if (h != hosts && (long long)time(NULL) >= deadline)
			break;
		out = try_host(&s, routed, h, need_random, need_postmaster);
	}
	if (s.spool) {
		cc_write_domain(s.spool, a, s.domain, &s.dom);
		bool address_decided = out == HOST_ACCEPT ? s.dom.random != CC_ACCEPT || !need_random
			: out == HOST_REJECT && s.failure && strcmp(s.failure, "recipient") == 0;
		if (address_decided)
			cc_write_address(s.spool, a, s.key, out == HOST_ACCEPT ? CC_ACCEPT : CC_REJECT, s.now);
	}
	if (out == HOST_ACCEPT)
		return ACL_OK;
	if (out == HOST_REJECT)
		return failed(&s, user_msg, log_msg);
	return deferred(&s, user_msg, log_msg);
}
