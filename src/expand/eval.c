/* Evaluating a compiled expansion: the walker, variables, operators, and the public entry points.
 *
 * `skip` is Exim's "skipping" mode for branches not taken: the tree is still walked so syntax
 * and unknown-variable errors are reported as Exim reports them, but nothing with side effects
 * runs, and variables, operators and items contribute nothing to the (discarded) output.
 */
#include <stdarg.h>
#include <stdio.h>

#include "expand/cert.h"
#include "expand/ops/ops.h"
#include "expand/xp_internal.h"
#include "lib/debug.h"
#include "search/search.h"

void xp_err(xbuf *err, const char *fmt, ...)
{
	xbuf_reset(err);
	va_list ap;
	va_start(ap, fmt);
	xbuf_vprintf(err, fmt, ap);
	va_end(ap);
}

/* -d+expand: one line per step, indented by nesting depth, values shown with their taint. */
void xp_trace(const xp_env *env, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	int d = env->depth < 30 ? env->depth : 30;
	debug_printf("%*s%s\n", 2 * d, "", line);
}

size_t xp_max_output(const xp_env *env)
{
	return env->max_output ? env->max_output : XP_DEFAULT_MAX_OUTPUT;
}

void xp_env_init(xp_env *env, arena *a)
{
	memset(env, 0, sizeof *env);
	env->a = a;
	env->state = a;
}

void xp_env_push_provider(xp_env *env, xp_provider *p)
{
	p->next = env->providers;
	env->providers = p;
}

void xp_save(const xp_env *env, xp_saved *s)
{
	s->value = env->value;
	s->item = env->item;
	memcpy(s->numeric, env->numeric, sizeof s->numeric);
	s->nnumeric = env->nnumeric;
}

void xp_restore(xp_env *env, const xp_saved *s)
{
	env->value = s->value;
	env->item = s->item;
	memcpy(env->numeric, s->numeric, sizeof s->numeric);
	env->nnumeric = s->nnumeric;
}

static int check_size(const xp_env *env, const xbuf *out, xbuf *err)
{
	if (out->len > xp_max_output(env)) {
		xp_err(err, "expansion result is too long (limit %zu bytes)", xp_max_output(env));
		return XP_ERROR;
	}
	return XP_OK;
}

/* ${expand:...}: the subject is expanded again, which Exim refuses for tainted text. */
static int op_expand(xp_env *env, sv in, xbuf *out, xbuf *err)
{
	if (in.taint) {
		xp_err(err, "internal expansion of \"" SV_FMT "\" failed: attempt to expand tainted string '" SV_FMT "'",
			SV_ARG(in), SV_ARG(in));
		return XP_ERROR;
	}
	xp_prog *p = xp_compile(env->a, in);
	int rc = xp_eval_seq(p->seq, env, false, out, err);
	if (rc == XP_ERROR) {
		char *inner = arena_strndup(env->a, xbuf_cstr(err), err->len);
		xp_err(err, "internal expansion of \"" SV_FMT "\" failed: %s", SV_ARG(in), inner);
	}
	return rc;
}

/* ${md5:$tls_in_peercert} and its kin: a lone, unbraced certificate variable is the certificate
 * itself (its fingerprint, its DER in base64). Without a certificate Exim applies the operator to
 * the variable's name, so "${md5:$tls_in_peercert}" is md5("tls_in_peercert"); that is kept. */
static const xp_node *lone_cert_var(const xp_node *n)
{
	const xp_node *v = n->nargs > 0 && n->args[0] ? n->args[0]->first : NULL;
	if (!v || v->next || v->kind != N_VAR || v->braced || !xp_cert_var(v->text) || !xp_cert_op_applies(n->text))
		return NULL;
	return v;
}

static int eval_cert_op(const xp_node *n, const xp_node *v, xp_env *env, xbuf *out, xbuf *err)
{
	xbuf cert;
	xbuf_init(&cert, env->a);
	if (xp_var_get(env, v->text, &cert, err) < 0)
		return XP_ERROR;
	xbuf tmp;
	xbuf_init(&tmp, env->a);
	xbuf_reset(err);
	if (cert.len) {
		if (xp_cert_op(n->text, xbuf_sv(&cert), &tmp, err) != XP_OK)
			return XP_ERROR;
	} else if (xp_op_apply(n->text, v->text, &tmp, err) != XP_OP_OK) {
		return XP_ERROR;
	}
	xbuf_putsv(out, xbuf_sv(&tmp));
	return XP_OK;
}

