/* Transports in a light child: a task that shares the delivery process's memory and descriptor
 * table (clone with CLONE_VM | CLONE_FILES) but has its own credentials, working directory,
 * signal handlers and process id. A fork per batch copied the page tables and then took
 * copy-on-write faults on both sides: a third of a queue run's CPU time (bench/deliver/README.md)
 * and most of a relayed message's delivery-side cost (bench/relay/README.md).
 *
 * What stays as with a forked child:
 * - The transport runs as the delivery's uid/gid (the exim user for a remote one): the child
 *   drops to them for good (credentials belong to the task), the delivery process stays root.
 * - A kill -9 of the delivery process does not stop a delivery half way: the child is a process
 *   of its own, finishes the mailbox write or the SMTP transaction, journals what it delivered
 *   and then exits; the memory and descriptors it uses live on until it does (and with them
 *   the -D lock, an open-file-description lock).
 * What is different:
 * - The delivery process waits with every signal blocked, so nothing else runs in the shared
 *   memory meanwhile. Since the descriptor table is shared too, files the transport opens and
 *   the state that remembers them (log, lookups) agree in both; the transports that run here
 *   close what they open (the smtp transport its connections, also after a hand-off).
 * - A child that dies abnormally may have left the shared memory half updated: the delivery
 *   process then writes Exim's lines for it from text prepared before the child started
 *   (deliver_died.c, system calls only) and exits (DELIVER_EXIT_TRANSPORT_DIED) without trusting
 *   any of it. What the child journaled stands; the next attempt does the rest.
 *
 * Which transports:
 * - appendfile (it runs no command of its own): the results are in the addresses when the
 *   child exits.
 * - smtp, when the batch is the only thing the delivery runs (b->alone: no other remote batch
 *   in parallel, not a continued -MC delivery, whose connection the caller closes after the
 *   transport): the child writes the same result records a forked child sends through its pipe,
 *   into the batch's buffer, and the delivery process puts its addresses back as they were
 *   before the child ran and applies the records (dbatch_finish). So the delivery sees exactly
 *   what it saw from a forked child: fields the records do not carry, and strings in memory the
 *   child released, are not read. $tls_out_*, which the transport sets process-wide, is put
 *   back too.
 * pipe, autoreply, lmtp and the other remote cases keep their forked child (deliver_local.c). */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/deliver_child.h"
#include "core/deliver_conn_cache.h"
#include "core/deliver_died.h"
#include "core/dirsync.h"
#include "core/journal_seal.h"
#include "core/deliver_internal.h"
#include "core/deliver_wait.h"
#include "core/tls_out.h"
#include "lib/clock.h"
#include "core/transport.h"
#include "lib/log.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000   /* Linux 5.2 */
#endif

#define CHILD_STACK ((size_t)8 << 20)   /* reserved, not committed: pages come as used */
#define GUARD ((size_t)64 << 10)

bool dinproc_eligible(const dctx *d, const dbatch *b, bool remote)
{
	if (!b->t || !b->t->info || !b->t->info->ops || !b->t->info->name)
		return false;
	/* Not when the attempt has failures to bounce afterwards: a child that dies leaves this
	 * process's memory untrusted, and Exim goes on with the bounces (deliver_local.c). */
	if (remote)
		return b->alone && !d->o->cont && d->nfailed == 0 && d->ntimedout == 0
			&& strcmp(b->t->info->name, "smtp") == 0;
	return strcmp(b->t->info->name, "appendfile") == 0;
}

typedef struct child_arg {
	dctx *d;
	dbatch *b;
	uid_t uid;
	gid_t gid;
	const char *name, *dir;
	bool remote;
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
	bool journaled = dchild_deliver(c->d, c->b, c->remote, c->uid, c->gid, c->name, c->dir);
	if (c->remote) {
		/* What a forked child would write to its pipe, written while the memory the transport
		 * used is still as it left it. */
		uint32_t i = 0;
		for (const address_item *a = c->b->addrs; a; a = a->next, i++)
			dres_encode(&c->b->buf, i, a);
	}
	return journaled ? 0 : DCHILD_EXIT_UNJOURNALED;
}

/* $tls_out_* as it was, in copies of its own (the transport may free the strings it replaces). */
static tls_out_state tls_out_saved(void)
{
	tls_out_state s = tls_out;
	sv *f[] = { &s.cipher, &s.ver, &s.peerdn, &s.peercert, &s.ourcert, &s.sni, &s.dane };
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		*f[i] = sv_copy(pool_msg, *f[i]);
	return s;
}

