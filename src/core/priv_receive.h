/* A local reception (-bs, -bS, -bm, -t) by root with a trusted configuration: received as the
 * exim user, delivered with root.
 *
 * Exim 4.96 is set-uid root: it gives root up for the exim user before it reads the message
 * (observed with strace: setgroups(1, [exim_group]), setgid, setuid) and runs itself again
 * ("exim -C file [-odi] -Mc id") to regain root for each delivery. Postern is not set-uid and
 * could not regain root once given up, so the root process forks: the child becomes the exim
 * user for good and does the reception with the inherited standard descriptors; for each
 * message it has committed to the spool it hands the id to the root parent over a socket and
 * waits until the parent has started the delivery (-odi: done it), as Exim's receiving process
 * waits for its -Mc process; the parent runs this program again as root for it, with Exim's
 * command line, which a pipe command sees as its parent's. The parent exits with the child's status (or dies of its signal);
 * a killed parent takes the child with it (PR_SET_PDEATHSIG), since the caller knows its pid only.
 *
 * The parent treats what the child sends as coming from a less privileged process: the id and
 * queue name are checked before anything is done with them. A message the child committed but
 * could not hand over (it died in between, or the parent is gone) stays on the spool for a
 * queue runner: nothing is lost. The untrusted -C/-D case is priv_reexec.h's (no root is kept
 * for the delivery there); the test aid (priv_trust.h) keeps root throughout, as before. */
#ifndef POSTERN_CORE_PRIV_RECEIVE_H
#define POSTERN_CORE_PRIV_RECEIVE_H

#include <stdbool.h>

#include "core/deliver.h"
#include "core/spool.h"

/* Before reading anything from the caller. Returns -1 when this process goes on with the
 * reception: not root, an untrusted configuration, the test aid, or this is the child, now the
 * exim user. Otherwise the status the caller must end with: the parent's, once the child has
 * ended and every delivery it handed over has been started, or 1 when the split failed
 * (logged). The caller pins nothing itself: the child keeps root as its caller (lib/caller_id.h). */
int priv_receive_split(void);

/* In the reception child: hand a committed message to the root parent, which starts its delivery
 * as Exim's does: "postern [-C file] [-odi] -Mc id" as root (foreground: waited for; else
 * detached; priv_reexec_delivery_root). true when handed over (or when handing over failed: logged, the
 * message waits for a queue runner); false when this process is not a reception child and the
 * caller starts the delivery itself. */
bool priv_receive_hand_off(const spool_config *sc, const char *id, const deliver_opts *o, bool foreground);

#endif
