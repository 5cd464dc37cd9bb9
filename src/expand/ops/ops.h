/* Expansion operators (${op:subject}) and the pure helpers that items share with them.
 *
 * The expansion engine (src/expand) parses "${name:" and hands the operator name exactly as written
 * (e.g. "lc", "hash_3_5", "h_3", "substr_1_2", "length_3", "l_3", "nhash_8", "sha2_256",
 * "quote_redis", "quote_mysql_opt", "mask_n", "base62d") plus the expanded subject to
 * xp_op_apply(). Operators that need the engine itself (${expand:}) are handled by the engine and
 * never reach here. Results carry the subject's taint unless the operator documents otherwise
 * (bless removes it; quote_<lookup> sets the quoter id).
 */
#ifndef POSTERN_EXPAND_OPS_H
#define POSTERN_EXPAND_OPS_H

#include <stdbool.h>
#include <time.h>

#include "lib/str.h"

enum { XP_OP_OK = 0, XP_OP_UNKNOWN = 1, XP_OP_ERROR = 2 };

/* Whether name is an operator this module implements (used when compiling, so that an unknown
 * operator is reported with Exim's wording at expansion time). */
bool xp_op_exists(sv name);

/* Apply operator `name` to `in`, appending the result to `out`.
 * XP_OP_OK; XP_OP_UNKNOWN (not an operator); XP_OP_ERROR with Exim's message in err
 * (the engine prefixes nothing: err is the complete text Exim would print after "Failed: "). */
int xp_op_apply(sv name, sv in, xbuf *out, xbuf *err);

/* Helpers shared by items and operators (Exim semantics, Exim error texts). */
/* ${substr{start}{len}{s}} / ${substr_start_len:s}: start may be negative (from the end). */
bool xp_substr(sv in, long long start, long long len, bool have_len, xbuf *out, xbuf *err);
/* ${length{n}{s}} */
void xp_length(sv in, long long n, xbuf *out);
/* ${hash{len}{mod}{s}}, ${nhash{n}{m}{s}} (have_m false: one number) */
bool xp_hash(sv in, long long len, long long mod, bool have_mod, xbuf *out, xbuf *err);
bool xp_nhash(sv in, long long n, long long m, bool have_m, xbuf *out, xbuf *err);
/* ${eval:} and ${eval10:}: integer arithmetic with Exim's operators, precedence, and errors. */
bool xp_eval_arith(sv expr, bool decimal_only, long long *result, xbuf *err);
/* crypteq condition: plain vs {md5}, {sha1}, {crypt}/{crypt16}, bare crypt(3) hashes. */
bool xp_crypteq(sv plain, sv encrypted, bool *match, xbuf *err);
/* ${hmac{md5|sha1|sha256}{key}{data}}: lower-case hex into out. */
bool xp_hmac(sv algo, sv key, sv data, xbuf *out, xbuf *err);
/* Numeric/byte-size parsing as Exim's conditions and ${eval} accept them (K/M/G suffixes). */
bool xp_parse_number(sv text, long long *out, xbuf *err);

#endif
