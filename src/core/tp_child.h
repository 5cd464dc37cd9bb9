/* The command process of the pipe and lmtp transports: what both do in the forked child before
 * exec, and the bounded wait for it afterwards. */
#ifndef POSTERN_CORE_TP_CHILD_H
#define POSTERN_CORE_TP_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

/* In the forked child: a process group of its own (so a kill reaches everything the command
 * starts), SIGPIPE and SIGCHLD at their defaults, in_fd as standard input, out_fd as standard
 * output, err_fd (-1: /dev/null) as standard error; every other descriptor is closed except
 * *keep (when keep is not NULL), which is moved above 9, close-on-exec, and updated. false
 * (errno set) when the wiring failed; the caller then exits. */
bool tp_child_wire(int in_fd, int out_fd, int err_fd, int *keep);

/* Wait for pid for at most timeout_ms (< 0: as long as it takes); when that passes, kill its
 * process group and reap it. true when it ended by itself. */
bool tp_child_reap(pid_t pid, int *status, int timeout_ms);

#endif
