/* Certificate fields and fingerprints for expansions (see cert.h).
 *
 * Output formats are those of Exim 4.96 built with OpenSSL, learnt from its documented
 * behaviour and test-suite output:
 *   version        X509 version number as stored, so "2" for a v3 certificate
 *   serial_number  lower-case hex of the serial's bytes ("c9", "0abcdef0123456789a")
 *   subject/issuer RFC 2253 form, most specific RDN first ("CN=x,O=y"); a modifier naming an
 *                  RDN type selects those values as a list (newline-separated, ">c" changes it)
 *   notbefore/..   "Nov  1 12:34:04 2012 +0000" in the configured timezone; ",int" seconds since
 *                  the epoch; ",raw" OpenSSL's own form ("Nov  1 12:34:04 2012 GMT")
 *   sig_algorithm  OpenSSL's long name ("sha256WithRSAEncryption")
 *   signature      the hex dump OpenSSL prints: 9-space indent, 18 bytes a line, final newline
 *   subj_altname   "DNS=a\nURI=b\nMAIL=c" (last entry first, as Exim walks the stack from its
 *                  top); ",dns" ",uri" ",mail" select one kind without the tags
 *   ocsp_uri, crl_uri  lists of the URIs in the certificate's order
 * An empty result counts as "not found", so the item's "no" branch is taken.
 */
#include "expand/cert.h"

#include <string.h>
#include <time.h>

#include "build_config.h"
#include "expand/expand.h"
#include "lib/codec.h"
#include "lib/list.h"

static const char *const cert_vars[] = {
	"tls_in_ourcert", "tls_in_peercert", "tls_out_ourcert", "tls_out_peercert",
};

bool xp_cert_var(sv name)
{
	for (size_t i = 0; i < sizeof cert_vars / sizeof cert_vars[0]; i++)
		if (sv_eq_cstr(name, cert_vars[i])) return true;
	return false;
}

bool xp_cert_op_applies(sv op)
{
	return sv_eq_cstr(op, "md5") || sv_eq_cstr(op, "sha1") || sv_eq_cstr(op, "sha256") ||
		sv_eq_cstr(op, "base64");
}

#if SUPPORT_OPENSSL

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Certificates held in variables are small; anything bigger is not one of ours. */
#define CERT_PEM_MAX (256 * 1024)

static X509 *cert_parse(sv pem)
{
	if (!pem.len || pem.len > CERT_PEM_MAX) return NULL;
	BIO *b = BIO_new_mem_buf(pem.p, (int)pem.len);
	if (!b) return NULL;
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

/* The modifiers after the field name, comma-separated: ">c" sets the output separator to c (so
 * ">," makes a comma-separated list; sep is untouched when there is none), every other word is
 * handed to item() in order. */
static void each_modifier(sv mods, char *sep, void (*item)(void *ctx, sv word), void *ctx)
{
	size_t i = 0;
	while (i < mods.len) {
		if (mods.p[i] == '>') {
			if (i + 1 < mods.len) *sep = mods.p[i + 1];
			i += 2;
		} else {
			size_t start = i;
			while (i < mods.len && mods.p[i] != ',') i++;
			sv word = sv_trim(sv_make(mods.p + start, i - start));
			if (item) item(ctx, word);
		}
		if (i < mods.len && mods.p[i] == ',') i++;
	}
}

static void put_bio(BIO *b, xbuf *out)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	if (n > 0) xbuf_put(out, p, (size_t)n);
}

/* ---- names ------------------------------------------------------------------------------- */

static void dn_string(X509_NAME *name, xbuf *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b) return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) put_bio(b, out);
	BIO_free(b);
}

/* The RDN type to select: the last modifier that is not a separator setting. */
static void take_tag(void *ctx, sv word)
{
	xbuf *tag = ctx;
	xbuf_reset(tag);
	xbuf_putsv(tag, word);
	xbuf_putc(tag, 0);   /* marks "given" even for an empty word; not part of the tag */
}

/* Select the values of one RDN type from the RFC 2253 string. The string is read as an Exim
 * comma list once an escaped comma ("\,") has become a doubled one, so a value holding a comma
 * comes out whole. */
