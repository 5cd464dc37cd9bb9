/* The autoreply transport's parts: the "once" records (autoreply_once.c) and the reply itself
 * (autoreply_deliver.c). */
#ifndef POSTERN_DRIVERS_TRANSPORTS_AUTOREPLY_INTERNAL_H
#define POSTERN_DRIVERS_TRANSPORTS_AUTOREPLY_INTERNAL_H

#include <stdbool.h>
#include <time.h>

#include "lib/arena.h"
#include "lib/str.h"

typedef struct once_state {
	arena *a;
	const char *tname;       /* transport name, for messages */
	const char *path;        /* the once option, expanded */
	sv key;                  /* the To: value */
	int file_size;           /* once_file_size: > 0 selects the plain-file form */
	int mode;                /* for creating the file */
	long repeat;             /* once_repeat in seconds; 0: never again */
	/* failure */
	int err;
	const char *text;
} once_state;

/* Whether a reply to s->key was sent recently enough to skip this one. false: could not read
 * the records (s->err, s->text set, Exim's wording). */
bool once_should_skip(once_state *s, time_t now, bool *skip);
/* Note that a reply was sent now. */
bool once_record(once_state *s, time_t now);

#endif
