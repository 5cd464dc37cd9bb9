/* "control =": every control of Exim 4.96 as Debian builds it, with the per-ACL restrictions
 * observed there. The engine only records what was asked in acl_ctx.controls; the SMTP session,
 * reception and delivery act on it. Controls of optional Exim features (dmarc_disable_verify,
 * dmarc_enable_forensic, wellknown, bmi_run) are unknown, as in Debian's build, until a module
 * registers them with acl_register_control(). */
#include <string.h>

#include "core/acl_internal.h"
#include "lib/arena.h"

#define W(x) ACL_BIT(ACL_WHERE_##x)
#define NOT_SMTP (W(NOTSMTP) | W(NOTSMTP_START))
/* While a message is being received (before or during its data). */
#define IN_MESSAGE (W(MAIL) | W(RCPT) | W(PREDATA) | W(DATA) | W(MIME) | W(DKIM) | W(PRDR) | NOT_SMTP)
#define BEFORE_DATA (W(MAIL) | W(RCPT) | W(PREDATA) | W(NOTSMTP_START))

typedef enum ctl_id {
	CT_ALLOW_AUTH_UNADVERTISED, CT_CASEFUL_LOCAL_PART, CT_CASELOWER_LOCAL_PART,
	CT_CUTTHROUGH_DELIVERY, CT_DEBUG, CT_DKIM_DISABLE_VERIFY, CT_DSCP, CT_ENFORCE_SYNC, CT_ERROR, CT_FAKEDEFER, CT_FAKEREJECT,
	CT_FREEZE, CT_NO_CALLOUT_FLUSH, CT_NO_DELAY_FLUSH, CT_NO_ENFORCE_SYNC,
	CT_NO_MBOX_UNSPOOL, CT_NO_MULTILINE_RESPONSES, CT_NO_PIPELINING, CT_QUEUE, CT_QUEUE_ONLY,
	CT_SUBMISSION, CT_SUPPRESS_LOCAL_FIXUPS, CT_UTF8_DOWNCONVERT,
	CT__COUNT
} ctl_id;

typedef struct ctl_def {
	const char *name;
	unsigned forbids;
	bool has_options;   /* "/..." may follow */
} ctl_def;

static const ctl_def controls[CT__COUNT] = {
	[CT_ALLOW_AUTH_UNADVERTISED] = { "allow_auth_unadvertised", ACL_ALL_WHERE & ~(W(CONNECT) | W(HELO)), false },
	[CT_CASEFUL_LOCAL_PART] = { "caseful_local_part", ACL_ALL_WHERE & ~W(RCPT), false },
	[CT_CASELOWER_LOCAL_PART] = { "caselower_local_part", ACL_ALL_WHERE & ~W(RCPT), false },
	[CT_CUTTHROUGH_DELIVERY] = { "cutthrough_delivery", NOT_SMTP, true },
	[CT_DEBUG] = { "debug", 0, true },
	[CT_DKIM_DISABLE_VERIFY] = { "dkim_disable_verify", W(DATA) | W(NOTSMTP) | W(DKIM) | W(MIME) | W(PRDR), false },
	[CT_DSCP] = { "dscp", NOT_SMTP | W(NOTQUIT), true },
	[CT_ENFORCE_SYNC] = { "enforce_sync", NOT_SMTP, false },
	[CT_ERROR] = { "error", 0, false },
	[CT_FAKEDEFER] = { "fakedefer", ACL_ALL_WHERE & ~(IN_MESSAGE & ~NOT_SMTP), true },
	[CT_FAKEREJECT] = { "fakereject", ACL_ALL_WHERE & ~(IN_MESSAGE & ~NOT_SMTP), true },
	[CT_FREEZE] = { "freeze", ACL_ALL_WHERE & ~IN_MESSAGE, true },
	[CT_NO_CALLOUT_FLUSH] = { "no_callout_flush", NOT_SMTP, false },
	[CT_NO_DELAY_FLUSH] = { "no_delay_flush", NOT_SMTP, false },
	[CT_NO_ENFORCE_SYNC] = { "no_enforce_sync", NOT_SMTP, false },
	[CT_NO_MBOX_UNSPOOL] = { "no_mbox_unspool", ACL_ALL_WHERE & ~IN_MESSAGE, false },
	[CT_NO_MULTILINE_RESPONSES] = { "no_multiline_responses", NOT_SMTP, false },
	[CT_NO_PIPELINING] = { "no_pipelining", NOT_SMTP, false },
	[CT_QUEUE] = { "queue", ACL_ALL_WHERE & ~IN_MESSAGE, true },
	[CT_QUEUE_ONLY] = { "queue_only", ACL_ALL_WHERE & ~IN_MESSAGE, false },
	[CT_SUBMISSION] = { "submission", ACL_ALL_WHERE & ~BEFORE_DATA, true },
	[CT_SUPPRESS_LOCAL_FIXUPS] = { "suppress_local_fixups", ACL_ALL_WHERE & ~BEFORE_DATA, false },
	[CT_UTF8_DOWNCONVERT] = { "utf8_downconvert", ACL_ALL_WHERE & ~(W(RCPT) | W(VRFY)), true },
};

