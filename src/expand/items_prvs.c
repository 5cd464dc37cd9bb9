/* ${prvs}, ${prvscheck} (BATV signed return paths) and ${imapfolder} (folder name to Maildir
 * name in IMAP's modified UTF-7). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "expand/ops/ops.h"
#include "expand/xp_internal.h"

/* Day number as prvs uses it: days since the epoch, mod 1000. */
static int prvs_day(int offset)
{
	return (int)(((long long)time(NULL) / 86400 + offset) % 1000);
}

/* The six hex digits of the signature: HMAC-SHA1 of key digit, day and address. */
static bool prvs_hash(arena *a, sv address, sv secret, char keynum, const char *day, xbuf *hex, xbuf *err)
{
	xbuf data;
	xbuf_init(&data, a);
	xbuf_putc(&data, keynum);
	xbuf_puts(&data, day);
	xbuf_putsv(&data, address);
	xbuf full;
	xbuf_init(&full, a);
	if (!xp_hmac(SV_LIT("sha1"), secret, xbuf_sv(&data), &full, err))
		return false;
	xbuf_reset(hex);
	xbuf_put(hex, full.p, full.len < 6 ? full.len : 6);
	return true;
}

int xp_item_prvs(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[3] = { SV_NULL, SV_NULL, SV_NULL };
	for (int i = 0; i < n->nargs; i++) {
		int rc = xp_eval_arg(n->args[i], env, skip, &a[i], err);
		if (rc != XP_OK)
			return rc;
	}
	if (skip)
		return XP_OK;
	const char *at = memchr(a[0].p, '@', a[0].len);
	if (!at || at == a[0].p || at == a[0].p + a[0].len - 1) {
		xp_err(err, "prvs first argument must be a qualified email address");
		return XP_ERROR;
	}
	char keynum = '0';
	if (n->nargs > 2) {
		if (a[2].len != 1 || !isdigit((unsigned char)a[2].p[0])) {
			xp_err(err, "prvs third argument must be a single digit");
			return XP_ERROR;
		}
		keynum = a[2].p[0];
	}
	char day[8];
	snprintf(day, sizeof day, "%03d", prvs_day(7));
	xbuf hex;
	xbuf_init(&hex, env->a);
	xbuf_reset(err);
	if (!prvs_hash(env->a, a[0], a[1], keynum, day, &hex, err))
		return XP_ERROR;
	xbuf_printf(out, "prvs=%c%s%s=" SV_FMT, keynum, day, xbuf_cstr(&hex), SV_ARG(a[0]));
	out->taint |= a[0].taint;
	return XP_OK;
}

/* Provider for $prvscheck_address/$prvscheck_keynum while prvscheck's arguments expand. */
typedef struct prvs_vars {
	sv address, keynum, result;
} prvs_vars;

static bool prvs_get(void *ctx, sv name, xbuf *out)
{
	prvs_vars *v = ctx;
	if (sv_eq_cstr(name, "prvscheck_address"))
		xbuf_putsv(out, v->address);
	else if (sv_eq_cstr(name, "prvscheck_keynum"))
		xbuf_putsv(out, v->keynum);
	else if (sv_eq_cstr(name, "prvscheck_result"))
		xbuf_putsv(out, v->result);
	else
		return false;
	return true;
}

/* $prvscheck_result stays set after the item: a provider the environment keeps, with one buffer
 * rewritten by each prvscheck (env->state lasts the whole SMTP connection: a copy per check
 * grew it with every message). */
typedef struct prvs_lasting {
	sv value;
	xbuf buf;
} prvs_lasting;

static bool prvs_result_get(void *ctx, sv name, xbuf *out)
{
	if (!sv_eq_cstr(name, "prvscheck_result"))
		return false;
	xbuf_putsv(out, ((prvs_lasting *)ctx)->value);
	return true;
}

static void set_lasting_result(xp_env *env, sv result)
{
	prvs_lasting *l = NULL;
	for (xp_provider *p = env->providers; p && !l; p = p->next)
		if (p->get == prvs_result_get)
			l = p->ctx;
	if (!l) {
		l = arena_calloc(env->state, 1, sizeof *l);
		xbuf_init(&l->buf, env->state);
		xp_provider *p = arena_calloc(env->state, 1, sizeof *p);
		p->get = prvs_result_get;
		p->ctx = l;
		xp_env_push_provider(env, p);
	}
	xbuf_reset(&l->buf);
	xbuf_putsv(&l->buf, result);
	l->value = xbuf_sv(&l->buf);
}

