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
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* A kept appendfile child (queue-run workers only). A worker delivering one message after another
 * to the same local user cloned a child for each, which then changed to that user, ran the
 * transport and exited: the clone and the exit were a tenth of a queue run's CPU, and the new
 * task's wait for a CPU one of the hand-offs of each message (bench/deliver/README.md, session
 * 16). Instead the child stays after its batch, as that user, waiting for the next batch of the
 * same uid and gid (no initgroups): it changed its credentials once, for good, as before
 * (priv_become_user finds it is that user already), so nothing runs with other privileges than
 * a fresh child would have. It waits with every signal blocked, in poll() on its go pipe and on
 * the worker's pidfd: it touches nothing in the shared memory until the worker hands it the next
 * batch and waits, and it ends when the worker ends (its fd table, shared with the worker, would
 * otherwise keep the worker's pipes open). Everything else is as for a child of its own: the
 * worker waits for its batch with all signals blocked and the same limit, and a child that dies
 * during a batch is handled by the same code (its wait status). A batch for another user, a
 * remote one or anything else that needs the children's stack ends it first. */
static struct {
	pid_t pid;                    /* 0: none */
	int pidfd;                    /* the child's, to wait on */
	int self_pidfd;               /* the worker's, for the child to see it end */
	int go[2];                    /* worker -> child: 'g', the next batch is in arg */
	int done[2];                  /* child -> worker: one byte per batch done */
	uid_t uid;
	gid_t gid;
	child_arg arg;
	volatile int result;          /* the batch's exit status: 0 or DCHILD_EXIT_UNJOURNALED */
	volatile int started;         /* set by the child when it takes a batch */
} kept = { .pidfd = -1, .self_pidfd = -1, .go = { -1, -1 }, .done = { -1, -1 } };

static int kept_main(void *p)
{
	(void)p;
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigset_t all;
	sigfillset(&all);
	for (;;) {
		child_arg *c = &kept.arg;
		sigprocmask(SIG_SETMASK, &c->mask, NULL);
		bool journaled = dchild_deliver(c->d, c->b, false, c->uid, c->gid, c->name, c->dir);
		sigprocmask(SIG_SETMASK, &all, NULL);
		kept.result = journaled ? 0 : DCHILD_EXIT_UNJOURNALED;
		if (write(kept.done[1], "d", 1) != 1)
			_exit(kept.result);
		struct pollfd pf[2] = { { .fd = kept.go[0], .events = POLLIN }, { .fd = kept.self_pidfd, .events = POLLIN } };
		while (poll(pf, 2, -1) < 0)
			;
		char cmd = 0;
		if (pf[1].revents || read(kept.go[0], &cmd, 1) != 1 || cmd != 'g')
			_exit(kept.result);   /* the worker ended, or ends this child ('q') */
		kept.started = 1;
	}
}

static void close_pair(int *fd)
{
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0) {
			close(fd[i]);
			fd[i] = -1;
		}
}

