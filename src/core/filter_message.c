/* Applying a system filter's "headers add" and "headers remove" to the message model, for the
 * delivery engine: the filter has already changed its own xp_message view while running; this
 * makes the same change to the message that is written back to the spool. */
#include "core/addr_reply.h"
#include "core/filter.h"
#include "core/message.h"

/* Each header line of an add (a newline not followed by a blank starts the next one). */
static void add_lines(message *m, sv text)
{
	size_t start = 0;
	for (size_t i = 0; i <= text.len; i++) {
		if (i < text.len && !(text.p[i] == '\n' && (i + 1 >= text.len ||
				(text.p[i + 1] != ' ' && text.p[i + 1] != '\t'))))
			continue;
		sv line = sv_make(text.p + start, i - start);
		start = i + 1;
		size_t s = 0;
		while (s < line.len && (line.p[s] == ' ' || line.p[s] == '\t'))
			s++;
		line = sv_sub(line, s, line.len - s);
		if (line.len == 0)
			continue;
		size_t colon = 0;
		while (colon < line.len && line.p[colon] != ':')
			colon++;
		xbuf b;
		xbuf_init(&b, m->a);
		xbuf_putsv(&b, line);
		xbuf_putc(&b, '\n');
		sv copy = xbuf_sv(&b);
		copy.taint = text.taint;
		message_add_header(m, message_header_type(sv_make(line.p, colon)), copy);
	}
}

/* Mark every header named in the colon-separated list as deleted ('*'), as Exim does. */
static void remove_names(message *m, sv list)
{
	size_t pos = 0;
	while (pos <= list.len) {
		size_t e = pos;
		while (e < list.len && list.p[e] != ':')
			e++;
		sv name = sv_trim(sv_make(list.p + pos, e - pos));
		pos = e + 1;
		if (name.len == 0)
			continue;
		for (msg_header *h = m->headers; h; h = h->next) {
			if (h->type == '*')
				continue;
			size_t colon = 0;
			while (colon < h->text.len && h->text.p[colon] != ':')
				colon++;
			if (sv_eqi(sv_make(h->text.p, colon), name))
				h->type = '*';
		}
	}
}

void filter_apply_headers(message *m, const filter_result *res)
{
	for (const filter_action *a = res->actions; a; a = a->next) {
		if (a->kind == FA_HEADERS_ADD)
			add_lines(m, a->arg);
		else if (a->kind == FA_HEADERS_REMOVE)
			remove_names(m, a->arg);
	}
}

addr_reply *filter_mail_reply(arena *a, const filter_mail *m)
{
	addr_reply *rp = arena_calloc(a, 1, sizeof *rp);
	rp->to = m->to;
	rp->cc = m->cc;
	rp->bcc = m->bcc;
	rp->from = m->from;
	rp->reply_to = m->reply_to;
	rp->subject = m->subject;
	rp->headers = m->extra_headers;
	rp->text = m->text;
	rp->file = m->file;
	rp->log = m->log;
	rp->once = m->once;
	rp->once_repeat = m->once_repeat;
	rp->file_expand = m->expand_file;
	rp->return_message = m->return_message;
	return rp;
}
