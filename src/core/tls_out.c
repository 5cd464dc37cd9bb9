/* $tls_out_* from the process-wide outgoing TLS facts (src/core/tls_out.h). The variables are
 * a registered table (asked before the expansion engine's TLS-less defaults). */
#include "core/tls_out.h"

#include <stdlib.h>
#include <string.h>

#include "expand/expand.h"

tls_out_state tls_out;

static void put_int(xbuf *out, int v)
{
	xbuf_printf(out, "%d", v);
}

/* $tls_out_peercert and friends carry the taint of their origin (the network). */
static void v_cipher(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; xbuf_putsv(out, tls_out.cipher); }
static void v_ver(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; xbuf_putsv(out, tls_out.ver); }
static void v_peerdn(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; xbuf_putsv(out, tls_out.peerdn); }
static void v_peercert(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; xbuf_putsv(out, tls_out.peercert); }
static void v_ourcert(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; xbuf_putsv(out, tls_out.ourcert); }
static void v_sni(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; xbuf_putsv(out, tls_out.sni); }
static void v_bits(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; put_int(out, tls_out.bits); }
static void v_verified(xp_env *e, const xp_var_def *d, xbuf *out)
{
	(void)e; (void)d;
	put_int(out, tls_out.certificate_verified ? 1 : 0);
}
static void v_ocsp(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; put_int(out, tls_out.ocsp); }
static void v_resumption(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; put_int(out, (int)tls_out.resumption); }
static void v_dane(xp_env *e, const xp_var_def *d, xbuf *out)
{
	(void)e; (void)d;
	xbuf_putsv(out, tls_out.dane.len ? tls_out.dane : SV_LIT("no"));
}
static void v_tlsa(xp_env *e, const xp_var_def *d, xbuf *out) { (void)e; (void)d; put_int(out, tls_out.tlsa_usage); }

static const xp_var_def vars[] = {
	{ "tls_out_bits", v_bits, NULL },
	{ "tls_out_certificate_verified", v_verified, NULL },
	{ "tls_out_cipher", v_cipher, NULL },
	{ "tls_out_dane", v_dane, NULL },
	{ "tls_out_ocsp", v_ocsp, NULL },
	{ "tls_out_ourcert", v_ourcert, NULL },
	{ "tls_out_peercert", v_peercert, NULL },
	{ "tls_out_peerdn", v_peerdn, NULL },
	{ "tls_out_resumption", v_resumption, NULL },
	{ "tls_out_sni", v_sni, NULL },
	{ "tls_out_tlsa_usage", v_tlsa, NULL },
	{ "tls_out_ver", v_ver, NULL },
};

void tls_out_register(void)
{
	static bool done;
	if (done) return;
	done = true;
	xp_var_register(vars, sizeof vars / sizeof vars[0]);
}

/* The strings are the process's own copies (malloc), freed when replaced: a queue run makes
 * many connections in one process, and no arena lives exactly as long as a session. */
static sv keep(sv s)
{
	if (!s.len) return SV_NULL;
	char *p = malloc(s.len + 1);
	if (!p) return SV_NULL;
	memcpy(p, s.p, s.len);
	p[s.len] = 0;
	sv out = sv_make(p, s.len);
	out.taint = s.taint;
	return out;
}

static void drop(sv *s)
{
	free((char *)s->p);
	*s = SV_NULL;
}

void tls_out_clear(void)
{
	drop(&tls_out.cipher);
	drop(&tls_out.ver);
	drop(&tls_out.peerdn);
	drop(&tls_out.peercert);
	drop(&tls_out.ourcert);
	drop(&tls_out.sni);
	drop(&tls_out.dane);
	tls_out = (tls_out_state){ 0 };
}

void tls_out_set(const tls_out_state *s)
{
	tls_out_register();
	tls_out_clear();
	tls_out = *s;
	tls_out.cipher = keep(s->cipher);
	tls_out.ver = keep(s->ver);
	tls_out.peerdn = keep(s->peerdn);
	tls_out.peercert = keep(s->peercert);
	tls_out.ourcert = keep(s->ourcert);
	tls_out.sni = keep(s->sni);
	tls_out.dane = keep(s->dane);
}

/* The bits are the cipher text's last field ("TLS1.3:TLS_AES_256_GCM_SHA384:256"). */
static int cipher_bits(sv c)
{
	size_t k = c.len;
	while (k > 0 && c.p[k - 1] != ':')
		k--;
	long long bits = 0;
	if (k == 0 || k == c.len || !sv_to_long(sv_sub(c, k, c.len), &bits) || bits < 0 || bits > 65536)
		return 0;
	return (int)bits;
}

void tls_out_from_addr(const address_item *a)
{
	if (!a->tls_used) {
		tls_out_clear();
		return;
	}
	tls_out_state s = {
		.active = true,
		.cipher = a->tls_cipher,
		.ver = a->tls_ver,
		.peerdn = a->tls_peerdn,
		.peercert = a->tls_peercert,
		.sni = a->tls_sni,
		.bits = cipher_bits(a->tls_cipher),
		.certificate_verified = a->tls_certificate_verified,
		.ocsp = a->tls_ocsp,
		.resumption = a->tls_resumption,
		.dane = a->tls_dane_verified ? SV_LIT("yes") : SV_LIT("no"),
		.tlsa_usage = a->tls_tlsa_usage,
		.ourcert = a->tls_ourcert,
	};
	tls_out_set(&s);
}
