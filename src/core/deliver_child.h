/* The part of a transport child that is the same however the child was made: forked
 * (deliver_local.c, results back through a pipe) or cloned sharing the delivery process's
 * memory (deliver_inproc.c, results left in the addresses). */
#ifndef POSTERN_CORE_DELIVER_CHILD_H
#define POSTERN_CORE_DELIVER_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/deliver_internal.h"

/* Exim's errno for a uid/gid problem ("defer (-29)"). */
enum { DERR_UID_GID = -29 };

/* Defer every address of the batch with err and text. */
void dchild_defer_all(dbatch *b, int err, const char *text);

/* In the child, with the main log (and a command's output files) already open: become uid/gid
 * (with name's supplementary groups when the transport sets initgroups; never for a remote
 * transport), change to dir (else "/"), run the transport over the batch, defer whatever it left
 * without a result, and journal the delivered addresses. The address variables pushed for the
 * transport are popped again, as a child sharing the delivery's memory must. False only when the
 * journal write failed (panic-logged): the child then exits DCHILD_EXIT_UNJOURNALED. */
bool dchild_deliver(dctx *d, dbatch *b, bool remote, uid_t uid, gid_t gid, const char *name, const char *dir);

#endif