static int eval_op(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	const xp_node *certvar = skip ? NULL : lone_cert_var(n);
	if (certvar)
		return eval_cert_op(n, certvar, env, out, err);
	sv in;
	int rc = xp_eval_arg(n->args[0], env, skip, &in, err);
	if (rc != XP_OK || skip)
		return rc;
	if (sv_eq_cstr(n->text, "expand"))
		return op_expand(env, in, out, err);
	xbuf tmp;
	xbuf_init(&tmp, env->a);
	xbuf_reset(err);
	int orc = xp_op_apply(n->text, in, &tmp, err);
	if (orc == XP_OP_UNKNOWN) {
		xp_err(err, "unknown expansion operator \"" SV_FMT "\"", SV_ARG(n->text));
		return XP_ERROR;
	}
	if (orc != XP_OP_OK)
		return XP_ERROR;
	DEBUG(D_EXPAND) xp_trace(env, "op ${" SV_FMT ":} \"" SV_FMT "\" => \"%s\"%s", SV_ARG(n->text), SV_ARG(in),
		xbuf_cstr(&tmp), tmp.taint ? " (tainted)" : "");
	xbuf_putsv(out, xbuf_sv(&tmp));
	return XP_OK;
}

static int eval_var(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	xbuf tmp;
	xbuf_init(&tmp, env->a);
	int found = xp_var_get(env, n->text, &tmp, err);
	if (found < 0)
		return XP_ERROR;
	if (!found) {
		if (n->braced)
		{
			xp_err(err, "unknown variable in \"${" SV_FMT "}\"", SV_ARG(n->text));
			xp_acl_name_hint(n->text, err);
		}
		return XP_ERROR;
	}
	DEBUG(D_EXPAND) {
		if (skip)
			xp_trace(env, "var $" SV_FMT " (skipped)", SV_ARG(n->text));
		else
			xp_trace(env, "var $" SV_FMT " = \"%s\"%s", SV_ARG(n->text), xbuf_cstr(&tmp),
				tmp.taint ? " (tainted)" : "");
	}
	/* A certificate shows as "<cert>" when expanded as text (the PEM is for certextract and the
	 * fingerprint operators). */
	if (!skip && tmp.len && xp_cert_var(n->text)) {
		xbuf_puts(out, "<cert>");
		return XP_OK;
	}
	if (!skip)
		xbuf_putsv(out, xbuf_sv(&tmp));
	return XP_OK;
}

static int eval_error(const xp_node *n, xp_env *env, xbuf *err)
{
	/* Expand the arguments of the unfinished items first, as Exim did while reading them:
	 * the ones it expands only conditionally parse-only; numeric conditions' arguments are
	 * checked as numbers straight away. */
	for (int i = 0; i < n->nargs; i++) {
		xbuf tmp;
		xbuf_init(&tmp, env->a);
		bool conditional = n->argflags && (n->argflags[i] & 1);
		if (n->args[i] && xp_eval_seq(n->args[i], env, conditional, &tmp, err) != XP_OK) {
			if (n->argctx && n->argctx[i])
				xbuf_puts(err, n->argctx[i]);
			return XP_ERROR;
		}
		long long num;
		if (!conditional && n->argflags && (n->argflags[i] & 2) && !xp_number(xbuf_sv(&tmp), &num, "", err))
			return XP_ERROR;
		if (!conditional && n->argflags && (n->argflags[i] & 8) && !sv_trim(xbuf_sv(&tmp)).len) {
			xp_err(err, "first argument of \"extract\" must not be empty");
			return XP_ERROR;
		}
		if (!conditional && n->argflags && (n->argflags[i] & 4)) {
			if (!sv_trim(xbuf_sv(&tmp)).len) {
				xp_err(err, "first argument of \"listextract\" must not be empty");
				return XP_ERROR;
			}
			if (!xp_is_extract_number(xbuf_sv(&tmp))) {
				xp_err(err, "first argument of \"listextract\" must be numeric");
				return XP_ERROR;
			}
		}
	}
	xp_err(err, SV_FMT, SV_ARG(n->text));
	return XP_ERROR;
}

typedef struct xp_seq_quoting_t {
	bool tainted;   /* some tainted part seen */
	uint8_t quoter; /* the quoter all tainted parts share, 0 if none or mixed */
} xp_seq_quoting_t;

static int eval_node(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err);

int xp_eval_seq(const xp_seq *s, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	if (!s)
		return XP_OK;
	int maxd = env->max_depth ? env->max_depth : XP_DEFAULT_MAX_DEPTH;
	if (env->depth >= maxd) {
		xp_err(err, "expansion nesting too deep (limit %d)", maxd);
		return XP_ERROR;
	}
	env->depth++;
	int rc = XP_OK;
	/* Quoting survives concatenation: a result whose tainted parts were all quoted by the same
	 * lookup quoter (e.g. "select '${quote_pgsql:$x}'") carries that quoter, so the lookup accepts
	 * it; one unquoted or differently quoted tainted part clears it. Each non-literal part is
	 * therefore evaluated into its own buffer and merged here. */
	xp_seq_quoting_t q = { out->taint, out->taint ? out->quoter : 0 };
	xbuf part;
	xbuf_init(&part, env->a);
	for (const xp_node *n = s->first; n && rc == XP_OK; n = n->next) {
		if (n->kind == N_LIT) {
			/* Literal text is kept even when skipping, as Exim does (so a skipped
			 * ${substr{x}...} still reports its non-numeric argument). */
			xbuf_put(out, n->text.p, n->text.len);
			continue;
		}
		xbuf_reset(&part);
		rc = eval_node(n, env, skip, &part, err);
		if (part.taint) {
			q.quoter = q.tainted ? (q.quoter == part.quoter ? q.quoter : 0) : part.quoter;
			q.tainted = true;
		}
		xbuf_putsv(out, xbuf_sv(&part));
		if (rc == XP_OK)
			rc = check_size(env, out, err);
	}
	out->quoter = out->taint ? q.quoter : 0;
	env->depth--;
	return rc;
}

