/* The MIME ACL (acl_smtp_mime, acl_not_smtp_mime): the message is walked part by part with
 * src/mail/mime.h (the part order, cover letters, attached messages and normalised header values
 * as Exim 4.96 gives them), and the ACL runs once per part with the $mime_* variables describing
 * it; the first result other than accept ends the walk. This file adds what needs the ACL
 * engine: the variables, the "decode" condition (a part written to a file) and the part texts
 * that regex (raw) and mime_regex (decoded) match in this ACL.
 *
 * Untrusted input: the walk is bounded by mail/mime.c (depth, part count); decoding is linear. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/acl_internal.h"
#include "lib/arena.h"
#include "mail/mime.h"

/* The $mime_* values of the part being checked. */
typedef struct acl_mime_part {
	sv content_type, charset, boundary, filename, content_id, content_description;
	sv content_disposition, content_transfer_encoding;
	sv raw, decoded;            /* the part's body as it is, and decoded */
	bool decoded_done;
	bool is_multipart, is_rfc822, is_coverletter;
	sv decoded_filename;
	long long content_size;     /* KiB, after decode */
	int anomaly_level;
	sv anomaly_text;
} acl_mime_part;

typedef struct mime_walk {
	int decode_seq;             /* files written by "decode = default" */
} mime_walk;

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* ---- decoding ---- */

/* Decoding problems ($mime_anomaly_level / $mime_anomaly_text, observed with Exim 4.96: a
 * character outside the base64 alphabet gives 2 "Broken BASE64 encoding detected"; "=" not
 * followed by two hex digits or a line end gives 1 "Broken Quoted-Printable encoding detected").
 * Return values: 0 clean, else the level. */
static int decode_base64(sv in, xbuf *out)
{
	int anomaly = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < in.len; i++) {
		int ch = (unsigned char)in.p[i], v;
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '+')
			v = 62;
		else if (ch == '/')
			v = 63;
		else if (ch == '=')
			break;
		else {
			if (ch != '\n' && ch != '\r')
				anomaly = 2;   /* a space too (observed) */
			continue; /* line ends are skipped, and so is anything else after noting it */
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			xbuf_putc(out, (char)((acc >> bits) & 0xff));
		}
	}
	return anomaly;
}

static int decode_qp(sv in, xbuf *out)
{
	int anomaly = 0;
	for (size_t i = 0; i < in.len; i++) {
		char ch = in.p[i];
		if (ch != '=') {
			xbuf_putc(out, ch);
			continue;
		}
		size_t k = i + 1;
		while (k < in.len && (in.p[k] == ' ' || in.p[k] == '\t'))
			k++;   /* "=" and trailing white space before the line end: still a soft break */
		if (k == in.len)
			break;   /* "=" (and white space) ending the part: a soft break with nothing after */
		if (in.p[k] == '\n') { /* soft line break */
			i = k;
			continue;
		}
		if (k + 1 < in.len && in.p[k] == '\r' && in.p[k + 1] == '\n') {
			i = k + 1;
			continue;
		}
		if (i + 2 < in.len && in.p[i + 1] == '\r' && in.p[i + 2] == '\n') {
			i += 2;
			continue;
		}
		int h1 = i + 1 < in.len ? hexval(in.p[i + 1]) : -1;
		int h2 = i + 2 < in.len ? hexval(in.p[i + 2]) : -1;
		if (h1 >= 0 && h2 >= 0) {
			xbuf_putc(out, (char)(h1 * 16 + h2));
			i += 2;
		} else {
			anomaly = 1;
			xbuf_putc(out, ch);
		}
	}
	return anomaly;
}

static sv part_decoded(arena *a, acl_mime_part *p)
{
	if (p->decoded_done)
		return p->decoded;
	xbuf out;
	xbuf_init(&out, a);
	int anomaly = 0;
	if (sv_eq_cstr(p->content_transfer_encoding, "base64"))
		anomaly = decode_base64(p->raw, &out);
	else if (sv_eq_cstr(p->content_transfer_encoding, "quoted-printable"))
		anomaly = decode_qp(p->raw, &out);
	if (anomaly > p->anomaly_level) {
		p->anomaly_level = anomaly;
		p->anomaly_text = anomaly == 2 ? SV_LIT("Broken BASE64 encoding detected")
			: SV_LIT("Broken Quoted-Printable encoding detected");
	}
	if (!sv_eq_cstr(p->content_transfer_encoding, "base64")
		&& !sv_eq_cstr(p->content_transfer_encoding, "quoted-printable"))
		xbuf_putsv(&out, p->raw);
	p->decoded = sv_tainted(xbuf_sv(&out));
	p->decoded_done = true;
	return p->decoded;
}

