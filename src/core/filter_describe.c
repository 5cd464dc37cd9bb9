/* Rendering filter actions as Exim's -bf / -bF testing output. Values are shown with Exim's
 * printable escapes (a newline as "\n"). */
#include "core/filter.h"
#include "lib/printing.h"

static void put_escaped(xbuf *out, sv v)
{
	printing_escape(v, PRINT_TAB_LITERAL, out);
}

static void mail_line(xbuf *out, const char *label, sv v)
{
	if (sv_is_null(v))
		return;
	xbuf_printf(out, "\n%s: ", label);
	put_escaped(out, v);
}

static void describe_mail(const filter_action *act, xbuf *out)
{
	const filter_mail *m = act->mail;
	xbuf_puts(out, act->seen ? "Seen mail to: " : "Mail to: ");
	if (sv_is_null(m->to))
		xbuf_puts(out, "<default>");
	else
		xbuf_putsv(out, m->to); /* Exim shows this one unescaped */
	if (m->vacation)
		xbuf_puts(out, " (vacation)");
	if (act->noerror)
		xbuf_puts(out, " (noerror)");
	mail_line(out, "     cc", m->cc);
	mail_line(out, "    bcc", m->bcc);
	mail_line(out, "   from", m->from);
	mail_line(out, "reply_to", m->reply_to);
	mail_line(out, "subject", m->subject);
	mail_line(out, "extra_headers", m->extra_headers);
	mail_line(out, "   text", m->text);
	if (!sv_is_null(m->file)) {
		mail_line(out, "   file", m->file);
		if (m->expand_file)
			xbuf_puts(out, " (expanded)");
	}
	mail_line(out, "    log", m->log);
	mail_line(out, "   once", m->once);
	mail_line(out, "once_repeat", m->once_repeat);
	if (m->return_message)
		xbuf_puts(out, "\nReturn original message");
}

void filter_action_describe(const filter_action *act, xbuf *out)
{
	switch (act->kind) {
	case FA_DELIVER:
		xbuf_puts(out, act->unseen ? "Unseen deliver" : "Deliver");
		xbuf_puts(out, " message to: ");
		put_escaped(out, act->arg);
		if (act->noerror)
			xbuf_puts(out, " (noerror)");
		if (!sv_is_null(act->errors_to)) {
			xbuf_puts(out, " errors_to ");
			put_escaped(out, act->errors_to);
		}
		return;
	case FA_SAVE:
		xbuf_puts(out, act->unseen ? "Unseen save" : "Save");
		xbuf_puts(out, " message to: ");
		put_escaped(out, act->arg);
		if (act->mode >= 0)
			xbuf_printf(out, " %04o", act->mode);
		break;
	case FA_PIPE:
		xbuf_puts(out, act->unseen ? "Unseen pipe" : "Pipe");
		xbuf_puts(out, " message to: ");
		put_escaped(out, act->arg);
		break;
	case FA_MAIL:
		describe_mail(act, out);
		return;
	case FA_LOGFILE:
		xbuf_puts(out, act->seen ? "Seen logfile " : "Logfile ");
		put_escaped(out, act->arg);
		return;
	case FA_LOGWRITE:
		xbuf_puts(out, act->seen ? "Seen logwrite \"" : "Logwrite \"");
		put_escaped(out, act->arg);
		xbuf_putc(out, '"');
		return;
	case FA_HEADERS_ADD:
	case FA_HEADERS_REMOVE:
	case FA_HEADERS_CHARSET:
		xbuf_printf(out, "Headers %s \"", act->kind == FA_HEADERS_ADD ? "add"
			: act->kind == FA_HEADERS_REMOVE ? "remove" : "charset");
		put_escaped(out, act->arg);
		xbuf_putc(out, '"');
		return;
	case FA_MAIL_IGNORED:
		xbuf_printf(out, SV_FMT " command ignored because return_path is empty", SV_ARG(act->arg));
		return;
	case FA_TESTPRINT:
		xbuf_puts(out, "Testprint: ");
		put_escaped(out, act->arg);
		return;
	case FA_ADD:
		xbuf_printf(out, "Add %lld to n%d", act->amount, act->var);
		return;
	case FA_FINISH:
		xbuf_puts(out, act->seen ? "Seen finish" : "Finish");
		return;
	case FA_FAIL:
	case FA_FREEZE:
	case FA_DEFER:
		xbuf_printf(out, "%s text \"", act->kind == FA_FAIL ? "Fail"
			: act->kind == FA_FREEZE ? "Freeze" : "Defer");
		put_escaped(out, act->arg);
		xbuf_putc(out, '"');
		return;
	}
	if (act->noerror)
		xbuf_puts(out, " (noerror)");
}
