/* A link-time sandbox for fuzz targets whose code can reach the file system, processes or the
 * network (expansions, configuration files, list matching, lookups).
 *
 * The targets are linked with -Wl,--wrap=<fn> for every such C library and client-library entry
 * point the project calls (see fuzz_sandbox_wraps in meson.build); the wrappers refuse, as the
 * real call would fail (EACCES, connection refused), except for paths inside one private
 * temporary directory made for this process, where a target may write its input as a file.
 * So a fuzzed ${run}, ${readfile}, "/etc/passwd" list item, .include, sqlite file or redis
 * server fails cleanly instead of touching the machine. */
#ifndef POSTERN_FUZZ_SANDBOX_H
#define POSTERN_FUZZ_SANDBOX_H

#include <stddef.h>

/* Refusals apply only between enter and leave (around the code under test): libFuzzer, linked
 * into the same program, also reads its corpus and writes artifacts through these calls. */
void fuzz_sandbox_enter(void);
void fuzz_sandbox_leave(void);

/* The private directory (created on first use, with a trailing '/' not included). */
const char *fuzz_sandbox_dir(void);
/* Write data to <dir>/<name> (replacing it); returns the path (static storage) or NULL. */
const char *fuzz_sandbox_write(const char *name, const void *data, size_t size);
/* How many calls were refused so far (for a target to report or assert on). */
unsigned long fuzz_sandbox_refusals(void);

#endif
