/* The log lines of an appendfile or smtp child that died abnormally (deliver_died.c); internal to the
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
	const char *driver;           /* "appendfile", "smtp" */
	const char **addr;            /* per address of the batch */
	const char **defer;           /* its "==" text */
	size_t n;
	/* The retry records Exim 4.96 writes for the batch (observed: "T:a@vm -1 0 unknown error",
	 * next try by the rules): written by a fresh image of this program (ddied_exec_retry), since
	 * nothing in this process's memory can be trusted after the child died. NULL: none. */
	const char *retry_env;        /* DDIED_RETRY_ENV "=" id, sender, then key and address lines */
	char **argv;                  /* this process's command line, to run it again */
	const char *cwd;              /* the directory it started in (a relative -C path) */
	/* A remote transport's child (smtp): Exim 4.96 words its death differently (observed by
	 * killing its smtp transport process): "Delivery status for <first address>: got 0 of 7
	 * bytes (pipeheader) from transport process <pid> for transport smtp" (main and panic log),
	 * then per address "== <addr> R=... T=... defer (-1): smtp transport process returned
	 * non-zero status 0x0009: terminated by signal 9", then "Frozen". child: its pid, set once
	 * it runs. The freeze is done by a fresh image of this program, as the retry records above
	 * are written (retry_env then carries "freeze", the id and the queue name). */
	bool remote;
	pid_t child;
} ddied;

#define DDIED_RETRY_ENV "POSTERN_DIED_RETRY"

/* Before the child starts: everything the lines need, in pool_msg (which the child does not
 * reset). local_retry: the batch keeps local retry records (appendfile); a remote batch whose
 * child died has none, as when its forked child is killed (deliver_local.c). */
void ddied_prepare(ddied *p, const dctx *d, const dbatch *b, bool local_retry);
/* After it died with wait status `status`: write Exim's lines using system calls only. */
void ddied_write(const ddied *p, int status);
/* Then: run this program again (same command line) with the retry items in the environment;
 * returns only when that cannot be done. */
void ddied_exec_retry(const ddied *p);
/* In that new image (main.c, with the configuration loaded): write the records; the exit
 * status for the process. */
int ddied_retry_main(void);

#endif
