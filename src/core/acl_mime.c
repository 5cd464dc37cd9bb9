/* The MIME ACL (acl_smtp_mime / acl_not_smtp_mime): the message is walked part by part, in
 * order, and the ACL runs once per part with the $mime_* variables describing it; the first
 * result other than accept ends the walk. Multipart bodies are split at their boundaries;
 * message/rfc822 parts are decoded and walked as messages of their own ($mime_is_rfc822).
 * Also the "decode" condition (a part written to a file) and the part texts that regex (raw)
 * and mime_regex (decoded) match in this ACL.
 *
 * Untrusted input: every scan is bounded by the text; nesting is limited (MIME_MAX_DEPTH) and so
 * is the number of parts (MIME_MAX_PARTS). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/acl_internal.h"
#include "lib/arena.h"
#include "lib/codec.h"
#include "mail/rfc2047.h"

#define MIME_MAX_DEPTH 20
#define MIME_MAX_PARTS 10000

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
	acl_ctx *c;
	sv spec;
	int count;                  /* parts seen in this message (per rfc822 level) */
	int total;                  /* parts seen overall (bound) */
	int decode_seq;             /* files written by "decode = default" */
} mime_walk;

/* ---- header fields ---- */

static sv line_at(sv text, size_t *pos)
{
	size_t start = *pos, e = start;
	while (e < text.len && text.p[e] != '\n')
		e++;
	*pos = e < text.len ? e + 1 : e;
	sv line = sv_range(text, start, e);
	if (line.len && line.p[line.len - 1] == '\r')
		line.len--;
	return line;
}

/* Split a part into its header block and body (after the first empty line). A part whose first
 * line is no header field has no headers. */
static void split_part(sv part, sv *headers, sv *body)
{
	size_t pos = 0;
	while (pos < part.len) {
		size_t start = pos;
		sv line = line_at(part, &pos);
		if (!line.len) {
			*headers = sv_range(part, 0, start);
			*body = sv_sub(part, pos, part.len);
			return;
		}
	}
	*headers = part;
	*body = sv_sub(part, part.len, 0);
}

/* The unfolded value of header `name` in a header block, or SV_NULL. */
static sv header_value(arena *a, sv headers, const char *name)
{
	size_t nlen = strlen(name), pos = 0;
	while (pos < headers.len) {
		sv line = line_at(headers, &pos);
		if (line.len <= nlen || line.p[nlen] != ':' || strncasecmp(line.p, name, nlen) != 0)
			continue;
		xbuf v;
		xbuf_init(&v, a);
		xbuf_putsv(&v, sv_sub(line, nlen + 1, line.len));
		/* continuation lines */
		while (pos < headers.len && (headers.p[pos] == ' ' || headers.p[pos] == '\t')) {
			sv more = line_at(headers, &pos);
			xbuf_putsv(&v, more);
		}
		return sv_trim(xbuf_sv(&v));
	}
	return SV_NULL;
}

static sv lower_copy(arena *a, sv s)
{
	char *p = arena_alloc(a, s.len + 1);
	for (size_t i = 0; i < s.len; i++)
		p[i] = (char)tolower((unsigned char)s.p[i]);
	p[s.len] = 0;
	sv r = sv_make(p, s.len);
	r.taint = s.taint;
	return r;
}

/* The value before the first ';', lower-cased (Exim's "normalized" header value). */
static sv main_value(arena *a, sv v)
{
	if (!v.p)
		return SV_LIT("");
	const char *semi = memchr(v.p, ';', v.len);
	return lower_copy(a, sv_trim(semi ? sv_range(v, 0, (size_t)(semi - v.p)) : v));
}

static int hexval(int ch)
{
	return codec_hex_digit(ch);
}

/* A parameter of a structured header: name=value, name="quoted", and RFC 2231 name*=charset''%xx
 * with continuations name*0, name*1... (values joined in order). RFC 2047 words in a plain value
 * are decoded. Empty when absent. */
