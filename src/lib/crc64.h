/* CRC-64/XZ (ECMA-182 polynomial, reflected, init and final xor all ones): the checksum the
 * spool's integrity line uses (core/spool_integrity.h). Not a defence against an adversary: it
 * tells a file whose content never reached the disk (zeros, a shorter or an older content)
 * from the one that was written. Check value: crc64("123456789") = 0x995dc9bbdf1939fa.
 *
 *   uint64_t c = crc64_init();  c = crc64_update(c, p, n); ...;  crc64_final(c)
 */
#ifndef POSTERN_LIB_CRC64_H
#define POSTERN_LIB_CRC64_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t crc64_init(void) { return ~(uint64_t)0; }
uint64_t crc64_update(uint64_t crc, const void *p, size_t n);
static inline uint64_t crc64_final(uint64_t crc) { return ~crc; }
/* The whole computation for one buffer. */
uint64_t crc64(const void *p, size_t n);

#endif