static void dn_select(sv dn, sv mods, xbuf *out)
{
	char sep = '\n';
	xbuf tagbuf;
	xbuf_init(&tagbuf, NULL);
	each_modifier(mods, &sep, take_tag, &tagbuf);
	bool have_tag = tagbuf.len > 0;
	sv tag = have_tag ? sv_make(tagbuf.p, tagbuf.len - 1) : SV_NULL;

	xbuf list;
	xbuf_init(&list, NULL);
	for (size_t i = 0; i < dn.len; i++) {
		if (dn.p[i] == '\\' && i + 1 < dn.len && dn.p[i + 1] == ',') {
			xbuf_puts(&list, ",,");
			i++;
		} else {
			xbuf_putc(&list, dn.p[i]);
		}
	}
	list_iter it;
	list_iter_init(&it, xbuf_sv(&list), ',');
	xbuf w;
	xbuf_init(&w, NULL);
	bool any = false;
	while (list_next(&it, &w)) {
		sv ele = xbuf_sv(&w);
		if (have_tag) {
			if (ele.len <= tag.len || memcmp(ele.p, tag.p, tag.len) != 0 || ele.p[tag.len] != '=')
				continue;
			ele = sv_sub(ele, tag.len + 1, ele.len - tag.len - 1);
		}
		if (any) xbuf_putc(out, sep);
		for (size_t k = 0; k < ele.len; k++) {   /* a separator inside a value is doubled */
			if (ele.p[k] == sep) xbuf_putc(out, sep);
			xbuf_putc(out, ele.p[k]);
		}
		any = true;
	}
	xbuf_free(&w);
	xbuf_free(&list);
	xbuf_free(&tagbuf);
}

static void field_name(X509_NAME *name, sv mods, bool has_mods, xbuf *out)
{
	xbuf dn;
	xbuf_init(&dn, NULL);
	dn_string(name, &dn);
	if (has_mods) dn_select(xbuf_sv(&dn), mods, out);
	else xbuf_putsv(out, xbuf_sv(&dn));
	xbuf_free(&dn);
}

/* ---- times ------------------------------------------------------------------------------- */

static void field_time(const ASN1_TIME *t, sv mods, xbuf *out)
{
	if (!t) return;
	if (sv_eq_cstr(mods, "raw")) {
		BIO *b = BIO_new(BIO_s_mem());
		if (!b) return;
		if (ASN1_TIME_print(b, t) == 1) put_bio(b, out);
		BIO_free(b);
		return;
	}
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (ASN1_TIME_to_tm(t, &tm) != 1) return;
	time_t secs = timegm(&tm);
	if (sv_eq_cstr(mods, "int")) {
		xbuf_printf(out, "%lld", (long long)secs);
		return;
	}
	struct tm local;
	char buf[64];
	if (!localtime_r(&secs, &local)) return;
	size_t n = strftime(buf, sizeof buf, "%b %e %T %Y %z", &local);
	xbuf_put(out, buf, n);
}

/* ---- the rest ---------------------------------------------------------------------------- */

static void field_serial(X509 *x, xbuf *out)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(x);
	if (!s) return;
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s);
	if (ASN1_STRING_type(s) == V_ASN1_NEG_INTEGER) xbuf_putc(out, '-');
	if (n <= 0) xbuf_puts(out, "00");
	for (int i = 0; i < n; i++) xbuf_printf(out, "%02x", d[i]);
}