/* ---- variables ---- */

bool acl_mime_var(acl_engine *e, sv name, xbuf *out)
{
	if (!sv_starts(name, "mime_"))
		return false;
	sv n = sv_sub(name, 5, name.len);
	if (sv_eq_cstr(n, "part_count")) {
		if (!e->mime_count_set)
			return false;
		xbuf_printf(out, "%d", e->mime_count);
		return true;
	}
	const acl_mime_part *p = e->mime;
	if (!p)
		return false;
	struct { const char *name; const sv *v; } svs[] = {
		{ "content_type", &p->content_type }, { "charset", &p->charset }, { "boundary", &p->boundary },
		{ "filename", &p->filename }, { "content_id", &p->content_id },
		{ "content_description", &p->content_description },
		{ "content_disposition", &p->content_disposition },
		{ "content_transfer_encoding", &p->content_transfer_encoding },
		{ "decoded_filename", &p->decoded_filename }, { "anomaly_text", &p->anomaly_text },
	};
	for (size_t i = 0; i < sizeof svs / sizeof svs[0]; i++)
		if (sv_eq_cstr(n, svs[i].name)) {
			xbuf_putsv(out, *svs[i].v);
			return true;
		}
	if (sv_eq_cstr(n, "is_multipart"))
		xbuf_puts(out, p->is_multipart ? "1" : "0");
	else if (sv_eq_cstr(n, "is_rfc822"))
		xbuf_puts(out, p->is_rfc822 ? "1" : "0");
	else if (sv_eq_cstr(n, "is_coverletter"))
		xbuf_puts(out, p->is_coverletter ? "1" : "0");
	else if (sv_eq_cstr(n, "content_size"))
		xbuf_printf(out, "%lld", p->content_size);
	else if (sv_eq_cstr(n, "anomaly_level"))
		xbuf_printf(out, "%d", p->anomaly_level);
	else
		return false;
	return true;
}

bool acl_mime_texts(acl_ctx *c, bool decoded, sv *text)
{
	acl_engine *e = acl_engine_of(c);
	if (!e->mime)
		return false;
	*text = decoded ? part_decoded(acl_msg_arena(c), e->mime) : e->mime->raw;
	return true;
}

/* ---- decode = ... ---- */

