/* Invariant checks for fuzz targets: a failed check prints what broke, with the input in escaped
 * form, and aborts so libFuzzer saves the input as a crash artifact. */
#ifndef POSTERN_FUZZ_CHECK_H
#define POSTERN_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline void fuzz_dump(const char *what, const void *p, size_t n)
{
	const unsigned char *s = p;
	fprintf(stderr, "  %s (%zu bytes): \"", what, n);
	for (size_t i = 0; i < n && i < 400; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", s[i]);
	}
	fputs(n > 400 ? "\"...\n" : "\"\n", stderr);
}

#define FUZZ_CHECK(cond, data, size)                                                            \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", __FILE__, __LINE__, \
				#cond);                                                          \
			fuzz_dump("input", (data), (size));                                      \
			abort();                                                                 \
		}                                                                                \
	} while (0)

#endif
