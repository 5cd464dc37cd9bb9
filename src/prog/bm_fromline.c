/* The UUCP "From " line; see bm_fromline.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf/main_options.h"
#include "lib/log.h"
#include "prog/bm_fromline.h"

size_t bm_uucp_from_line(const char *p, size_t n, xp_env *env, xbuf *sender)
{
	const char *pattern = conf_main.uucp_from_pattern;
	if (!pattern || !*pattern || n < 5 || memcmp(p, "From ", 5) != 0)
		return 0;
	const char *nl = memchr(p, '\n', n);
	size_t linelen = nl ? (size_t)(nl - p) : n, skip = nl ? linelen + 1 : n;
	size_t textlen = linelen && p[linelen - 1] == '\r' ? linelen - 1 : linelen;
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
	if (!re) {
		log_write(LOG_MAIN | LOG_PANIC, "uucp_from_pattern \"%s\" does not compile", pattern);
		return 0;
	}
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = pcre2_match(re, (PCRE2_SPTR)p, textlen, 0, 0, md, NULL);
	if (rc <= 0) {
		pcre2_match_data_free(md);
		pcre2_code_free(re);
		return 0;
	}
	if (sender) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		int saved = env->nnumeric;
		sv saved_n[XP_MAX_NUMERIC];
		memcpy(saved_n, env->numeric, sizeof saved_n);
		env->nnumeric = 0;
		for (int i = 0; i < rc && i < XP_MAX_NUMERIC; i++) {
			if (ov[2 * i] == PCRE2_UNSET)
				env->numeric[i] = sv_tainted(sv_make("", 0));
			else
				env->numeric[i] = sv_tainted(sv_make(p + ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
			env->nnumeric = i + 1;
		}
		xbuf err;
		xbuf_init(&err, pool_scratch);
		const char *src = conf_main.uucp_from_sender ? conf_main.uucp_from_sender : "$1";
		if (xp_expand(env, sv_cstr(src), sender, &err) != XP_OK)
			xbuf_reset(sender);
		env->nnumeric = saved;
		memcpy(env->numeric, saved_n, sizeof saved_n);
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return skip;
}