static void field_sig_algorithm(X509 *x, xbuf *out)
{
	const X509_ALGOR *alg;
	const ASN1_BIT_STRING *sig;
	X509_get0_signature(&sig, &alg, x);
	const ASN1_OBJECT *obj;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	int nid = OBJ_obj2nid(obj);
	if (nid != NID_undef) {
		xbuf_puts(out, OBJ_nid2ln(nid));
	} else {
		char buf[128];
		int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
		if (n > 0) xbuf_put(out, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	}
}

static void field_signature(X509 *x, xbuf *out)
{
	const X509_ALGOR *alg;
	const ASN1_BIT_STRING *sig;
	X509_get0_signature(&sig, &alg, x);
	if (!sig) return;
	const unsigned char *d = ASN1_STRING_get0_data(sig);
	int n = ASN1_STRING_length(sig);
	for (int i = 0; i < n; i++) {
		if (i % 18 == 0) {
			if (i) xbuf_putc(out, '\n');
			xbuf_puts(out, "         ");
		}
		xbuf_printf(out, "%02x%s", d[i], i + 1 == n ? "" : ":");
	}
	if (n > 0) xbuf_putc(out, '\n');
}

/* An element of a built list: the separator goes between, and is doubled inside. */
static void list_add(xbuf *out, char sep, bool *any, const char *tag, const unsigned char *p, int len)
{
	if (*any) xbuf_putc(out, sep);
	*any = true;
	if (tag) xbuf_printf(out, "%s=", tag);
	for (int i = 0; i < len; i++) {
		if (p[i] == (unsigned char)sep) xbuf_putc(out, sep);
		xbuf_putc(out, (char)p[i]);
	}
}

typedef struct san_mods {
	int only;   /* GEN_* or -1 */
} san_mods;

static void san_modifier(void *ctx, sv word)
{
	san_mods *m = ctx;
	if (sv_eq_cstr(word, "dns")) m->only = GEN_DNS;
	else if (sv_eq_cstr(word, "uri")) m->only = GEN_URI;
	else if (sv_eq_cstr(word, "mail")) m->only = GEN_EMAIL;
}

static void field_altname(X509 *x, sv mods, xbuf *out)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (!names) return;
	char sep = '\n';
	san_mods m = { -1 };
	each_modifier(mods, &sep, san_modifier, &m);
	bool any = false;
	for (int i = sk_GENERAL_NAME_num(names) - 1; i >= 0; i--) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		const char *tag;
		const ASN1_IA5STRING *s;
		switch (gn->type) {
		case GEN_DNS: tag = "DNS"; s = gn->d.dNSName; break;
		case GEN_URI: tag = "URI"; s = gn->d.uniformResourceIdentifier; break;
		case GEN_EMAIL: tag = "MAIL"; s = gn->d.rfc822Name; break;
		default: continue;   /* IP addresses and other kinds are not shown */
		}
		if (m.only != -1 && m.only != gn->type) continue;
		const unsigned char *p = ASN1_STRING_get0_data(s);
		int len = ASN1_STRING_length(s);
		if (memchr(p, 0, (size_t)len)) continue;   /* an embedded NUL: not a usable name */
		list_add(out, sep, &any, m.only == -1 ? tag : NULL, p, len);
	}
	GENERAL_NAMES_free(names);
}

static void field_ocsp_uri(X509 *x, sv mods, xbuf *out)
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	if (!aia) return;
	char sep = '\n';
	each_modifier(mods, &sep, NULL, NULL);
	bool any = false;
	for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		if (OBJ_obj2nid(ad->method) != NID_ad_OCSP || ad->location->type != GEN_URI) continue;
		const ASN1_IA5STRING *s = ad->location->d.uniformResourceIdentifier;
		list_add(out, sep, &any, NULL, ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
	}
	AUTHORITY_INFO_ACCESS_free(aia);
}

static void field_crl_uri(X509 *x, sv mods, xbuf *out)
{
	CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	if (!dps) return;
	char sep = '\n';
	each_modifier(mods, &sep, NULL, NULL);
	bool any = false;
	for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
		const DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (!dp->distpoint || dp->distpoint->type != 0) continue;   /* fullName only */
		GENERAL_NAMES *names = dp->distpoint->name.fullname;
		for (int j = 0; j < sk_GENERAL_NAME_num(names); j++) {
			const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
			if (gn->type != GEN_URI) continue;
			const ASN1_IA5STRING *s = gn->d.uniformResourceIdentifier;
			list_add(out, sep, &any, NULL, ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
		}
	}
	CRL_DIST_POINTS_free(dps);
}

