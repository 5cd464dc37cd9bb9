/* The transport child -> delivery process record protocol: round trips of every field, and
 * garbage of every kind (truncation at each byte, flipped bytes, wrong index, repeated record,
 * non-final result, oversized length) never marks an address as reported. */
#include <string.h>

#include "core/deliver_internal.h"
#include "lib/arena.h"
#include "../unit.h"

static address_item *mk(const char *addr)
{
	address_item *a = arena_calloc(pool_msg, 1, sizeof *a);
	a->address = sv_cstr(addr);
	a->host_used_mx = -1;
	return a;
}

static void full(address_item *a)
{
	a->result = ADDR_FAIL;
	a->basic_errno = -44;
	a->more_errno = 550;
	a->message = sv_tainted(SV_LIT("SMTP error from remote mail server after RCPT TO:<x@y>: 550 no"));
	a->host_used_name = SV_LIT("mx.example");
	a->host_used_address = SV_LIT("192.0.2.1");
	a->host_used_port = 2525;
	a->host_used_mx = 10;
	a->sending_address = SV_LIT("192.0.2.9");
	a->sending_port = 40000;
	a->confirmation = sv_tainted(SV_LIT("250 OK id=1"));
	a->smtp_response = sv_tainted(SV_LIT("550 5.1.1 no"));
	a->smtp_greeting = sv_tainted(SV_LIT("220 mx ESMTP"));
	a->helo_response = sv_tainted(SV_LIT("250-mx hello\n250 SIZE"));
	a->tls_used = true;
	a->tls_cipher = SV_LIT("TLS1.3:X");
	a->tls_peerdn = sv_tainted(SV_LIT("/CN=mx.example"));
	a->tls_certificate_verified = true;
	a->tls_dane_verified = true;
	a->tls_ocsp = 4;
	a->tls_resumption = 31;
	a->tls_ver = SV_LIT("TLS1.3");
	a->tls_sni = SV_LIT("mx.example");
	a->tls_peercert = sv_tainted(SV_LIT("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"));
	a->freeze = true;
	a->retry_timedout = true;
	a->delivery_detail = SV_LIT("QT=1s");
	addr_retry *r2 = arena_calloc(pool_msg, 1, sizeof *r2);
	r2->key = SV_LIT("R:x@y");
	r2->remove = true;
	addr_retry *r1 = arena_calloc(pool_msg, 1, sizeof *r1);
	r1->key = SV_LIT("T:mx.example:192.0.2.1+2525");
	r1->basic_errno = 111;
	r1->text = SV_LIT("Connection refused");
	r1->is_host = true;
	r1->next = r2;
	a->retries = r1;
}

static void test_roundtrip(void)
{
	address_item *src = mk("x@y");
	full(src);
	address_item *src2 = mk("z@y");
	src2->result = ADDR_OK;
	xbuf b;
	xbuf_init(&b, pool_msg);
	dres_encode(&b, 1, src);
	dres_encode(&b, 0, src2);
	address_item *dst[2] = { mk("x@y"), mk("z@y") };
	bool got[2] = { false, false };
	xbuf err;
	xbuf_init(&err, pool_msg);
	CHECK(dres_decode(pool_msg, b.p, b.len, dst, got, 2, &err));
	CHECK(got[0] && got[1]);
	address_item *d = dst[1];
	CHECK_INT(d->result, ADDR_FAIL);
	CHECK_INT(d->basic_errno, -44);
	CHECK_INT(d->more_errno, 550);
	CHECK(sv_eq(d->message, src->message) && d->message.taint);
	CHECK(sv_eq_cstr(d->host_used_name, "mx.example") && !d->host_used_name.taint);
	CHECK_INT(d->host_used_port, 2525);
	CHECK_INT(d->host_used_mx, 10);
	CHECK_INT(d->sending_port, 40000);
	CHECK(sv_eq_cstr(d->helo_response, "250-mx hello\n250 SIZE") && d->helo_response.taint);
	CHECK(d->tls_used && d->freeze && d->retry_timedout && !d->retry_skipped);
	/* The outgoing TLS session's facts (CV=, X=...*, $tls_out_*). */
	CHECK(d->tls_certificate_verified && d->tls_dane_verified);
	CHECK_INT(d->tls_ocsp, 4);
	CHECK_INT(d->tls_resumption, 31);
	CHECK(sv_eq_cstr(d->tls_ver, "TLS1.3") && sv_eq_cstr(d->tls_sni, "mx.example"));
	CHECK(sv_eq(d->tls_peerdn, src->tls_peerdn) && d->tls_peerdn.taint);
	CHECK(sv_eq(d->tls_peercert, src->tls_peercert) && d->tls_peercert.taint);
	CHECK(!dst[0]->tls_used && !dst[0]->tls_certificate_verified && dst[0]->tls_ver.len == 0);
	CHECK(d->retries && d->retries->is_host && d->retries->basic_errno == 111);
	CHECK(d->retries && d->retries->next && d->retries->next->remove && !d->retries->next->next);
	CHECK(sv_eq_cstr(d->delivery_detail, "QT=1s"));
	CHECK_INT(dst[0]->result, ADDR_OK);
	CHECK(!dst[0]->message.len);
}

