/* RFC 2047 encoding and decoding; see rfc2047.h. */
#include "mail/rfc2047.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>

#include "lib/codec.h"

static bool is_q_special(unsigned char ch)
{
	return ch && strchr("?=()<>@,;:\\\".[]_", ch) != NULL;
}

void rfc2047_encode(sv in, const char *charset, xbuf *out)
{
	const unsigned char *p = (const unsigned char *)in.p;
	bool plain = true;
	for (size_t i = 0; i < in.len && plain; i++)
		plain = (p[i] == ' ' || (p[i] >= 33 && p[i] <= 126)) && !is_q_special(p[i]);
	out->taint |= in.taint;
	if (plain) {
		xbuf_putsv(out, in);
		return;
	}
	/* Word breaking as Exim does it: before each input byte, if the current word has grown
	 * past 67 characters, close it and open another. The first word is measured without its
	 * "=?cs?Q?" prefix, later ones with it. Each encoded byte flips a flag that suppresses the
	 * check for the next byte and any other byte clears it, which keeps two-byte UTF-8
	 * characters (and, as a side effect, pairs of other encoded bytes) together. */
	xbuf_printf(out, "=?%s?Q?", charset);
	size_t line_off = out->len;
	bool skip_check = false;
	for (size_t i = 0; i < in.len; i++) {
		unsigned char ch = p[i];
		if (out->len - line_off > 67 && !skip_check) {
			xbuf_puts(out, "?= ");
			line_off = out->len;
			xbuf_printf(out, "=?%s?Q?", charset);
		}
		if (ch == ' ') {
			xbuf_putc(out, '_');
			skip_check = false;
		} else if (ch < 33 || ch > 126 || is_q_special(ch)) {
			xbuf_printf(out, "=%02X", ch);
			skip_check = !skip_check;
		} else {
			xbuf_putc(out, (char)ch);
			skip_check = false;
		}
	}
	xbuf_puts(out, "?=");
}

/* One parsed encoded word: [start, end) in the input, and its parts. */
typedef struct enc_word {
	size_t start, end;
	sv charset, text;
	char enc; /* 'Q' or 'B' */
} enc_word;

/* Recognise an encoded word at in[i] ("=?cs?e?text?="). The charset may not contain white
 * space; the text may (base64 ignores it, Q-decoding then rejects the word). */
static bool parse_word(sv in, size_t i, bool check_length, enc_word *w)
{
	const char *p = in.p;
	size_t n = in.len;
	if (i + 1 >= n || p[i] != '=' || p[i + 1] != '?')
		return false;
	size_t cs = i + 2, q1 = cs;
	while (q1 < n && p[q1] != '?' && !isspace((unsigned char)p[q1]))
		q1++;
	if (q1 + 2 >= n || p[q1] != '?' || p[q1 + 2] != '?')
		return false;
	char enc = (char)toupper((unsigned char)p[q1 + 1]);
	if (enc != 'Q' && enc != 'B')
		return false;
	size_t t = q1 + 3, e = t;
	while (e + 1 < n && !(p[e] == '?' && p[e + 1] == '='))
		e++;
	if (e + 1 >= n)
		return false;
	w->start = i;
	w->end = e + 2;
	w->charset = sv_make(p + cs, q1 - cs);
	w->text = sv_make(p + t, e - t);
	w->enc = enc;
	return !(check_length && w->end - w->start > RFC2047_MAX_WORD);
}

/* Undo the Q or B encoding; false if the text is malformed. */
static bool word_bytes(const enc_word *w, xbuf *raw)
{
	if (w->enc == 'B')
		return codec_b64_decode(w->text, raw);
	for (size_t i = 0; i < w->text.len; i++) {
		char ch = w->text.p[i];
		if (ch == '_')
			xbuf_putc(raw, ' ');
		else if (isspace((unsigned char)ch))
			return false;
		else if (ch == '=') {
			if (w->text.len - i < 3)
				return false;
			int hi = codec_hex_digit((unsigned char)w->text.p[i + 1]);
			int lo = codec_hex_digit((unsigned char)w->text.p[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			xbuf_putc(raw, (char)(hi << 4 | lo));
			i += 2;
		} else
			xbuf_putc(raw, ch);
	}
	return true;
}

/* Convert raw from charset to target into out; bytes iconv cannot convert are copied as they
 * are. NUL bytes become '?'. */
static bool convert(sv charset, const char *target, sv raw, xbuf *out, xbuf *err)
{
	char cs[64];
	bool same = charset.len == 0 || sv_eqi(charset, sv_cstr(target));
	iconv_t cd = (iconv_t)-1;
	if (!same) {
		if (charset.len >= sizeof cs || memchr(charset.p, 0, charset.len))
			errno = EINVAL;
		else {
			memcpy(cs, charset.p, charset.len);
			cs[charset.len] = 0;
			cd = iconv_open(target, cs);
		}
		if (cd == (iconv_t)-1) {
			xbuf_reset(err);
			xbuf_printf(err, "iconv_open(\"%s\", \"" SV_FMT "\") failed: %s%s", target, SV_ARG(charset),
				strerror(errno), errno == EINVAL ? " (maybe unsupported conversion)" : "");
			return false;
		}
	}
	size_t start = out->len;
	if (same)
		xbuf_putsv(out, raw);
	else {
		char *inp = (char *)raw.p;
		size_t inleft = raw.len;
		while (inleft) {
			char buf[256], *op = buf;
			size_t outleft = sizeof buf;
			size_t r = iconv(cd, &inp, &inleft, &op, &outleft);
			xbuf_put(out, buf, (size_t)(op - buf));
			if (r == (size_t)-1 && errno != E2BIG) {
				/* unconvertible or truncated: keep the byte and go on */
				xbuf_putc(out, *inp++);
				inleft--;
				iconv(cd, NULL, NULL, NULL, NULL);
			}
		}
		iconv_close(cd);
	}
	for (size_t i = start; i < out->len; i++)
		if (out->p[i] == 0)
			out->p[i] = '?';
	return true;
}

bool rfc2047_decode(sv in, const char *target, bool check_length, xbuf *out, xbuf *err)
{
	size_t i = 0, pending_ws = 0; /* white space seen since the last encoded word */
	bool after_word = false;
	xbuf raw;
	xbuf_init(&raw, NULL);
	out->taint |= in.taint;
	while (i < in.len) {
		enc_word w;
		if (in.p[i] == '=' && parse_word(in, i, check_length, &w)) {
			xbuf_reset(&raw);
			if (word_bytes(&w, &raw)) {
				if (!after_word && pending_ws)
					xbuf_put(out, in.p + i - pending_ws, pending_ws);
				if (!convert(w.charset, target, xbuf_sv(&raw), out, err)) {
					xbuf_free(&raw);
					return false;
				}
				i = w.end;
				pending_ws = 0;
				after_word = true;
				continue;
			}
		}
		char ch = in.p[i];
		if (isspace((unsigned char)ch)) {
			/* held back: dropped if another encoded word follows a previous one */
			pending_ws++;
			i++;
			continue;
		}
		if (pending_ws)
			xbuf_put(out, in.p + i - pending_ws, pending_ws);
		pending_ws = 0;
		after_word = false;
		xbuf_putc(out, ch == 0 ? '?' : ch);
		i++;
	}
	if (pending_ws)
		xbuf_put(out, in.p + in.len - pending_ws, pending_ws);
	xbuf_free(&raw);
	return true;
}
