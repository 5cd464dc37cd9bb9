/* Whole-buffer reads and writes on blocking descriptors (pipes between our own processes, log
 * files). Interrupted calls are resumed; anything else that stops short is a failure. */
#ifndef POSTERN_LIB_FDIO_H
#define POSTERN_LIB_FDIO_H

#include <stdbool.h>
#include <stddef.h>

/* Write all n bytes. False on an error (errno set) or a write that made no progress. */
bool fd_write_all(int fd, const void *p, size_t n);

/* Read exactly n bytes. False on an error (errno set) or end of file first. */
bool fd_read_all(int fd, void *p, size_t n);

#endif