#define MAX_REGISTERED 16
static struct { const char *name; unsigned forbids; acl_control_fn fn; } registered[MAX_REGISTERED];
static int nregistered;

static bool name_matches(sv arg, const char *name, sv *options)
{
	size_t n = strlen(name);
	if (arg.len < n || memcmp(arg.p, name, n) != 0)
		return false;
	if (arg.len > n && arg.p[n] != '/')
		return false;
	*options = sv_sub(arg, n, arg.len);
	return true;
}

bool acl_register_control(const char *name, unsigned forbid_mask, acl_control_fn fn)
{
	if (!name || !fn || nregistered == MAX_REGISTERED)
		return false;
	sv opt;
	for (int i = 0; i < CT__COUNT; i++)
		if (name_matches(sv_cstr(name), controls[i].name, &opt))
			return false;
	registered[nregistered].name = name;
	registered[nregistered].forbids = forbid_mask & ACL_ALL_WHERE;
	registered[nregistered].fn = fn;
	nregistered++;
	return true;
}

/* control = submission/sender_retain/domain=x/name=y */
static bool submission_options(acl_ctx *c, sv opts)
{
	acl_controls *k = &c->controls;
	while (opts.len) {
		if (opts.p[0] != '/')
			return false;
		opts = sv_sub(opts, 1, opts.len);
		if (sv_starts(opts, "sender_retain")) {
			k->submission_sender_retain = true;
			opts = sv_sub(opts, 13, opts.len);
		} else if (sv_starts(opts, "domain=")) {
			/* The domain runs to the next slash. */
			size_t e = 7;
			while (e < opts.len && opts.p[e] != '/')
				e++;
			k->submission_domain = sv_copy(acl_msg_arena(c), sv_range(opts, 7, e));
			opts = sv_sub(opts, e, opts.len);
		} else if (sv_starts(opts, "name=")) {
			/* The name is the rest of the text: it may contain slashes. */
			k->submission_name = sv_copy(acl_msg_arena(c), sv_sub(opts, 5, opts.len));
			opts = sv_sub(opts, opts.len, opts.len);
		} else {
			return false;
		}
	}
	return true;
}