static sv param_value(arena *a, sv v, const char *name)
{
	size_t nlen = strlen(name);
	xbuf plain, ext;
	xbuf_init(&plain, a);
	xbuf_init(&ext, a);
	bool have_plain = false, have_ext = false;
	const char *semi = v.p ? memchr(v.p, ';', v.len) : NULL;
	size_t pos = semi ? (size_t)(semi - v.p) + 1 : v.len;
	while (pos < v.len) {
		while (pos < v.len && (isspace((unsigned char)v.p[pos]) || v.p[pos] == ';'))
			pos++;
		size_t ns = pos;
		while (pos < v.len && v.p[pos] != '=' && v.p[pos] != ';')
			pos++;
		sv pname = sv_trim(sv_range(v, ns, pos));
		if (pos >= v.len || v.p[pos] != '=')
			continue;
		pos++;
		while (pos < v.len && isspace((unsigned char)v.p[pos]))
			pos++;
		xbuf val;
		xbuf_init(&val, a);
		if (pos < v.len && v.p[pos] == '"') {
			for (pos++; pos < v.len && v.p[pos] != '"'; pos++) {
				if (v.p[pos] == '\\' && pos + 1 < v.len)
					pos++;
				xbuf_putc(&val, v.p[pos]);
			}
			if (pos < v.len)
				pos++;
		} else {
			size_t vs = pos;
			while (pos < v.len && v.p[pos] != ';')
				pos++;
			xbuf_putsv(&val, sv_trim(sv_range(v, vs, pos)));
		}
		if (pname.len == nlen && strncasecmp(pname.p, name, nlen) == 0) {
			xbuf_putsv(&plain, xbuf_sv(&val));
			have_plain = true;
		} else if (pname.len > nlen && strncasecmp(pname.p, name, nlen) == 0 && pname.p[nlen] == '*') {
			/* RFC 2231: name*, name*0, name*0*, name*1 ... taken in order of appearance */
			sv rest = sv_sub(pname, nlen + 1, pname.len);
			bool encoded = rest.len && rest.p[rest.len - 1] == '*';
			if (!rest.len)
				encoded = true;
			sv val_sv = xbuf_sv(&val);
			if (encoded) {
				if (!have_ext || (rest.len && rest.p[0] == '0')) {
					/* charset'language' prefix on the first piece */
					const char *q1 = memchr(val_sv.p, '\'', val_sv.len);
					const char *q2 = q1 ? memchr(q1 + 1, '\'', val_sv.len - (size_t)(q1 + 1 - val_sv.p)) : NULL;
					if (q2)
						val_sv = sv_sub(val_sv, (size_t)(q2 + 1 - val_sv.p), val_sv.len);
				}
				for (size_t i = 0; i < val_sv.len; i++) {
					int h1, h2;
					if (val_sv.p[i] == '%' && i + 2 < val_sv.len && (h1 = hexval(val_sv.p[i + 1])) >= 0
						&& (h2 = hexval(val_sv.p[i + 2])) >= 0) {
						xbuf_putc(&ext, (char)(h1 * 16 + h2));
						i += 2;
					} else {
						xbuf_putc(&ext, val_sv.p[i]);
					}
				}
			} else {
				xbuf_putsv(&ext, val_sv);
			}
			have_ext = true;
		}
	}
	if (have_ext)
		return xbuf_sv(&ext);
	if (!have_plain)
		return SV_LIT("");
	xbuf dec, err;
	xbuf_init(&dec, a);
	xbuf_init(&err, a);
	if (rfc2047_decode(xbuf_sv(&plain), "utf-8", false, &dec, &err))
		return xbuf_sv(&dec);
	return xbuf_sv(&plain);
}

/* ---- decoding ---- */

