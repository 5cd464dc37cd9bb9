/* Deliveries after a reception when root called with an untrusted -C or -D (priv_trust.h).
 *
 * Exim receives as the exim user and re-executes itself to regain root for the delivery
 * ("exim -C file -Mc id"); with an untrusted -C or -D the new process is called by the exim user
 * and keeps no privilege, so it writes "exim user lost privilege for using -C option" and local
 * deliveries to other users defer. Postern does the same: the process that would deliver forks,
 * becomes the exim user (priv.c) and runs this program again with -Mc; the daemon's queue
 * runners likewise run "postern -C file -q" as the exim user. Queue runs, -M and -bt started by
 * root directly keep root, as in Exim. */
#ifndef POSTERN_CORE_PRIV_REEXEC_H
#define POSTERN_CORE_PRIV_REEXEC_H

#include <stdbool.h>

#include "core/deliver.h"
#include "core/queue.h"
#include "core/spool.h"

/* In the environment of a process run again here (with TZ, when the caller had it): Exim's
 * re-executed processes have an empty one, and so never warn about purging it
 * (prog/environment_note.h). */
#define PRIV_REEXEC_ENV "POSTERN_REEXECUTED"

/* True when a delivery started after a reception must run as the exim user in a process of its
 * own: the configuration is untrusted, deliver_drop_privilege is not set (then the delivery
 * drops to the exim user itself, without the re-execution, as in Exim), and this process is
 * root or already the exim user (priv_lost_privilege). */
bool priv_reexec_wanted(void);

/* A reception (-bs, -bS, -bm) or -bh/-bhc session by root with an untrusted -C or -D: become
 * the exim user for good before reading the message, as Exim receives as the exim user
 * (observed: ${run{id}} in an ACL says uid=Debian-exim). The caller is still root
 * (lib/caller_id.h); the delivery that follows runs again as the exim user
 * (priv_reexec_delivery), as it would from root. Nothing to do for other callers, a trusted
 * configuration, or the test aid. false: the change failed (logged); the caller ends without
 * reading the message. */
bool priv_reexec_receive_as_exim(void);
/* Host checking (-bh, -bhc) by root gives root up for the exim user whatever the configuration,
 * as Exim 4.96 does (observed with ps: uid Debian-exim with its default, trusted configuration
 * too); it delivers nothing, so nothing needs root afterwards. Kept under the test aid
 * (priv_trust.h). False (logged) when the drop failed. */
bool priv_host_check_as_exim(void);

/* For a forked process standing in for one Exim runs again as "exim -C file -q" (the daemon's
 * queue runners): when priv_reexec_wanted() and this process is root, become the exim user and
 * write the lost-privilege line, as that process does. false: the change failed (logged); the
 * caller ends. */
bool priv_reexec_become_exim(void);

/* The daemon's queue runner child, when priv_reexec_wanted() and root: become the exim user and
 * run "postern [-D...] -C file [-MCG <name>] -q[q][i][f[f]][l][G<name>]" as Exim's daemon does ("exim -C file
 * -qf"). Returns only when it did not run it: not wanted, or the run selects messages (-R, -S,
 * ids), which the command line here does not carry; the caller then uses
 * priv_reexec_become_exim(). An exec failure ends the process. */
void priv_reexec_queue_run(const queue_run_opts *o);

/* Exim makes a message of its own (a bounce, a warning, an autoreply) in a process it runs again
 * from the delivery process, which is the exim user by then: with an untrusted -C or -D that
 * process writes the lost-privilege line, root having started the delivery or not. Write it
 * when priv_reexec_wanted(). */
void priv_reexec_note_child(void);

/* Run "postern [-D...] [-C file] [-N] [-odi|-odqs] [-MCG <name>] -Mc id" as the exim user. foreground: wait for
 * it (-odi); else detached, as deliver_start_background does. keep_stderr: the new process
 * writes to this one's stderr (a reception's delivery, and a foreground one), else to /dev/null
 * (a bounce's background delivery: Exim's -t child lets go of it). Failures are logged; the
 * message stays queued for a queue runner. */
void priv_reexec_delivery(const spool_config *sc, const char *id, const deliver_opts *o, bool foreground,
	bool keep_stderr);

/* The same with root kept: the root parent of a reception by root with a trusted configuration
 * (priv_receive.h). Exim, set-uid, receives as the exim user and runs itself again to regain
 * root; a pipe command sees that process as its parent (observed with 4.96, trusted or default
 * configuration: "/usr/sbin/exim4 [-C file] [-odi] -Mc id" after -odi, -odf and -odb alike). */
void priv_reexec_delivery_root(const spool_config *sc, const char *id, const deliver_opts *o, bool foreground);

/* This process was called with -odi/-odf (main.c records it): Exim passes -odi on to the
 * processes it runs again, so a bounce made here is delivered in the foreground too. */
void priv_reexec_set_foreground(bool odi);
bool priv_reexec_foreground(void);

#endif