acl_result acl_mime_decode(acl_ctx *c, sv arg)
{
	acl_engine *e = acl_engine_of(c);
	acl_mime_part *p = e->mime;
	if (!p)
		return acl_error(c, "decode: no MIME part in this context");
	sv a = sv_trim(arg);
	if (!a.len || sv_eq_cstr(a, "0") || sv_eqi(a, SV_LIT("false")))
		return ACL_FAIL;
	xbuf spool, err, path;
	xbuf_init(&spool, acl_msg_arena(c));
	xbuf_init(&err, acl_msg_arena(c));
	xbuf_init(&path, acl_msg_arena(c));
	const char *sd = conf_main_string("spool_directory");
	if (xp_expand(c->env, sv_cstr(sd ? sd : ""), &spool, &err) != XP_OK)
		return acl_error(c, "failed to expand spool_directory: %s", xbuf_cstr(&err));
	const char *id = c->msg && c->msg->id[0] ? c->msg->id : "unknown";
	mime_walk *w = e->mime_walk;
	int seq = w ? ++w->decode_seq : 1;
	struct stat st;
	if (sv_eq_cstr(a, "default")) {
		xbuf_printf(&path, "%s/scan/%s/%s-%05d", xbuf_cstr(&spool), id, id, seq);
	} else if (a.p[0] == '/') {
		char *given = sv_dup(acl_msg_arena(c), a);
		if (stat(given, &st) == 0 && S_ISDIR(st.st_mode))
			xbuf_printf(&path, "%s/%s-%05d", given, id, seq);
		else
			xbuf_puts(&path, given);
	} else {
		if (memchr(a.p, '/', a.len) || sv_eq_cstr(a, ".."))
			return acl_error(c, "decode: file name \"" SV_FMT "\" contains a slash", SV_ARG(a));
		xbuf_printf(&path, "%s/scan/%s/" SV_FMT, xbuf_cstr(&spool), id, SV_ARG(a));
	}
	/* the default directory, created as needed */
	xbuf dir;
	xbuf_init(&dir, acl_msg_arena(c));
	xbuf_printf(&dir, "%s/scan", xbuf_cstr(&spool));
	(void)mkdir(xbuf_cstr(&dir), 0750);
	xbuf_printf(&dir, "/%s", id);
	(void)mkdir(xbuf_cstr(&dir), 0750);
	sv data = part_decoded(acl_msg_arena(c), p);
	int fd = open(xbuf_cstr(&path), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return acl_error(c, "decode: cannot open %s: %s", xbuf_cstr(&path), strerror(errno));
	size_t off = 0;
	while (off < data.len) {
		ssize_t n = write(fd, data.p + off, data.len - off);
		if (n <= 0) {
			int saved = errno;
			close(fd);
			return acl_error(c, "decode: write to %s failed: %s", xbuf_cstr(&path), strerror(saved));
		}
		off += (size_t)n;
	}
	close(fd);
	p->decoded_filename = xbuf_sv(&path);
	p->content_size = (long long)((data.len + 1023) / 1024);
	return ACL_OK;
}

/* ---- the walk ---- */

/* The message's header block and body: split at the first empty line. */
static void split_message(sv text, sv *headers, sv *body)
{
	size_t pos = 0;
	while (pos < text.len) {
		const char *nl = memchr(text.p + pos, '\n', text.len - pos);
		size_t end = nl ? (size_t)(nl - text.p) : text.len;
		size_t len = end - pos;
		if (len == 0 || (len == 1 && text.p[pos] == '\r')) {
			*headers = sv_sub(text, 0, pos);
			*body = sv_sub(text, end + 1, text.len);
			return;
		}
		pos = end + 1;
	}
	*headers = text;
	*body = sv_sub(text, text.len, 0);
}

/* Whether the header block has a Content-Type: line (the MIME ACL runs only then). */
static bool has_content_type(sv headers)
{
	static const char name[] = "content-type:";
	size_t pos = 0;
	while (pos < headers.len) {
		if (headers.len - pos >= sizeof name - 1 && strncasecmp(headers.p + pos, name, sizeof name - 1) == 0)
			return true;
		const char *nl = memchr(headers.p + pos, '\n', headers.len - pos);
		if (!nl)
			break;
		pos = (size_t)(nl - headers.p) + 1;
	}
	return false;
}

static sv tainted(sv v)
{
	return v.p ? sv_tainted(v) : SV_LIT("");
}

acl_result acl_mime_check(acl_ctx *c, sv spec, sv message)
{
	acl_engine *e = acl_engine_of(c);
	sv headers, body;
	split_message(message, &headers, &body);
	if (!spec.len || !has_content_type(headers)) {
		e->mime_count = -1; /* not a MIME message: the ACL is not run */
		e->mime_count_set = true;
		return ACL_OK;
	}
	mime_iter *it = arena_calloc(acl_msg_arena(c), 1, sizeof *it);
	mime_begin(it, acl_msg_arena(c), headers, body);
	mime_walk w = { 0 };
	e->mime_walk = &w;
	acl_result r = ACL_OK;
	mime_part part;
	int outer_count = -1;
	while (mime_next(it, &part)) {
		acl_mime_part *p = arena_calloc(acl_msg_arena(c), 1, sizeof *p);
		p->content_type = tainted(part.content_type);
		p->charset = tainted(part.charset);
		p->boundary = tainted(part.boundary);
		p->filename = tainted(part.filename);
		p->content_id = tainted(part.content_id);
		p->content_description = tainted(part.description);
		p->content_disposition = tainted(part.disposition);
		p->content_transfer_encoding = tainted(part.transfer_encoding);
		p->raw = tainted(part.body);
		p->decoded_filename = p->anomaly_text = SV_LIT("");
		p->is_multipart = part.is_multipart;
		p->is_rfc822 = part.is_rfc822;
		p->is_coverletter = part.is_coverletter;
		e->mime = p;
		e->mime_count = part.part_count;
		e->mime_count_set = true;
		acl_ctx_begin(c, c->where);
		/* Exim keeps no header added while it walks an attached message (observed). */
		acl_header *tail = c->add_headers;
		while (tail && tail->next)
			tail = tail->next;
		r = acl_check(c, spec);
		if (part.is_rfc822) {
			if (tail)
				tail->next = NULL;
			else
				c->add_headers = NULL;
		} else {
			outer_count = part.part_count;
		}
		if (r != ACL_OK)
			break;
	}
	/* The DATA ACL sees the count of the message's own last part, not an attached one's. */
	if (r == ACL_OK)
		e->mime_count = outer_count;
	e->mime_walk = NULL;
	e->mime = NULL;
	return r;
}