enum cert_field {
	F_VERSION, F_SERIAL, F_SUBJECT, F_ISSUER, F_NOTBEFORE, F_NOTAFTER, F_SIGALG, F_SIGNATURE,
	F_ALTNAME, F_OCSP, F_CRL,
};
static const struct { const char *name; enum cert_field f; } fields[] = {
	{ "version", F_VERSION }, { "serial_number", F_SERIAL }, { "subject", F_SUBJECT },
	{ "issuer", F_ISSUER }, { "notbefore", F_NOTBEFORE }, { "notafter", F_NOTAFTER },
	{ "sig_algorithm", F_SIGALG }, { "signature", F_SIGNATURE }, { "subj_altname", F_ALTNAME },
	{ "ocsp_uri", F_OCSP }, { "crl_uri", F_CRL },
};

int xp_cert_extract(sv field, sv pem, xbuf *out, xbuf *err)
{
	const char *comma = memchr(field.p, ',', field.len);
	sv name = comma ? sv_make(field.p, (size_t)(comma - field.p)) : field;
	sv mods = comma ? sv_sub(field, name.len + 1, field.len - name.len - 1) : sv_make("", 0);
	int which = -1;
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (sv_eq_cstr(name, fields[i].name)) which = (int)fields[i].f;
	if (which < 0) {
		xbuf_printf(err, "bad field selector \"" SV_FMT "\" for certextract", SV_ARG(field));
		return XP_ERROR;
	}
	X509 *x = cert_parse(pem);
	if (!x) return XP_FORCEFAIL;
	size_t start = out->len;
	switch ((enum cert_field)which) {
	case F_VERSION: xbuf_printf(out, "%ld", X509_get_version(x)); break;
	case F_SERIAL: field_serial(x, out); break;
	case F_SUBJECT: field_name(X509_get_subject_name(x), mods, comma != NULL, out); break;
	case F_ISSUER: field_name(X509_get_issuer_name(x), mods, comma != NULL, out); break;
	case F_NOTBEFORE: field_time(X509_get0_notBefore(x), mods, out); break;
	case F_NOTAFTER: field_time(X509_get0_notAfter(x), mods, out); break;
	case F_SIGALG: field_sig_algorithm(x, out); break;
	case F_SIGNATURE: field_signature(x, out); break;
	case F_ALTNAME: field_altname(x, mods, out); break;
	case F_OCSP: field_ocsp_uri(x, mods, out); break;
	case F_CRL: field_crl_uri(x, mods, out); break;
	}
	X509_free(x);
	if (out->len == start) return XP_FORCEFAIL;
	out->taint |= pem.taint;
	return XP_OK;
}

int xp_cert_op(sv op, sv pem, xbuf *out, xbuf *err)
{
	X509 *x = cert_parse(pem);
	if (!x) {
		xbuf_puts(err, "certificate variable does not hold a certificate");
		return XP_ERROR;
	}
	int rc = XP_OK;
	if (sv_eq_cstr(op, "base64")) {
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);
		if (n > 0) codec_b64_encode(sv_make((const char *)der, (size_t)n), out);
		OPENSSL_free(der);
	} else {
		const EVP_MD *md = sv_eq_cstr(op, "md5") ? EVP_md5() : sv_eq_cstr(op, "sha1") ? EVP_sha1() : EVP_sha256();
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		if (X509_digest(x, md, d, &n) != 1) {
			xbuf_puts(err, "certificate fingerprint failed");
			rc = XP_ERROR;
		}
		for (unsigned int i = 0; rc == XP_OK && i < n; i++) xbuf_printf(out, "%02X", d[i]);
	}
	X509_free(x);
	out->taint |= pem.taint;
	return rc;
}

#else /* !SUPPORT_OPENSSL: no TLS, so no certificate can be held */

int xp_cert_extract(sv field, sv pem, xbuf *out, xbuf *err)
{
	(void)field; (void)pem; (void)out; (void)err;
	return XP_FORCEFAIL;
}

int xp_cert_op(sv op, sv pem, xbuf *out, xbuf *err)
{
	(void)op; (void)pem; (void)out;
	xbuf_puts(err, "certificates are not supported in this build");
	return XP_ERROR;
}

#endif
