/* Internal interface between the operator dispatcher (ops.c) and the operator families
 * (ops_*.c). Not for use outside src/expand/ops. */
#ifndef POSTERN_EXPAND_OPS_INT_H
#define POSTERN_EXPAND_OPS_INT_H

#include <stdbool.h>

#include "expand/ops/ops.h"
#include "lib/str.h"

/* One operator application. name is the full name as written ("hash_3_5"); base is the part
 * that selected the operator ("hash"); arg is what followed the first underscore (has_arg says
 * whether there was one: "s_" has an empty arg, "s" none). */
typedef struct op_ctx {
	sv name, base, arg;
	bool has_arg;
	sv in;
	xbuf *out, *err;
} op_ctx;

typedef int (*op_handler)(op_ctx *c);

/* Record Exim's error text (replacing anything in err); returns XP_OP_ERROR. */
int op_fail(op_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Operator families. Each returns XP_OP_OK or XP_OP_ERROR. */
int op_lc(op_ctx *c);
int op_uc(op_ctx *c);
int op_strlen(op_ctx *c);
int op_listcount(op_ctx *c);
int op_rxquote(op_ctx *c);
int op_quote(op_ctx *c);
int op_quote_local_part(op_ctx *c);
int op_escape(op_ctx *c);
int op_escape8bit(op_ctx *c);
int op_hexquote(op_ctx *c);
int op_utf8clean(op_ctx *c);
int op_from_utf8(op_ctx *c);

int op_base32(op_ctx *c);
int op_base32d(op_ctx *c);
int op_base62(op_ctx *c);
int op_base62d(op_ctx *c);
int op_base64(op_ctx *c);
int op_base64d(op_ctx *c);
int op_hex2b64(op_ctx *c);
int op_md5(op_ctx *c);
int op_sha1(op_ctx *c);
int op_sha2(op_ctx *c);
int op_sha3(op_ctx *c);

int op_hash(op_ctx *c);
int op_nhash(op_ctx *c);
int op_substr(op_ctx *c);
int op_length(op_ctx *c);
int op_eval(op_ctx *c);
int op_eval10(op_ctx *c);
int op_time_eval(op_ctx *c);
int op_time_interval(op_ctx *c);
int op_randint(op_ctx *c);

int op_address(op_ctx *c);
int op_addresses(op_ctx *c);
int op_domain(op_ctx *c);
int op_local_part(op_ctx *c);
int op_rfc2047(op_ctx *c);
int op_rfc2047d(op_ctx *c);

int op_mask(op_ctx *c);
int op_ipv6norm(op_ctx *c);
int op_ipv6denorm(op_ctx *c);
int op_reverse_ip(op_ctx *c);

int op_stat(op_ctx *c);
int op_listnamed(op_ctx *c);
int op_quote_lookup(op_ctx *c);

int op_utf8_domain_to_alabel(op_ctx *c);
int op_utf8_domain_from_alabel(op_ctx *c);
int op_utf8_localpart_to_alabel(op_ctx *c);
int op_utf8_localpart_from_alabel(op_ctx *c);

#endif