static void decode_base64(sv in, xbuf *out)
{
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
		else
			continue; /* line ends and other noise are skipped */
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			xbuf_putc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

static void decode_qp(sv in, xbuf *out)
{
	for (size_t i = 0; i < in.len; i++) {
		char ch = in.p[i];
		if (ch != '=') {
			xbuf_putc(out, ch);
			continue;
		}
		if (i + 1 < in.len && in.p[i + 1] == '\n') { /* soft line break */
			i++;
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
			xbuf_putc(out, ch);
		}
	}
}

static sv part_decoded(arena *a, acl_mime_part *p)
{
	if (p->decoded_done)
		return p->decoded;
	xbuf out;
	xbuf_init(&out, a);
	if (sv_eq_cstr(p->content_transfer_encoding, "base64"))
		decode_base64(p->raw, &out);
	else if (sv_eq_cstr(p->content_transfer_encoding, "quoted-printable"))
		decode_qp(p->raw, &out);
	else
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
	*text = decoded ? part_decoded(e->a, e->mime) : e->mime->raw;
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
	xbuf_init(&spool, e->a);
	xbuf_init(&err, e->a);
	xbuf_init(&path, e->a);
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
		char *given = sv_dup(e->a, a);
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
	xbuf_init(&dir, e->a);
	xbuf_printf(&dir, "%s/scan", xbuf_cstr(&spool));
	(void)mkdir(xbuf_cstr(&dir), 0750);
	xbuf_printf(&dir, "/%s", id);
	(void)mkdir(xbuf_cstr(&dir), 0750);
	sv data = part_decoded(e->a, p);
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

static acl_result walk_part(mime_walk *w, sv part, bool headers_are_message, bool cover, bool rfc822, int depth);

/* The body of a multipart split at its boundary lines; each subpart is walked. */
static acl_result walk_multipart(mime_walk *w, const acl_mime_part *mp, bool cover, int depth)
{
	sv body = mp->raw;
	size_t blen = mp->boundary.len;
	size_t pos = 0, start = 0;
	bool inside = false;
	int index = 0;
	bool all_cover = sv_eq_cstr(mp->content_type, "multipart/alternative")
		|| sv_eq_cstr(mp->content_type, "multipart/related");
	while (pos <= body.len) {
		size_t ls = pos;
		if (pos == body.len)
			break;
		sv line = line_at(body, &pos);
		bool delim = line.len >= 2 + blen && line.p[0] == '-' && line.p[1] == '-'
			&& memcmp(line.p + 2, mp->boundary.p, blen) == 0;
		if (!delim)
			continue;
		sv after = sv_sub(line, 2 + blen, line.len);
		bool close = after.len >= 2 && after.p[0] == '-' && after.p[1] == '-';
		if (inside) {
			/* the line end before the delimiter belongs to it */
			size_t end = ls;
			if (end > start && body.p[end - 1] == '\n')
				end--;
			if (end > start && body.p[end - 1] == '\r')
				end--;
			bool sub_cover = cover && (all_cover || index == 0);
			acl_result r = walk_part(w, sv_range(body, start, end), false, sub_cover, mp->is_rfc822, depth + 1);
			if (r != ACL_OK)
				return r;
			index++;
		}
		if (close)
			return ACL_OK;
		inside = true;
		start = pos;
	}
	if (inside && start < body.len) { /* an unterminated last part is still a part */
		bool sub_cover = cover && (all_cover || index == 0);
		return walk_part(w, sv_sub(body, start, body.len), false, sub_cover, mp->is_rfc822, depth + 1);
	}
	return ACL_OK;
}

static acl_result walk_part(mime_walk *w, sv part, bool headers_are_message, bool cover, bool rfc822, int depth)
{
	acl_ctx *c = w->c;
	acl_engine *e = acl_engine_of(c);
	arena *a = e->a;
	(void)headers_are_message;
	if (depth > MIME_MAX_DEPTH || ++w->total > MIME_MAX_PARTS)
		return ACL_OK; /* deeper structure is not looked into */
	sv headers, body;
	split_part(part, &headers, &body);
	acl_mime_part *p = arena_calloc(a, 1, sizeof *p);
	sv ct = header_value(a, headers, "Content-Type");
	sv cd = header_value(a, headers, "Content-Disposition");
	p->content_type = main_value(a, ct);
	p->content_disposition = main_value(a, cd);
	p->content_transfer_encoding = main_value(a, header_value(a, headers, "Content-Transfer-Encoding"));
	p->content_id = main_value(a, header_value(a, headers, "Content-ID"));
	p->content_description = main_value(a, header_value(a, headers, "Content-Description"));
	p->charset = ct.p ? param_value(a, ct, "charset") : SV_LIT("");
	p->boundary = ct.p ? param_value(a, ct, "boundary") : SV_LIT("");
	p->filename = cd.p ? param_value(a, cd, "filename") : SV_LIT("");
	if (!p->filename.len && ct.p)
		p->filename = param_value(a, ct, "name");
	p->is_multipart = sv_starts(p->content_type, "multipart/");
	p->is_rfc822 = rfc822;
	p->is_coverletter = cover;
	p->raw = body;

	acl_mime_part *saved = e->mime;
	e->mime = p;
	e->mime_count = w->count++;
	e->mime_count_set = true;
	acl_ctx_begin(c, c->where);
	acl_result r = acl_check(c, w->spec);
	e->mime = saved;
	if (r != ACL_OK)
		return r;
	if (p->is_multipart && p->boundary.len)
		return walk_multipart(w, p, cover, depth);
	if (sv_eq_cstr(p->content_type, "message/rfc822")) {
		/* an attached message: walked as a message of its own, with its own part count */
		sv inner = part_decoded(a, p);
		int saved_count = w->count;
		w->count = 0;
		r = walk_part(w, inner, true, true, true, depth + 1);
		w->count = saved_count;
		e->mime_count = saved_count - 1; /* the outer message's count again */
		return r;
	}
	return ACL_OK;
}

acl_result acl_mime_check(acl_ctx *c, sv spec, sv message)
{
	acl_engine *e = acl_engine_of(c);
	sv headers, body;
	split_part(message, &headers, &body);
	if (!spec.len || !header_value(e->a, headers, "Content-Type").p) {
		e->mime_count = -1; /* not a MIME message: the ACL is not run */
		e->mime_count_set = true;
		return ACL_OK;
	}
	mime_walk w = { .c = c, .spec = spec };
	e->mime_walk = &w;
	acl_result r = walk_part(&w, message, true, true, false, 0);
	e->mime_walk = NULL;
	e->mime = NULL;
	return r;
}