int xp_item_prvscheck(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv addr;
	int rc = xp_eval_arg(n->args[0], env, skip, &addr, err);
	if (rc != XP_OK)
		return rc;
	if (n->nargs < 2) {
		xp_err(err, "Not enough arguments for 'prvscheck' (min is 1)"); /* sic: Exim's count */
		return XP_ERROR;
	}
	/* prvs=KDDDHHHHHH=local@domain, case-insensitive prefix and hex. */
	bool valid = addr.len > 17 && strncasecmp(addr.p, "prvs=", 5) == 0 && addr.p[15] == '=';
	for (int i = 5; valid && i < 15; i++)
		valid = i < 9 ? isdigit((unsigned char)addr.p[i]) : isxdigit((unsigned char)addr.p[i]);
	sv plain = valid ? sv_sub(addr, 16, addr.len) : SV_NULL;
	if (valid) {
		const char *at = memchr(plain.p, '@', plain.len);
		valid = at && at != plain.p && at != plain.p + plain.len - 1;
	}
	if (skip || !valid) {
		/* Not a prvs address: the rest is skipped and the result is empty. */
		xbuf junk;
		xbuf_init(&junk, env->a);
		for (int i = 1; i < n->nargs && rc == XP_OK; i++)
			rc = xp_eval_seq(n->args[i], env, true, &junk, err);
		return rc;
	}
	prvs_vars vars = { .address = plain, .keynum = sv_sub(addr, 5, 1), .result = SV_NULL };
	xp_provider prov = { .get = prvs_get, .ctx = &vars };
	xp_env_push_provider(env, &prov);
	sv secret = SV_NULL;
	if (n->nargs > 1)
		rc = xp_eval_arg(n->args[1], env, false, &secret, err);
	if (rc == XP_OK) {
		char day[4] = { addr.p[6], addr.p[7], addr.p[8], 0 };
		xbuf hex;
		xbuf_init(&hex, env->a);
		xbuf_reset(err);
		if (!prvs_hash(env->a, plain, secret, addr.p[5], day, &hex, err)) {
			rc = XP_ERROR;
		} else {
			bool sig_ok = strncasecmp(hex.p, addr.p + 9, 6) == 0;
			/* Not expired: the signed day is today or up to 7 days ahead (mod 1000). */
			int signed_day = atoi(day), today = prvs_day(0);
			int ahead = (signed_day - today + 1000) % 1000;
			vars.result = sig_ok && ahead <= 7 ? SV_LIT("1") : SV_LIT("");
		}
	}
	sv third = SV_NULL;
	if (rc == XP_OK && n->nargs > 2)
		rc = xp_eval_arg(n->args[2], env, false, &third, err);
	env->providers = prov.next;
	if (rc != XP_OK)
		return rc;
	set_lasting_result(env, vars.result);
	xbuf_putsv(out, third.len ? third : plain);
	return XP_OK;
}

/* ---- imapfolder ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Encode UTF-16 units in IMAP's modified base64 between '&' and '-'. */
static void put_mutf7(xbuf *out, const uint16_t *u, size_t n)
{
	xbuf_putc(out, '&');
	unsigned bits = 0, nbits = 0;
	for (size_t i = 0; i < n; i++) {
		bits = (bits << 16) | u[i];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			xbuf_putc(out, b64[(bits >> nbits) & 0x3f]);
		}
		bits &= (1u << nbits) - 1;
	}
	if (nbits)
		xbuf_putc(out, b64[(bits << (6 - nbits)) & 0x3f]);
	xbuf_putc(out, '-');
}

/* Next code point from UTF-8 (invalid bytes are taken as Latin-1). */
static unsigned next_cp(sv s, size_t *i)
{
	unsigned char c = (unsigned char)s.p[(*i)++];
	int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
	unsigned cp = extra == 3 ? c & 7 : extra == 2 ? c & 15 : extra == 1 ? c & 31 : c;
	if (*i + (size_t)extra > s.len)
		return c;
	for (int k = 0; k < extra; k++) {
		unsigned char d = (unsigned char)s.p[*i + (size_t)k];
		if ((d & 0xc0) != 0x80)
			return c;
		cp = (cp << 6) | (d & 0x3f);
	}
	*i += (size_t)extra;
	return cp;
}

int xp_item_imapfolder(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[3] = { SV_NULL, SV_NULL, SV_NULL };
	for (int i = 0; i < n->nargs; i++) {
		int rc = xp_eval_arg(n->args[i], env, skip, &a[i], err);
		if (rc != XP_OK)
			return rc;
	}
	if (skip)
		return XP_OK;
	if (n->nargs > 1 && a[1].len != 1) {
		xp_err(err, "IMAP folder separator must be one character, found \"" SV_FMT "\"", SV_ARG(a[1]));
		return XP_ERROR;
	}
	char sep = n->nargs > 1 && a[1].len ? a[1].p[0] : '/';
	sv specials = a[2];
	uint16_t units[256];
	size_t nu = 0;
	size_t i = 0;
	while (i < a[0].len || nu) {
		unsigned cp = i < a[0].len ? next_cp(a[0], &i) : 0;
		bool end = cp == 0;
		bool encode = !end && (cp >= 0x80 || cp < 0x20 || (cp < 0x80 && specials.len &&
			memchr(specials.p, (int)cp, specials.len)));
		if (encode && nu + 2 < sizeof units / sizeof units[0]) {
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[nu++] = (uint16_t)(0xd800 | (cp >> 10));
				units[nu++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
			} else {
				units[nu++] = (uint16_t)cp;
			}
			continue;
		}
		if (nu) {
			put_mutf7(out, units, nu);
			nu = 0;
		}
		if (end)
			break;
		if (encode) { /* run buffer full: start a new run */
			units[nu++] = (uint16_t)cp;
			continue;
		}
		char c = (char)cp;
		if (c == sep)
			xbuf_putc(out, '.');
		else if (c == '.' || c == '/') {
			xp_err(err, "imapfolder: illegal character '%c'", c);
			return XP_ERROR;
		} else if (c == '&')
			xbuf_puts(out, "&-");
		else
			xbuf_putc(out, c);
	}
	out->taint |= a[0].taint;
	return XP_OK;
}