/* One non-literal node of a sequence, into out. */
static int eval_node(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	int rc = XP_OK;
	{
		switch (n->kind) {
		case N_LIT:
			xbuf_put(out, n->text.p, n->text.len);
			break;
		case N_VAR:
			rc = eval_var(n, env, skip, out, err);
			break;
		case N_NUMVAR:
			if (!skip && n->id < env->nnumeric)
				xbuf_putsv(out, env->numeric[n->id]);
			break;
		case N_HEADER:
			if (!skip) {
				bool exists;
				xp_header_get(env, n->hkind, n->text, out, &exists);
			}
			break;
		case N_OP:
			rc = eval_op(n, env, skip, out, err);
			break;
		case N_ITEM:
			if (skip) {
				xbuf junk;
				xbuf_init(&junk, env->a);
				rc = xp_eval_item(n, env, true, &junk, err);
			} else {
				rc = xp_eval_item(n, env, false, out, err);
			}
			break;
		case N_ERROR:
			rc = eval_error(n, env, err);
			break;
		}
	}
	return rc;
}

int xp_eval_arg(const xp_seq *s, xp_env *env, bool skip, sv *res, xbuf *err)
{
	xbuf b;
	xbuf_init(&b, env->a);
	int rc = xp_eval_seq(s, env, skip, &b, err);
	*res = xbuf_sv(&b);
	/* Exim hands arguments on as C strings: a NUL ("\x00") ends them. */
	const char *nul = memchr(res->p, 0, res->len);
	if (nul)
		res->len = (size_t)(nul - res->p);
	/* An empty value carries no taint (Exim's empty result is a constant string). */
	if (!res->len)
		res->taint = res->quoter = 0;
	return rc;
}

/* The environment of the innermost expansion running on this thread. Only the wildlsearch key
 * hook reads it: Exim expands a wildlsearch file key in the context of the expansion that made
 * the lookup ($sender_address etc. in keys work), and the lookup layer below has no env to pass. */
static _Thread_local xp_env *current_env;

/* search_expand_hook: expand one wildlsearch key (0 ok, 1 forced failure, 2 error). */
static int expand_wild_key(sv in, xbuf *out, xbuf *err)
{
	xp_env *env = current_env;
	if (!env) {
		/* A lookup made outside any expansion (list matching from C): a bare environment. */
		arena_mark m = arena_getmark(pool_scratch);
		xp_env bare;
		xp_env_init(&bare, pool_scratch);
		int rc = xp_expand(&bare, in, out, err);
		xp_env_release(&bare);
		arena_reset(pool_scratch, m);
		return rc;
	}
	/* The key's expansion must not disturb the outer expansion's state. */
	bool deferred = env->lookup_deferred;
	int rc = xp_expand(env, in, out, err);
	env->lookup_deferred = deferred;
	return rc;
}

int xp_eval(const xp_prog *p, xp_env *env, xbuf *out, xbuf *err)
{
	if (!search_expand_hook)
		search_expand_hook = expand_wild_key;
	xp_env *outer = current_env;
	current_env = env;
	xbuf_reset(err);
	env->lookup_deferred = false;
	int rc = xp_eval_seq(p->seq, env, false, out, err);
	if (rc == XP_OK && env->lookup_deferred)
		rc = XP_ERROR;
	current_env = outer;
	return rc;
}

int xp_expand(xp_env *env, sv src, xbuf *out, xbuf *err)
{
	return xp_expand_compiled(env, xp_compile(env->a, src), src, out, err);
}

int xp_expand_compiled(xp_env *env, const xp_prog *p, sv src, xbuf *out, xbuf *err)
{
	DEBUG(D_EXPAND) xp_trace(env, "considering: " SV_FMT, SV_ARG(src));
	int rc = xp_eval(p, env, out, err);
	DEBUG(D_EXPAND) {
		if (rc == XP_OK)
			xp_trace(env, "result: %s%s", xbuf_cstr(out), out->taint ? " (tainted)" : "");
		else if (rc == XP_FORCEFAIL)
			xp_trace(env, "forced failure: %s", xbuf_cstr(err));
		else
			xp_trace(env, "failed: %s", xbuf_cstr(err));
	}
	return rc;
}

int xp_expand_bool(xp_env *env, sv src, bool *result, xbuf *err)
{
	xbuf out;
	xbuf_init(&out, env->a);
	int rc = xp_expand(env, src, &out, err);
	if (rc != XP_OK)
		return rc;
	sv v = sv_trim(xbuf_sv(&out));
	*result = !(v.len == 0 || sv_eq_cstr(v, "0") || sv_eqi(v, SV_LIT("no")) || sv_eqi(v, SV_LIT("false")));
	return XP_OK;
}
