/* The end of an SMTP session that a panic stops (session_int.h: sess_die_install).
 *
 * Exim 4.96, when it must stop in the middle of a session (a line logged as PANIC_DIE, or a log
 * file it cannot open), answers "421 Unexpected failure, please try later" ("421 Unexpected log
 * failure, please try later" for the log) and then does not hang up at once: it goes on reading
 * what the client sends, answering QUIT with 221 (and leaving), RSET with 250 and anything else
 * with the same 421, until the client leaves or stays silent for the command timeout. Checked
 * live with -bs: a pending NOOP, RSET, EHLO, QUIT got 421, 250, 421, 221.
 *
 * When the panic comes while the "<=" line of a message already on the spool is written (the
 * main log cannot be opened, or the disk is full), Exim 4.96 answers "421 <host> Unexpected
 * failure, please try later - closing connection.", leaves at once and the message's -H and -D
 * files are gone (observed live with a main log on a full tmpfs and with a directory in its
 * place): the client, which got no 250, sends it again. */
#include <ctype.h>
#include <string.h>

#include "lib/log.h"
#include "smtp/session_int.h"

/* A client that keeps talking is not answered for ever. */
#define CLOSEDOWN_MAX_COMMANDS 50

static smtp_session *dying;
static bool after_data;

void sess_die_after_data(bool on)
{
	after_data = on;
}

static bool verb_is(sv line, const char *verb)
{
	size_t n = strlen(verb);
	if (line.len < n || strncasecmp(line.p, verb, n) != 0)
		return false;
	return line.len == n || isspace((unsigned char)line.p[n]);
}

static void closedown(bool log_failure)
{
	smtp_session *s = dying;
	dying = NULL;
	if (!s)
		return;
	if (after_data) {
		sess_reply(s, 421, "%s Unexpected failure, please try later - closing connection.", s->active_hostname);
		sess_flush(s);
		return;
	}
	const char *text = log_failure ? "Unexpected log failure, please try later" : "Unexpected failure, please try later";
	sess_reply(s, 421, "%s", text);
	if (!sess_flush(s))
		return;
	xbuf line;
	xbuf_init(&line, NULL);
	for (int i = 0; i < CLOSEDOWN_MAX_COMMANDS; i++) {
		if (bio_read_line(&s->io, &line, SMTP_CMD_MAX, s->receive_timeout_ms) != BIO_OK)
			break;
		sv l = xbuf_sv(&line);
		while (l.len && (l.p[l.len - 1] == '\n' || l.p[l.len - 1] == '\r'))
			l.len--;
		if (verb_is(l, "QUIT")) {
			sess_reply(s, 221, "%s closing connection", s->active_hostname);
			sess_flush(s);
			break;
		}
		if (verb_is(l, "RSET"))
			sess_reply(s, 250, "Reset OK");
		else
			sess_reply(s, 421, "%s", text);
		if (!sess_flush(s))
			break;
	}
	xbuf_free(&line);
}

void sess_die_install(smtp_session *s)
{
	/* Host checking answers nothing more (as Exim's -bh), batched SMTP has no replies. */
	bool answers = s && (s->mode == SMTP_MODE_DAEMON || s->mode == SMTP_MODE_BS);
	dying = answers ? s : NULL;
	log_set_die_hook(answers ? closedown : NULL);
}
