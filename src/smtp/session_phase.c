/* Where in the message text a lost connection happened, for Exim's log line "lost while
 * reading message data" and its suffix: " (header)" while a header line is incomplete (or
 * nothing came), " (after header)" at the start of a line while the header section has not
 * ended yet, and nothing once the body has begun (after the blank line, or after a line that
 * turned out not to be a header once the next line started). Observed with Exim 4.96 -bh.
 */
#include "smtp/session_int.h"

void sess_phase_reset(sess_phase *ph)
{
	*ph = (sess_phase){ .at_line_start = true, .name_ok = true };
}

static bool name_char(unsigned char c)
{
	return c > 32 && c < 127 && c != ':';
}

void sess_phase_feed(sess_phase *ph, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !ph->in_body; i++) {
		unsigned char c = (unsigned char)p[i];
		if (ph->at_line_start) {
			/* A new line decides about the one before it: a continuation joins it, anything
			 * else ends it, and a finished line that is no header ends the header section;
			 * so does an empty line. */
			bool continuation = (c == ' ' || c == '\t') && ph->lines > 0;
			if (ph->lines > 0 && !continuation && !ph->prev_was_header) {
				ph->in_body = true;
				break;
			}
			if (c == '\r' && !ph->blank_cr) { ph->blank_cr = true; continue; }
			if (c == '\n') { ph->in_body = true; break; }
			ph->at_line_start = false;
			ph->blank_cr = false;
			if (!continuation) { ph->name_ok = true; ph->colon_seen = false; ph->name_len = 0; }
		}
		if (c == '\n') {
			ph->lines++;
			ph->at_line_start = true;
			ph->prev_was_header = ph->colon_seen;
			continue;
		}
		if (!ph->colon_seen) {
			if (c == ':' && ph->name_ok && ph->name_len > 0) ph->colon_seen = true;
			else if (name_char(c)) ph->name_len++;
			else if (c != '\r') ph->name_ok = false;
		}
	}
}

const char *sess_phase_suffix(const sess_phase *ph)
{
	if (ph->in_body) return "";
	if (ph->at_line_start && ph->lines > 0) return " (after header)";
	return " (header)";
}
