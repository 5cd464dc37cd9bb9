/* The caller's full name from the gecos field; see bm_gecos.h. Observed with Exim 4.96 (-bm by a
 * user whose gecos is "PostgreSQL administrator,,,"): without gecos_pattern the From: line gets
 * the whole field; with gecos_pattern = ^([^,:]*) and gecos_name = <$1>, "<PostgreSQL
 * administrator>". */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "expand/expand.h"
#include "lib/log.h"
#include "prog/bm_gecos.h"

static const char *with_login(arena *a, const char *gecos, const char *login)
{
	xbuf b;
	xbuf_init(&b, a);
	for (const char *p = gecos; *p; p++) {
		if (*p != '&') {
			xbuf_putc(&b, *p);
			continue;
		}
		for (const char *l = login; *l; l++)
			xbuf_putc(&b, l == login && *l >= 'a' && *l <= 'z' ? (char)(*l - 32) : *l);
	}
	return xbuf_cstr(&b);
}

const char *bm_gecos_name(arena *a, const char *gecos, const char *login, const char *pattern,
	const char *name)
{
	const char *field = with_login(a, gecos ? gecos : "", login ? login : "");
	if (!pattern || !*pattern || !name || !*name)
		return field;
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
	if (!re) {
		log_write(LOG_MAIN | LOG_PANIC, "gecos_pattern \"%s\" does not compile", pattern);
		return field;
	}
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = md ? pcre2_match(re, (PCRE2_SPTR)field, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) : -1;
	const char *result = field;
	if (rc > 0) {
		xp_env env;
		xp_env_init(&env, a);
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		int n = rc < XP_MAX_NUMERIC ? rc : XP_MAX_NUMERIC;
		for (int i = 0; i < n; i++)
			env.numeric[i] = ov[2 * i] == PCRE2_UNSET ? SV_LIT("")
				: sv_make(field + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
		env.nnumeric = n;
		xbuf out, err;
		xbuf_init(&out, a);
		xbuf_init(&err, a);
		if (xp_expand(&env, sv_cstr(name), &out, &err) == XP_OK)
			result = xbuf_cstr(&out);
		else
			log_write(LOG_MAIN | LOG_PANIC, "failed to expand gecos_name string \"%s\": %s", name, xbuf_cstr(&err));
		xp_env_release(&env);
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return result;
}
