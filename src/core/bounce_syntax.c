/* The syntax_errors_to report (bounce_syntax.h). Its layout, recorded from Exim 4.96:
 *
 *   Auto-Submitted: auto-replied
 *   From: <dsn_from>
 *   To: <syntax_errors_to>
 *   Subject: error(s) in forwarding or filtering
 *
 *   References: <the message's Message-ID>
 *   [<syntax_errors_text>
 *
 *   ]The <router> router encountered the following error(s):
 *
 *     <reason> in the address
 *     "<item>"
 *
 *   Other addresses were processed normally.
 *
 * Exim writes the References: line after the blank line that ends the headers, so it is the
 * first line of the body; Postern writes the same bytes. */
#include "core/bounce_syntax.h"

#include "core/bounce_internal.h"
#include "core/submit.h"

bool bounce_send_syntax_errors(const spool_config *sc, const message *m, const char *router, sv to,
	sv intro, sv errors, xbuf *err)
{
	arena *a = arena_new("syntax-errors");
	bnc_env e;
	bnc_env_init(&e, m, a);
	xbuf text;
	xbuf_init(&text, a);
	xbuf_puts(&text, "Auto-Submitted: auto-replied\nFrom: ");
	bnc_from(&e, &text);
	xbuf_puts(&text, "\nTo: ");
	bnc_put_unfolded(to, &text);
	xbuf_puts(&text, "\nSubject: error(s) in forwarding or filtering\n\n");
	bnc_references(m, &text);
	if (!sv_is_null(intro)) {
		xbuf_putsv(&text, intro);
		xbuf_puts(&text, "\n\n");
	}
	xbuf_printf(&text, "The %s router encountered the following error(s):\n\n", router);
	xbuf_putsv(&text, errors);
	xbuf_puts(&text, "Other addresses were processed normally.\n");
	submit_request r = {
		.sender = SV_LIT(""),
		.text = xbuf_sv(&text),
		.reference_id = sv_cstr(m->id),
		.extract_recipients = true,
		.by_exim_user = true,
	};
	char id[MSG_ID_LEN + 1];
	bool ok = submit_message(sc, &r, id, err);
	xp_env_release(&e.env);
	arena_free(a);
	return ok;
}
