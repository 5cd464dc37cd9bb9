/* The log lines of an appendfile child that died abnormally (deliver_died.c); internal to the
 * delivery process (deliver_inproc.c). */
#ifndef POSTERN_CORE_DELIVER_DIED_H
#define POSTERN_CORE_DELIVER_DIED_H

#include <stdbool.h>
#include <stddef.h>

#include "core/deliver_internal.h"

typedef struct ddied {
	const char *main_path, *panic_path, *msglog_path;   /* NULL: not written */
	const char *id;
	const char *pid_tag;          /* "[pid] " under log_selector +pid, else NULL */
	const char *zone;             /* " +hhmm" under log_timezone, else NULL */
	bool millisec;
	long gmtoff;                  /* local offset from UTC when prepared */
	const char *driver;           /* "appendfile" */
	const char **addr;            /* per address of the batch */
	const char **defer;           /* its "==" text */
	size_t n;
} ddied;

/* Before the child starts: everything the lines need, in pool_msg (which the child does not
 * reset). */
void ddied_prepare(ddied *p, const dctx *d, const dbatch *b);
/* After it died with wait status `status`: write Exim's lines using system calls only. */
void ddied_write(const ddied *p, int status);

#endif
