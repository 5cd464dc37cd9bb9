/* Fuzz the MIME ACL (src/core/acl_mime.c over the src/mail/mime.c walk): any bytes as a message. An inline MIME ACL
 * reads every $mime_* variable and matches the decoded part, so header and parameter parsing,
 * boundary splitting, base64 / quoted-printable decoding and message/rfc822 recursion all run.
 *
 * Invariants: the walk accepts (the ACL always accepts), and $mime_part_count is a number no
 * smaller than -1. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/acl.h"
#include "fuzz_check.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

/* Inline ACL text is expanded once as a whole before it is parsed (as Exim does), so the variables
 * are escaped to reach the statements unexpanded; unescaped, the part's (tainted) values would make
 * the text tainted and the ACL would be refused. */
static const char acl_text[] =
	"warn set acl_m_x = \\$mime_content_type \\$mime_charset \\$mime_boundary \\$mime_filename "
	"\\$mime_content_id \\$mime_content_description \\$mime_content_disposition "
	"\\$mime_content_transfer_encoding \\$mime_is_multipart \\$mime_is_rfc822 \\$mime_is_coverletter\n"
	"warn mime_regex = ^never-there\n"
	"warn set acl_m_y = \\$mime_anomaly_level \\$mime_anomaly_text\n"
	"accept";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static arena *a;
	if (!a) {
		arena_init_pools();
		a = arena_new("fuzz_acl_mime");
	}
	arena_mark m = arena_getmark(a);
	xp_env env;
	xp_env_init(&env, a);
	acl_ctx c;
	acl_ctx_init(&c, a, ACL_WHERE_MIME, &env);
	acl_result r = acl_mime_check(&c, SV_LIT(acl_text), sv_tainted(sv_make((const char *)data, size)));  /* as received */
	CHECK(r == ACL_OK);
	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	CHECK(xp_expand(&env, SV_LIT("$mime_part_count"), &out, &err) == XP_OK);
	CHECK(atoi(xbuf_cstr(&out)) >= -1);
	acl_ctx_release(&c);
	xp_env_release(&env);
	arena_reset(a, m);
	return 0;
}
