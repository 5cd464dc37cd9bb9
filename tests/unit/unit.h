/* A minimal table-driven unit-test harness.
 *
 *   static void test_x(void) { CHECK(cond); CHECK_STR(got, want); }
 *   int main(void) { RUN(test_x); return unit_report("name"); }
 *
 * Each failed check prints file:line and what differed; unit_report prints
 * "<name>: N passed, N failed" and returns the exit status.
 */
#ifndef POSTERN_TESTS_UNIT_H
#define POSTERN_TESTS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond)                                                                  \
	do {                                                                             \
		if (cond) unit_passed++;                                                     \
		else { unit_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
	} while (0)

#define CHECK_STR(got, want)                                                         \
	do {                                                                             \
		const char *g_ = (got), *w_ = (want);                                        \
		if ((g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0)) unit_passed++; \
		else { unit_failed++; fprintf(stderr, "%s:%d: got \"%s\", want \"%s\" (%s)\n", __FILE__, __LINE__, \
			g_ ? g_ : "(null)", w_ ? w_ : "(null)", #got); }                          \
	} while (0)

#define CHECK_INT(got, want)                                                         \
	do {                                                                             \
		long long g_ = (long long)(got), w_ = (long long)(want);                     \
		if (g_ == w_) unit_passed++;                                                 \
		else { unit_failed++; fprintf(stderr, "%s:%d: got %lld, want %lld (%s)\n", __FILE__, __LINE__, g_, w_, #got); } \
	} while (0)

#define RUN(fn) fn()

static inline int unit_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