/* Cut the stream at every length: only complete records count, nothing crashes. */
static void test_truncation(void)
{
	address_item *src = mk("x@y");
	full(src);
	xbuf b;
	xbuf_init(&b, pool_msg);
	dres_encode(&b, 0, src);
	size_t one = b.len;
	dres_encode(&b, 1, src);
	int bad = 0;
	for (size_t cut = 0; cut < b.len; cut++) {
		address_item *dst[2] = { mk("a"), mk("b") };
		bool got[2] = { false, false };
		xbuf err;
		xbuf_init(&err, pool_msg);
		bool ok = dres_decode(pool_msg, b.p, cut, dst, got, 2, &err);
		/* Complete: true with the first record when cut is exactly at its end (or 0). */
		bool want_ok = cut == 0 || cut == one;
		if (ok != want_ok || got[1] || got[0] != (cut >= one))
			bad++;
		if (!got[0] && dst[0]->result != ADDR_PENDING)
			bad++;
	}
	CHECK_INT(bad, 0);
}

/* Flip each byte: the record is refused (checksum, magic or length), never applied wrongly. */
static void test_corruption(void)
{
	address_item *src = mk("x@y");
	full(src);
	xbuf b;
	xbuf_init(&b, pool_msg);
	dres_encode(&b, 0, src);
	int applied = 0;
	for (size_t i = 0; i < b.len; i++) {
		char *copy = arena_alloc(pool_msg, b.len);
		memcpy(copy, b.p, b.len);
		copy[i] ^= 0x5a;
		address_item *dst[1] = { mk("a") };
		bool got[1] = { false };
		xbuf err;
		xbuf_init(&err, pool_msg);
		if (dres_decode(pool_msg, copy, b.len, dst, got, 1, &err) || got[0])
			applied++;
	}
	CHECK_INT(applied, 0);
}

static void test_semantic_garbage(void)
{
	address_item *src = mk("x@y");
	src->result = ADDR_OK;
	xbuf b, err;
	xbuf_init(&err, pool_msg);
	/* index beyond the batch */
	xbuf_init(&b, pool_msg);
	dres_encode(&b, 5, src);
	address_item *dst[2] = { mk("a"), mk("b") };
	bool got[2] = { false, false };
	CHECK(!dres_decode(pool_msg, b.p, b.len, dst, got, 2, &err));
	CHECK(!got[0] && !got[1]);
	/* the same address twice */
	xbuf_init(&b, pool_msg);
	dres_encode(&b, 0, src);
	dres_encode(&b, 0, src);
	got[0] = got[1] = false;
	xbuf_reset(&err);
	CHECK(!dres_decode(pool_msg, b.p, b.len, dst, got, 2, &err));
	CHECK(strstr(xbuf_cstr(&err), "second record") != NULL);
	/* a result that is not final */
	src->result = ADDR_PENDING;
	xbuf_init(&b, pool_msg);
	dres_encode(&b, 0, src);
	got[0] = got[1] = false;
	address_item *d2[1] = { mk("a") };
	CHECK(!dres_decode(pool_msg, b.p, b.len, d2, got, 1, &err));
	CHECK(!got[0]);
	/* a huge declared length */
	static const char huge[] = "DRES\xff\xff\xff\x7f" "abcd";
	got[0] = false;
	CHECK(!dres_decode(pool_msg, huge, sizeof huge - 1, d2, got, 1, &err));
	/* random text */
	CHECK(!dres_decode(pool_msg, "hello world", 11, d2, got, 1, &err));
	CHECK(!got[0]);
}

int main(void)
{
	arena_init_pools();
	RUN(test_roundtrip);
	RUN(test_truncation);
	RUN(test_corruption);
	RUN(test_semantic_garbage);
	return unit_report("test_deliver_result");
}
