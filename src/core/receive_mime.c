/* The MIME ACL (acl_smtp_mime, acl_not_smtp_mime): run once per MIME part of a message that has
 * a Content-Type: header, with the $mime_* variables of that part (src/mail/mime.h walks the
 * parts as Exim does). The raw part is what `regex` matches there. Not done: the decode
 * condition and mime_regex (they need the ACL engine to call back for decoding), so
 * $mime_decoded_filename stays empty and $mime_content_size 0, as in Exim before a decode. */
#include <stddef.h>

#include "core/receive_internal.h"
#include "lib/log.h"
#include "mail/mime.h"

typedef struct mime_vars {
	xp_provider p;
	const mime_part *part;
} mime_vars;

static void put_int(xbuf *out, long long v)
{
	xbuf_printf(out, "%lld", v);
}

static bool mime_var(void *ctx, sv name, xbuf *out)
{
	const mime_part *p = ((mime_vars *)ctx)->part;
	if (name.len < 5 || memcmp(name.p, "mime_", 5) != 0)
		return false;
	sv n = sv_sub(name, 5, name.len - 5);
	static const struct { const char *name; size_t off; } strings[] = {
		{ "boundary", offsetof(mime_part, boundary) },
		{ "charset", offsetof(mime_part, charset) },
		{ "content_description", offsetof(mime_part, description) },
		{ "content_disposition", offsetof(mime_part, disposition) },
		{ "content_id", offsetof(mime_part, content_id) },
		{ "content_transfer_encoding", offsetof(mime_part, transfer_encoding) },
		{ "content_type", offsetof(mime_part, content_type) },
		{ "filename", offsetof(mime_part, filename) },
	};
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
		if (sv_eq_cstr(n, strings[i].name)) {
			sv v = *(const sv *)((const char *)p + strings[i].off);
			v.taint = 1;
			xbuf_putsv(out, v);
			return true;
		}
	if (sv_eq_cstr(n, "is_coverletter"))
		put_int(out, p->is_coverletter);
	else if (sv_eq_cstr(n, "is_multipart"))
		put_int(out, p->is_multipart);
	else if (sv_eq_cstr(n, "is_rfc822"))
		put_int(out, p->is_rfc822);
	else if (sv_eq_cstr(n, "part_count"))
		put_int(out, p->part_count);
	else if (sv_eq_cstr(n, "anomaly_level") || sv_eq_cstr(n, "content_size"))
		put_int(out, 0);
	else if (sv_eq_cstr(n, "anomaly_text") || sv_eq_cstr(n, "decoded_filename"))
		;
	else
		return false;
	return true;
}

typedef struct part_body {
	const mime_part *part;
} part_body;

static bool part_body_cb(void *ctx, sv *body)
{
	const mime_part *p = ((part_body *)ctx)->part;
	*body = p->body;
	body->taint = 1;
	return true;
}

acl_result receive_mime_acl(receive_ctx *r, sv spec, xp_env *env, acl_ctx *c)
{
	message *m = r->m;
	if (!message_find_header(m, sv_cstr("Content-Type")))
		return ACL_OK;
	xbuf hdrs;
	xbuf_init(&hdrs, r->a);
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*')
			xbuf_putsv(&hdrs, h->text);
	sv body;
	if (!receive_body(r, &body))
		body = sv_tainted(sv_make("", 0));
	mime_iter it;
	mime_begin(&it, r->a, xbuf_sv(&hdrs), body);
	mime_part part;
	mime_vars mv = { { mime_var, NULL, NULL }, &part };
	mv.p.ctx = &mv;
	part_body pb = { &part };
	acl_ops ops = { .body = part_body_cb };
	log_set_id(m->id);
	acl_result result = ACL_OK;
	while (mime_next(&it, &part)) {
		acl_ctx_init(c, r->a, ACL_WHERE_MIME, env);
		c->msg = m;
		c->origin = (msg_origin *)m->origin;
		c->smtp_session = r->how != RECV_LOCAL_DOT && r->how != RECV_LOCAL_EOF;
		c->ops = &ops;
		c->ops_ctx = &pb;
		xp_provider *saved = env->providers;
		xp_env_push_provider(env, &mv.p);
		acl_result rc = acl_check(c, spec);
		env->providers = saved;
		if (rc != ACL_OK) {
			result = rc;
			break;
		}
		receive_apply_acl_headers(r, c);
	}
	log_set_id(NULL);
	return result;
}
