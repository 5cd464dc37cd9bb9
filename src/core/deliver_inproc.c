/* Local deliveries by the appendfile transport in a light child: a task that shares the
 * delivery process's memory and descriptor table (clone with CLONE_VM | CLONE_FILES) but has
 * its own credentials, working directory, signal handlers and process id. A fork per batch
 * copied the page tables and then took copy-on-write faults on both sides: a third of a queue
 * run's CPU time (bench/deliver/README.md).
 *
 * What stays as with a forked child:
 * - The transport runs as the delivery's uid/gid: the child drops to them for good (credentials
 *   belong to the task), the delivery process stays root.
 * - A kill -9 of the delivery process does not stop a delivery half way: the child is a process
 *   of its own, finishes the mailbox write (and unlocks it), journals what it delivered and then
 *   exits; the memory it uses lives on until it does.
 * What is different:
 * - The results are in the addresses when the child exits (shared memory): no result records.
 * - The delivery process waits with every signal blocked, so nothing else runs in the shared
 *   memory meanwhile. Since the descriptor table is shared too, files the transport opens and
 *   the state that remembers them (log, lookups) agree in both.
 * - A child that dies abnormally may have left the shared memory half updated: the delivery
 *   process then writes Exim's lines for it from text prepared before the child started
 *   (deliver_died.c, system calls only) and exits (DELIVER_EXIT_TRANSPORT_DIED) without trusting
 *   any of it. What the child journaled stands; the next attempt does the rest.
 * Only appendfile runs this way: it runs no command of its own. pipe, autoreply, lmtp and the
 * remote transports keep their forked child (deliver_local.c). */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/deliver_child.h"
#include "core/deliver_died.h"
#include "core/dirsync.h"
#include "core/journal_seal.h"
#include "core/deliver_internal.h"
#include "core/deliver_wait.h"
#include "lib/clock.h"
#include "core/transport.h"
#include "lib/log.h"

#define CHILD_STACK ((size_t)8 << 20)   /* reserved, not committed: pages come as used */
#define GUARD ((size_t)64 << 10)

bool dinproc_eligible(const dctx *d, const dbatch *b, bool remote)
{
	(void)d;
	if (remote || !b->t || !b->t->info || !b->t->info->ops || !b->t->info->name)
		return false;
	return strcmp(b->t->info->name, "appendfile") == 0;
}

typedef struct child_arg {
	dctx *d;
	dbatch *b;
	uid_t uid;
	gid_t gid;
	const char *name, *dir;
	sigset_t mask;                /* the delivery process's mask, for the child to run with */
} child_arg;

/* In the child: become the user, run the transport, journal. The return value is the exit
 * status: 0, or DCHILD_EXIT_UNJOURNALED when the journal write failed. */
static int child_main(void *p)
{
	child_arg *c = p;
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &c->mask, NULL);
	return dchild_deliver(c->d, c->b, false, c->uid, c->gid, c->name, c->dir) ? 0 : DCHILD_EXIT_UNJOURNALED;
}

bool dinproc_run(dctx *d, dbatch *b, uid_t uid, gid_t gid, const char *name, const char *dir)
{
	/* Open the main log here first: the child then writes through the same descriptor. */
	log_open_main();
	char *mem = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (mem == MAP_FAILED)
		return false; /* the caller forks instead */
	if (mprotect(mem, GUARD, PROT_NONE) != 0) {
		munmap(mem, CHILD_STACK);
		return false;
	}
	child_arg c = { .d = d, .b = b, .uid = uid, .gid = gid, .name = name, .dir = dir };
	ddied died;
	ddied_prepare(&died, d, b);
	/* A queue worker leaves the Maildir directory sync to its runner (core/dirsync.h). */
	dirsync_enabled = d->o->commit_dir != NULL && !d->dont_deliver;
	if (dirsync_enabled)
		(void)journal_boot_id();   /* read here, not in the child */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &c.mask);
	fflush(NULL);
	pid_t pid = clone(child_main, mem + CHILD_STACK, CLONE_VM | CLONE_FILES | SIGCHLD, &c);
	if (pid < 0) {
		dirsync_enabled = false;
		sigprocmask(SIG_SETMASK, &c.mask, NULL);
		munmap(mem, CHILD_STACK);
		return false;
	}
	int status = 0;
	/* Past the limit it is killed, and then handled as any child that died. */
	(void)dwait_reap(pid, monotonic_ms() + (int64_t)DELIVER_CHILD_LIMIT_SECS * 1000, &status);
	if (!WIFEXITED(status)) {
		/* Nothing in the shared memory can be trusted now (the child may have died inside
		 * malloc): write Exim's lines from what was prepared and leave without touching it. */
		ddied_write(&died, status);
		ddied_exec_retry(&died);
		_exit(DELIVER_EXIT_TRANSPORT_DIED);
	}
	dirsync_enabled = false;
	sigprocmask(SIG_SETMASK, &c.mask, NULL);
	munmap(mem, CHILD_STACK);
	b->pid = 0;
	b->fd = -1;
	b->inproc = true;
	b->journal_child = d->journal_fd >= 0 && !d->dont_deliver;
	b->journaled = b->journal_child && WEXITSTATUS(status) == 0;
	return true;
}
