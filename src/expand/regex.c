/* Regular expressions for match and sg (PCRE2), with a small per-environment cache so an
 * expansion run many times does not recompile, and Exim's numeric-variable rules for $0..$9. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#include "expand/xp_internal.h"

#define CACHE_SIZE 16

struct xp_regex {
	pcre2_code *code;
	pcre2_match_data *md;
};

typedef struct regex_cache {
	struct { char *pattern; size_t len; bool caseless; xp_regex re; } e[CACHE_SIZE];
	int next;
} regex_cache;

xp_regex *xp_regex_compile(xp_env *env, sv pattern, bool caseless, xbuf *err)
{
	regex_cache *c = env->pcre_ctx;
	if (!c) {
		/* malloc, not the arena: the cache outlives arena resets between expansions. */
		c = calloc(1, sizeof *c);
		if (!c)
			abort();
		env->pcre_ctx = c;
	}
	for (int i = 0; i < CACHE_SIZE; i++)
		if (c->e[i].pattern && c->e[i].len == pattern.len && c->e[i].caseless == caseless &&
			memcmp(c->e[i].pattern, pattern.p, pattern.len) == 0)
			return &c->e[i].re;
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)(pattern.p ? pattern.p : ""), pattern.len,
		caseless ? PCRE2_CASELESS : 0, &ec, &eo, NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof msg);
		xp_err(err, "regular expression error in \"" SV_FMT "\": %s at offset %zu", SV_ARG(pattern),
			(const char *)msg, (size_t)eo);
		return NULL;
	}
	int slot = c->next;
	c->next = (c->next + 1) % CACHE_SIZE;
	/* Entries live in the arena: the old compiled code is freed, its strings stay until reset. */
	if (c->e[slot].pattern) {
		pcre2_code_free(c->e[slot].re.code);
		pcre2_match_data_free(c->e[slot].re.md);
		free(c->e[slot].pattern);
	}
	c->e[slot].pattern = malloc(pattern.len + 1);
	if (!c->e[slot].pattern)
		abort();
	memcpy(c->e[slot].pattern, pattern.p ? pattern.p : "", pattern.len);
	c->e[slot].len = pattern.len;
	c->e[slot].caseless = caseless;
	c->e[slot].re.code = code;
	c->e[slot].re.md = pcre2_match_data_create_from_pattern(code, NULL);
	return &c->e[slot].re;
}

static int match_opts(xp_env *env, xp_regex *re, sv subject, bool set_numeric, size_t start,
	uint32_t opts, size_t *ovec0, size_t *ovec1)
{
	int rc = pcre2_match(re->code, (PCRE2_SPTR)(subject.p ? subject.p : ""), subject.len, start, opts,
		re->md, NULL);
	if (rc < 0)
		return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
	if (ovec0)
		*ovec0 = ov[0];
	if (ovec1)
		*ovec1 = ov[1];
	if (set_numeric) {
		int n = rc == 0 ? XP_MAX_NUMERIC : rc;
		if (n > XP_MAX_NUMERIC)
			n = XP_MAX_NUMERIC;
		for (int i = 0; i < n; i++) {
			if (ov[2 * i] == PCRE2_UNSET)
				env->numeric[i] = SV_NULL;
			else {
				sv v = sv_sub(subject, ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
				env->numeric[i] = sv_copy(env->a, v);
			}
		}
		env->nnumeric = n;
	}
	return 1;
}

int xp_regex_match(xp_env *env, xp_regex *re, sv subject, bool set_numeric, size_t start,
	size_t *ovec0, size_t *ovec1)
{
	return match_opts(env, re, subject, set_numeric, start, 0, ovec0, ovec1);
}

int xp_regex_match_nonempty_at(xp_env *env, xp_regex *re, sv subject, size_t start,
	size_t *ovec0, size_t *ovec1)
{
	return match_opts(env, re, subject, true, start, PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED, ovec0, ovec1);
}

void xp_env_release(xp_env *env)
{
	regex_cache *c = env->pcre_ctx;
	if (!c)
		return;
	for (int i = 0; i < CACHE_SIZE; i++)
		if (c->e[i].pattern) {
			pcre2_code_free(c->e[i].re.code);
			pcre2_match_data_free(c->e[i].re.md);
			free(c->e[i].pattern);
		}
	free(c);
	env->pcre_ctx = NULL;
}