static bool tls_out_blank(const tls_out_state *s)
{
	return !s->active && !s->cipher.len && !s->ver.len && !s->peerdn.len && !s->peercert.len
		&& !s->ourcert.len && !s->sni.len && !s->dane.len && !s->bits && !s->certificate_verified
		&& !s->ocsp && !s->resumption && !s->tlsa_usage;
}

/* The children's stack: made once and kept for the process's life (a delivery worker runs one
 * child after another, never two at once), so each child does not map it again and fault its
 * pages in anew. NULL when it cannot be made (the caller forks instead). */
static char *child_stack(void)
{
	static char *mem;
	if (mem)
		return mem;
	char *m = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m, GUARD, PROT_NONE) != 0) {
		munmap(m, CHILD_STACK);
		return NULL;
	}
	return mem = m;
}

bool dinproc_run(dctx *d, dbatch *b, bool remote, uid_t uid, gid_t gid, const char *name, const char *dir)
{
	/* Open the main log here first: the child then writes through the same descriptor. */
	log_open_main();
	char *mem = child_stack();
	if (!mem)
		return false; /* the caller forks instead */
	child_arg c = { .d = d, .b = b, .uid = uid, .gid = gid, .name = name, .dir = dir, .remote = remote };
	ddied died;
	ddied_prepare(&died, d, b, !remote);
	/* The addresses and $tls_out_* as a forked child would have left them (remote only). */
	address_item *before = NULL, **where = NULL, *head = b->addrs;
	size_t nbefore = 0;
	tls_out_state tls_before = { 0 };
	if (remote) {
		before = arena_alloc(pool_msg, (b->n ? b->n : 1) * sizeof *before);
		where = arena_alloc(pool_msg, (b->n ? b->n : 1) * sizeof *where);
		for (address_item *a = b->addrs; a && nbefore < b->n; a = a->next, nbefore++) {
			before[nbefore] = *a;
			where[nbefore] = a;
		}
		tls_before = tls_out_saved();
		xbuf_init(&b->buf, pool_msg);
	}
	/* A queue worker leaves the Maildir directory sync to its runner (core/dirsync.h). */
	dirsync_enabled = !remote && d->o->commit_dir != NULL && !d->dont_deliver;
	if (dirsync_enabled)
		(void)journal_boot_id();   /* read here, not in the child */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &c.mask);
	fflush(NULL);
	/* The smtp transport may take or leave a cached connection: memory and descriptors are the
	 * worker's (deliver_conn_cache.h). */
	dccache_in_clone = remote;
	/* CLONE_PIDFD: the descriptor to wait on comes with the child (no pidfd_open after it);
	 * a kernel without it (before 5.2) refuses the flag, and the clone is made without. */
	int pidfd = -1;
	pid_t pid = clone(child_main, mem + CHILD_STACK, CLONE_VM | CLONE_FILES | CLONE_PIDFD | SIGCHLD, &c, &pidfd);
	if (pid < 0 && errno == EINVAL) {
		pidfd = -1;
		pid = clone(child_main, mem + CHILD_STACK, CLONE_VM | CLONE_FILES | SIGCHLD, &c);
	}
	if (pid < 0) {
		dccache_in_clone = false;
		dirsync_enabled = false;
		sigprocmask(SIG_SETMASK, &c.mask, NULL);
		return false;
	}
	died.child = pid;
	int status = 0;
	/* Past the limit it is killed, and then handled as any child that died. */
	(void)dwait_reap_pidfd(pid, pidfd, monotonic_ms() + (int64_t)DELIVER_CHILD_LIMIT_SECS * 1000, &status);
	if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != DCHILD_EXIT_UNJOURNALED)) {
		/* Nothing in the shared memory can be trusted now: the child may have died inside
		 * malloc, or ended through exit() (a log it could not write), whose handlers (the TLS
		 * library's clean-up) ran in this memory. Write Exim's lines from what was prepared and
		 * leave without touching it. */
		ddied_write(&died, status);
		ddied_exec_retry(&died);   /* retry records (appendfile) or the freeze (smtp) */
		_exit(DELIVER_EXIT_TRANSPORT_DIED);
	}
	dirsync_enabled = false;
	dccache_in_clone = false;
	sigprocmask(SIG_SETMASK, &c.mask, NULL);
	b->pid = 0;
	b->fd = -1;
	b->inproc = true;
	b->journal_child = d->journal_fd >= 0 && !d->dont_deliver;
	b->journaled = b->journal_child && WEXITSTATUS(status) == 0;
	if (remote) {
		for (size_t i = 0; i < nbefore; i++)
			*where[i] = before[i];   /* next included: the list is as it was */
		b->addrs = head;
		if (!tls_out_blank(&tls_out) || !tls_out_blank(&tls_before))
			tls_out_set(&tls_before);
		b->inproc_records = true;
		b->inproc_status = status;
	}
	return true;
}
