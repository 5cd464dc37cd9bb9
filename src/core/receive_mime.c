/* The MIME ACL (acl_smtp_mime, acl_not_smtp_mime) for a received message: the message text as
 * the ACL engine's MIME walk (src/core/acl_mime.c, over src/mail/mime.c) takes it — the header
 * lines as they now stand, an empty line, the body from the -D file. One implementation serves
 * the SMTP session and local submission. */
#include "core/receive_internal.h"
#include "lib/log.h"

acl_result receive_mime_acl(receive_ctx *r, sv spec, xp_env *env, acl_ctx *c)
{
	message *m = r->m;
	xbuf text;
	xbuf_init(&text, r->a);
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*')
			xbuf_putsv(&text, h->text);
	xbuf_putc(&text, '\n');
	sv body;
	if (receive_body(r, &body))
		xbuf_putsv(&text, body);
	(void)env;   /* the context's environment is used */
	c->where = ACL_WHERE_MIME;
	if (!c->msg)
		c->msg = m;
	log_set_id(m->id);
	sv t = xbuf_sv(&text);
	t.taint = 1;
	acl_result result = acl_mime_check(c, spec, t);
	log_set_id(NULL);
	return result;
}