acl_result acl_control(acl_ctx *c, sv arg)
{
	sv opts = SV_NULL;
	int id = -1;
	for (int i = 0; i < CT__COUNT && id < 0; i++)
		if (name_matches(arg, controls[i].name, &opts))
			id = i;
	if (id < 0) {
		for (int i = 0; i < nregistered; i++)
			if (name_matches(arg, registered[i].name, &opts)) {
				if (registered[i].forbids & ACL_BIT(c->where))
					return acl_error(c, "cannot use \"control=%s\" in %s ACL", registered[i].name,
						acl_where_name(c->where));
				return registered[i].fn(c, opts);
			}
		return acl_error(c, "syntax error in \"control=" SV_FMT "\"", SV_ARG(arg));
	}
	const ctl_def *d = &controls[id];
	if (opts.len && !d->has_options)
		return acl_error(c, "syntax error in \"control=" SV_FMT "\"", SV_ARG(arg));
	/* queue_only is Exim's old name for queue, and its errors name "queue". */
	if (d->forbids & ACL_BIT(c->where))
		return acl_error(c, "cannot use \"control=%s\" in %s ACL", id == CT_QUEUE_ONLY ? "queue" : d->name,
			acl_where_name(c->where));
	acl_controls *k = &c->controls;
	switch ((ctl_id)id) {
	case CT_ALLOW_AUTH_UNADVERTISED: k->allow_auth_unadvertised = true; break;
	/* the later of the two wins, for the rest of this recipient's ACL (sess_acl resets it) */
	case CT_CASEFUL_LOCAL_PART: k->caseful_local_part = true; k->caselower_local_part = false; break;
	case CT_CASELOWER_LOCAL_PART: k->caselower_local_part = true; k->caseful_local_part = false; break;
	/* Exim ignores it once the message is to be frozen, queued or fake-rejected (the session
	 * also ignores it on any but the transaction's first RCPT, or with PRDR). */
	case CT_CUTTHROUGH_DELIVERY: k->cutthrough_delivery = !k->freeze && !k->queue && !k->fakereject; break;
	case CT_DEBUG: k->debug = true; break;
	case CT_DKIM_DISABLE_VERIFY: k->dkim_disable_verify = true; break;
	case CT_DSCP:
		if (!opts.len)
			return acl_error(c, "syntax error in \"control=" SV_FMT "\"", SV_ARG(arg));
		break; /* marking packets is the session's business; the value is in the argument */
	case CT_ENFORCE_SYNC: k->enforce_sync_set = true; k->enforce_sync = true; k->no_enforce_sync = false; break;
	case CT_NO_ENFORCE_SYNC: k->enforce_sync_set = true; k->enforce_sync = false; k->no_enforce_sync = true; break;
	case CT_ERROR: return ACL_ERROR;
	case CT_FAKEDEFER:
	case CT_FAKEREJECT:
		/* One setting: the later of fakedefer and fakereject wins, and one without a text
		 * goes back to the default text. */
		k->fakedefer = id == CT_FAKEDEFER;
		k->fakereject = id == CT_FAKEREJECT;
		/* the message's (acl_ctx_message_done forgets it) */
		k->fake_message = opts.len > 1 ? sv_copy(acl_msg_arena(c), sv_sub(opts, 1, opts.len)) : SV_NULL;
		k->fake_folded = false;   /* folded once an ACL ends without discarding */
		break;
	case CT_FREEZE:
		k->freeze = true;
		if (opts.len) {
			if (!sv_eq_cstr(opts, "/no_tell"))
				return acl_error(c, "syntax error in \"control=" SV_FMT "\"", SV_ARG(arg));
			k->freeze_no_tell = true;   /* freeze_tell is not told about this message */
		}
		break;
	case CT_NO_CALLOUT_FLUSH: k->no_callout_flush = true; break;
	case CT_NO_DELAY_FLUSH: k->no_delay_flush = true; break;
	case CT_NO_MBOX_UNSPOOL: k->no_mbox_unspool = true; break;
	case CT_NO_MULTILINE_RESPONSES: k->no_multiline_responses = true; break;
	case CT_NO_PIPELINING: k->no_pipelining = true; break;
	case CT_QUEUE:
		k->queue = true;
		/* Options "/only" and "/first_pass_route"; Exim passes over any other. */
		while (opts.len > 1) {
			size_t e = 1;
			while (e < opts.len && opts.p[e] != '/')
				e++;
			if (sv_eq_cstr(sv_range(opts, 1, e), "only"))
				k->queue_only = true;
			opts = sv_sub(opts, e, opts.len);
		}
		break;
	case CT_QUEUE_ONLY: k->queue = true; k->queue_only = true; break;
	case CT_SUBMISSION:
		k->submission = true;
		k->suppress_local_fixups = false;
		k->submission_domain = SV_NULL;
		k->submission_name = SV_NULL;
		k->submission_sender_retain = false;
		if (!submission_options(c, opts))
			return acl_error(c, "syntax error in \"control=" SV_FMT "\"", SV_ARG(arg));
		break;
	case CT_SUPPRESS_LOCAL_FIXUPS: k->suppress_local_fixups = true; break;
	case CT_UTF8_DOWNCONVERT:
		k->utf8_downconvert = true;
		if (opts.len && !sv_eq_cstr(opts, "/1") && !sv_eq_cstr(opts, "/0") && !sv_eq_cstr(opts, "/-1"))
			return acl_error(c, "syntax error in \"control=" SV_FMT "\"", SV_ARG(arg));
		if (sv_eq_cstr(opts, "/0"))
			k->utf8_downconvert = false;
		break;
	case CT__COUNT: break;
	}
	return ACL_OK;
}