/* Reap a kept child that has ended (or is told to end) and forget it. Its status in *status. */
static void kept_reap(int *status)
{
	int st = 0;
	while (waitpid(kept.pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
	if (kept.pidfd >= 0)
		close(kept.pidfd);
	kept.pidfd = -1;
	kept.pid = 0;
	close_pair(kept.go);
	close_pair(kept.done);   /* fresh pipes for the next: no byte of this one's left over */
}

void dinproc_release(void)
{
	if (!kept.pid)
		return;
	if (write(kept.go[1], "q", 1) != 1)
		kill(kept.pid, SIGKILL);
	kept_reap(NULL);
}

/* Wait for the kept child's batch: its exit status as a wait status (done: it stays), or the
 * child's own wait status if it ended (killed past the limit, too). -1: it ended before it took
 * the batch (killed while it waited): the caller starts a child of its own instead. */
static int kept_wait(void)
{
	long long deadline = monotonic_ms() + (long long)DELIVER_CHILD_LIMIT_SECS * 1000;
	struct pollfd pf[2] = { { .fd = kept.done[0], .events = POLLIN }, { .fd = kept.pidfd, .events = POLLIN } };
	for (;;) {
		int n = poll(pf, 2, ms_until(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && (pf[0].revents & POLLIN)) {
			char c;
			if (read(kept.done[0], &c, 1) == 1)
				return (kept.result & 0xff) << 8;   /* as WIFEXITED with that status */
		}
		if (n == 0)
			kill(kept.pid, SIGKILL);   /* past the limit: handled as any child that died */
		if (n == 0 || n < 0 || (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			bool started = kept.started;
			int st;
			kept_reap(&st);
			return started ? st : -1;
		}
	}
}

/* Whether this batch can use (or start) a kept child. */
static bool keepable(const dctx *d, const dbatch *b, bool remote)
{
	static pid_t owner;
	if (owner != getpid()) {
		/* A fork of a process that had one: that child is not ours; the copies of its
		 * descriptors are closed here (our table is our own). */
		if (kept.pidfd >= 0)
			close(kept.pidfd);
		if (kept.self_pidfd >= 0)
			close(kept.self_pidfd);
		close_pair(kept.go);
		close_pair(kept.done);
		kept.pid = 0;
		kept.pidfd = kept.self_pidfd = -1;
		owner = getpid();
	}
	if (remote || !d->o->commit_dir || tp_opt_bool(b->t, "initgroups"))
		return false;
	if (kept.self_pidfd < 0) {
#ifdef SYS_pidfd_open
		kept.self_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (kept.self_pidfd >= 0)
			(void)fcntl(kept.self_pidfd, F_SETFD, FD_CLOEXEC);
#endif
	}
	return kept.self_pidfd >= 0;
}

bool dinproc_run(dctx *d, dbatch *b, bool remote, uid_t uid, gid_t gid, const char *name, const char *dir)
{
	/* Open the main log here first: the child then writes through the same descriptor. */
	log_open_main();
	/* A child is kept from the second batch in a row for one user on: a run whose batches
	 * alternate between users clones one per batch as before, instead of also ending a kept
	 * one (and waiting for it) at each change. */
	static struct {
		pid_t owner;
		uid_t uid;
		gid_t gid;
	} last;
	bool same = last.owner == getpid() && last.uid == uid && last.gid == gid;
	last.owner = getpid();
	last.uid = uid;
	last.gid = gid;
	bool keep = keepable(d, b, remote) && same;
	if (kept.pid && (!keep || kept.uid != uid || kept.gid != gid))
		dinproc_release();   /* (before anything else uses the children's stack) */
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
	int status = 0;
	pid_t pid = -1;
	if (keep && kept.pid) {
		/* The kept child, already this user: the batch is in its arg when it reads 'g'. */
		kept.arg = c;
		kept.started = 0;
		died.child = kept.pid;
		if (write(kept.go[1], "g", 1) == 1 && (status = kept_wait()) != -1)
			pid = died.child;
		else if (kept.pid)
			dinproc_release();
	}
	if (pid < 0 && keep && pipe2(kept.go, O_CLOEXEC) == 0) {
		if (pipe2(kept.done, O_CLOEXEC) == 0) {
			kept.arg = c;
			kept.uid = uid;
			kept.gid = gid;
			kept.started = 1;   /* its first batch is taken as it starts */
			pid = clone(kept_main, mem + CHILD_STACK, CLONE_VM | CLONE_FILES | CLONE_PIDFD | SIGCHLD, NULL,
				&kept.pidfd);
#ifdef SYS_pidfd_open
			if (pid < 0 && errno == EINVAL) {
				pid = clone(kept_main, mem + CHILD_STACK, CLONE_VM | CLONE_FILES | SIGCHLD, NULL);
				kept.pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
			}
#endif
		}
		if (pid > 0) {
			kept.pid = pid;
			died.child = pid;
			if (kept.pidfd >= 0) {
				status = kept_wait();   /* (not -1: it started with the batch) */
			} else {
				/* Nothing to watch it by: this one batch, then it ends, with the batch's
				 * status, and is waited for as a child of its own. */
				(void)!write(kept.go[1], "q", 1);
				(void)dwait_reap_pidfd(pid, -1, monotonic_ms() + (int64_t)DELIVER_CHILD_LIMIT_SECS * 1000, &status);
				kept.pid = 0;
				close_pair(kept.go);
				close_pair(kept.done);
			}
		} else {
			kept.pidfd = -1;
			close_pair(kept.go);
			close_pair(kept.done);
		}
	}
	if (pid < 0) {
		pid = clone(child_main, mem + CHILD_STACK, CLONE_VM | CLONE_FILES | CLONE_PIDFD | SIGCHLD, &c, &pidfd);
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
		/* Past the limit it is killed, and then handled as any child that died. */
		(void)dwait_reap_pidfd(pid, pidfd, monotonic_ms() + (int64_t)DELIVER_CHILD_LIMIT_SECS * 1000, &status);
	}
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
