/* Transport children: the delivery process forks one per batch. A local transport's child takes
 * the delivery's uid/gid (transport user/group, else the router's) through priv.c and changes to
 * its working directory; a remote transport's child runs as the exim user. The child calls the
 * transport and writes one typed record per address into a pipe (deliver_result.c); the parent
 * reads at most DRES_MAX_TOTAL bytes, reaps the child and applies the records. Any address
 * without a valid record is deferred and the problem panic-logged: a transport that crashes,
 * hangs up early or writes garbage can never make an address look delivered. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "conf/option.h"
#include "core/deliver_child.h"
#include "core/deliver_internal.h"
#include "core/deliver_wait.h"
#include "lib/clock.h"
#include "core/priv.h"
#include "core/tp_output.h"
#include "core/transport.h"
#include "lib/fdio.h"
#include "lib/log.h"

static bool expand_opt(xp_env *env, const char *src, xbuf *out, xbuf *err)
{
	xbuf_reset(out);
	return xp_expand(env, sv_cstr(src), out, err) == XP_OK;
}

/* The transport's user and group by name, remembered while /etc/passwd (/etc/group) keeps its
 * inode, size and times. A queue worker delivers up to QUEUE_WORKER_MESSAGES messages, and each
 * getpwnam/getgrnam read the file through (twelve system calls and the parsing per delivery,
 * against two stats now); a changed file is read again at once. Only names found are kept: a
 * failed look-up is made again every time, as before. (A name the files do not have but another
 * NSS source does is kept as long as the files do not change: for the life of one worker.) */
#define ID_CACHE_MAX 8
typedef struct id_entry {
	char key[64], login[64];
	uid_t uid;
	gid_t gid;
} id_entry;
typedef struct id_cache {
	const char *file;
	struct stat st;   /* of file when the entries were found */
	bool have_st;
	size_t n;
	id_entry e[ID_CACHE_MAX];
} id_cache;
static id_cache users = { .file = "/etc/passwd" }, groups = { .file = "/etc/group" };

static id_entry *id_find(id_cache *c, const char *key)
{
	struct stat st;
	if (stat(c->file, &st) != 0) {
		c->n = 0;
		c->have_st = false;
		return NULL;
	}
	if (!c->have_st || st.st_ino != c->st.st_ino || st.st_dev != c->st.st_dev || st.st_size != c->st.st_size
		|| st.st_mtim.tv_sec != c->st.st_mtim.tv_sec || st.st_mtim.tv_nsec != c->st.st_mtim.tv_nsec
		|| st.st_ctim.tv_sec != c->st.st_ctim.tv_sec || st.st_ctim.tv_nsec != c->st.st_ctim.tv_nsec) {
		c->n = 0;
		c->st = st;
		c->have_st = true;
		return NULL;
	}
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key, key) == 0)
			return &c->e[i];
	return NULL;
}

static void id_keep(id_cache *c, const char *key, const char *login, uid_t uid, gid_t gid)
{
	if (!c->have_st || c->n >= ID_CACHE_MAX || strlen(key) >= sizeof c->e[0].key
		|| (login && strlen(login) >= sizeof c->e[0].login))
		return;
	id_entry *e = &c->e[c->n++];
	snprintf(e->key, sizeof e->key, "%s", key);
	snprintf(e->login, sizeof e->login, "%s", login ? login : "");
	e->uid = uid;
	e->gid = gid;
}

/* getpwnam through the cache: true with the uid, gid and login name (in pool_msg). */
static bool user_by_name(const char *name, uid_t *uid, gid_t *gid, const char **login)
{
	id_entry *e = id_find(&users, name);
	if (!e) {
		struct passwd *pw = getpwnam(name);
		if (!pw)
			return false;
		id_keep(&users, name, pw->pw_name, pw->pw_uid, pw->pw_gid);
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		*login = arena_strdup(pool_msg, pw->pw_name);
		return true;
	}
	*uid = e->uid;
	*gid = e->gid;
	*login = arena_strdup(pool_msg, e->login);
	return true;
}

static bool group_by_name(const char *name, gid_t *gid)
{
	id_entry *e = id_find(&groups, name);
	if (!e) {
		struct group *gr = getgrnam(name);
		if (!gr)
			return false;
		id_keep(&groups, name, NULL, 0, gr->gr_gid);
		*gid = gr->gr_gid;
		return true;
	}
	*gid = e->gid;
	return true;
}

/* The uid, gid and login name a batch runs as. false: text says why (the batch defers). */
static bool batch_ids(dctx *d, dbatch *b, bool remote, uid_t *uid, gid_t *gid, const char **name, xbuf *text)
{
	*name = NULL;
	if (remote) {
		*uid = priv_exim_uid();
		*gid = priv_exim_gid();
		return true;
	}
	const address_item *first = b->addrs;
	bool have_uid = first->uid_set, have_gid = first->gid_set;
	*uid = first->uid;
	*gid = first->gid;
	xbuf v, err;
	xbuf_init(&v, pool_scratch);
	xbuf_init(&err, pool_scratch);
	const char *user = tp_opt_str(b->t, "user");
	if (user && *user) {
		if (!expand_opt(d->env, user, &v, &err)) {
			xbuf_printf(text, "Failed to expand user string \"%s\" for the %s transport: %s", user, b->t->name, xbuf_cstr(&err));
			return false;
		}
		long long n;
		if (sv_to_long(xbuf_sv(&v), &n) && n >= 0) {
			*uid = (uid_t)n;
			struct passwd *pw = getpwuid(*uid);
			if (pw) {
				*gid = pw->pw_gid;
				have_gid = true;
				*name = arena_strdup(pool_msg, pw->pw_name);
			}
		} else if (user_by_name(xbuf_cstr(&v), uid, gid, name)) {
			have_gid = true;
		} else {
			xbuf_printf(text, "Failed to find user \"%s\" from expanded string \"%s\" for the %s transport", xbuf_cstr(&v), user, b->t->name);
			return false;
		}
		have_uid = true;
	}
	const char *group = tp_opt_str(b->t, "group");
	if (group && *group) {
		if (!expand_opt(d->env, group, &v, &err)) {
			xbuf_printf(text, "Failed to expand group string \"%s\" for the %s transport: %s", group, b->t->name, xbuf_cstr(&err));
			return false;
		}
		long long n;
		if (sv_to_long(xbuf_sv(&v), &n) && n >= 0)
			*gid = (gid_t)n;
		else if (!group_by_name(xbuf_cstr(&v), gid)) {
			xbuf_printf(text, "Failed to find group \"%s\" from expanded string \"%s\" for the %s transport", xbuf_cstr(&v), group, b->t->name);
			return false;
		}
		have_gid = true;
	}
	if (!have_uid) {
		/* The transport's user defaults to the Exim user, and then the group to the Exim
		 * group (observed: a pipe or appendfile transport with no user anywhere runs as
		 * exim_user, root calling or not). */
		*uid = priv_exim_uid();
		have_uid = true;
		if (!have_gid) {
			*gid = priv_exim_gid();
			have_gid = true;
		}
	}
	if (!have_gid) {
		xbuf_printf(text, "User set without group for %s transport", b->t->name);
		return false;
	}
	/* Root is always refused for deliveries (Exim's fixed_never_users), and never_users too. */
	if (*uid == 0) {
		xbuf_printf(text, "User 0 set for %s transport is on the fixed_never_users list", b->t->name);
		return false;
	}
	if (priv_is_never_user(*uid)) {
		xbuf_printf(text, "User %lu set for %s transport is on the never_users list", (unsigned long)*uid, b->t->name);
		return false;
	}
	if (!*name) {
		struct passwd *pw = getpwuid(*uid);
		if (pw)
			*name = arena_strdup(pool_msg, pw->pw_name);
	}
	return true;
}

/* The directory the child works in: current_directory, else home_directory / the router's
 * home, else "/". */
static const char *work_dir(dctx *d, dbatch *b)
{
	xbuf v, err;
	xbuf_init(&v, pool_scratch);
	xbuf_init(&err, pool_scratch);
	const char *cd = tp_opt_str(b->t, "current_directory");
	if (cd && *cd && expand_opt(d->env, cd, &v, &err) && v.len)
		return arena_strdup(pool_msg, xbuf_cstr(&v));
	const char *hd = tp_opt_str(b->t, "home_directory");
	if (hd && *hd && expand_opt(d->env, hd, &v, &err) && v.len)
		return arena_strdup(pool_msg, xbuf_cstr(&v));
	if (b->addrs->home.len)
		return sv_dup(pool_msg, b->addrs->home);
	return "/";
}

/* A transport's own boolean option (false when it has none of that name). */
static bool private_bool(const driver_instance *t, const char *name)
{
	if (!t || !t->info || !t->priv)
		return false;
	const opt_row *row = opt_find(t->info->options, t->info->noptions, name);
	if (!row || row->type != OPT_BOOL)
		return false;
	bool v;
	memcpy(&v, (const char *)t->priv + row->offset, sizeof v);
	return v;
}

/* What the child needs from root before it becomes the delivery's user: the main log open (so
 * the transport can log, as Exim opens it before the uid change), and the files a command's
 * returned output goes to (return_output, return_fail_output: tp_output.h), kept open. */
static void before_uid_change(dctx *d, dbatch *b)
{
	log_open_main();
	if (!private_bool(b->t, "return_output") && !private_bool(b->t, "return_fail_output"))
		return;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	for (address_item *a = b->addrs; a; a = a->next) {
		xbuf_reset(&err);
		if (!tp_output_prepare(pool_msg, d->sc, d->m->id, a, &err))
			log_write(LOG_MAIN | LOG_PANIC, "%s transport: %s", b->t->name, xbuf_cstr(&err));
	}
}

/* In the child: become the user, run the transport, report. Never returns. */
static void child_run(dctx *d, dbatch *b, bool remote, uid_t uid, gid_t gid, const char *name, const char *dir, int wfd)
{
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (!remote)
		before_uid_change(d, b);
	else
		log_open_main();
	bool journaled = dchild_deliver(d, b, remote, uid, gid, name, dir);
	xbuf out;
	xbuf_init(&out, pool_msg);
	uint32_t i = 0;
	for (address_item *a = b->addrs; a; a = a->next, i++)
		dres_encode(&out, i, a);
	if (!fd_write_all(wfd, out.p, out.len))
		_exit(1);
	close(wfd);
	_exit(journaled ? 0 : DCHILD_EXIT_UNJOURNALED);
}

bool dbatch_start(dctx *d, dbatch *b, bool remote)
{
	b->remote = remote;
	xbuf why;
	xbuf_init(&why, pool_scratch);
	uid_t uid;
	gid_t gid;
	const char *name;
	if (!b->t) {
		xbuf_printf(&why, "transport \"%s\" not found", b->addrs->transport ? b->addrs->transport : "");
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&why));
		dchild_defer_all(b, ADDR_ERRNO_UNKNOWN, xbuf_cstr(&why));
		return false;
	}
	if (!b->t->info->ops) {
		xbuf_printf(&why, "%s transport is not available in this build", b->t->info->name);
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&why));
		dchild_defer_all(b, ADDR_ERRNO_UNKNOWN, xbuf_cstr(&why));
		return false;
	}
	xp_provider p;
	route_vars_push(d->env, &p, b->addrs);
	bool ids_ok = batch_ids(d, b, remote, &uid, &gid, &name, &why);
	const char *dir = ids_ok ? work_dir(d, b) : "/";
	d->env->providers = p.next; /* pop the address variables again */
	if (!ids_ok) {
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&why));
		dchild_defer_all(b, DERR_UID_GID, xbuf_cstr(&why));
		return false;
	}
	if (d->journal_fd < 0 && !d->dont_deliver) {
		xbuf jerr;
		xbuf_init(&jerr, pool_scratch);
		d->journal_fd = djournal_open(d->sc, d->m->id, &jerr);
		if (d->journal_fd < 0)
			log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&jerr));
	}
	/* A uid change that must fail is left to a forked child, which reports it as Exim's does. */
	if (dinproc_eligible(d, b, remote) && priv_can_become(uid, gid) && dinproc_run(d, b, remote, uid, gid, name, dir))
		return true;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		dchild_defer_all(b, errno, "failed to create a pipe for the transport process");
		log_write(LOG_MAIN | LOG_PANIC, "failed to create pipe: %s", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		dchild_defer_all(b, e, "fork failed for the transport process");
		log_write(LOG_MAIN | LOG_PANIC, "fork failed for %s transport: %s", b->t->name, strerror(e));
		return false;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_run(d, b, remote, uid, gid, name, dir, pfd[1]);
	}
	close(pfd[1]);
	b->journal_child = d->journal_fd >= 0 && !d->dont_deliver;
	/* pipe and lmtp bound their commands with their own `timeout` (0: none, as in Exim). */
	bool own_timeout = b->t->info && b->t->info->name
		&& (strcmp(b->t->info->name, "pipe") == 0 || strcmp(b->t->info->name, "lmtp") == 0);
	b->deadline_ms = own_timeout ? INT64_MAX : monotonic_ms() + (int64_t)DELIVER_CHILD_LIMIT_SECS * 1000;
	b->pid = pid;
	b->fd = pfd[0];
	xbuf_init(&b->buf, pool_msg);
	return true;
}

/* Read what the child sends; false at end of file (or when it sends too much). */
bool dbatch_read(dbatch *b)
{
	char chunk[16384];
	ssize_t n = read(b->fd, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	if (b->buf.len + (size_t)n > DRES_MAX_TOTAL)
		return false;
	xbuf_put(&b->buf, chunk, (size_t)n);
	return true;
}

void dbatch_finish(dctx *d, dbatch *b)
{
	if (b->inproc && !b->inproc_records)
		return; /* the results are in the addresses already */
	bool killed = false;
	int status = b->inproc_status;
	if (!b->inproc && b->fd >= 0) {
		for (;;) {
			int r = dwait_readable(b->fd, b->deadline_ms);
			if (r == 0) {
				/* Past its limit (deliver_wait.h): killed, its addresses get no result. What it
				 * sent so far counts; a descendant still holding the pipe is not waited for. */
				kill(b->pid, SIGKILL);
				killed = true;
				break;
			}
			if (r < 0 || !dbatch_read(b))
				break;
		}
		close(b->fd);
		b->fd = -1;
	}
	if (!b->inproc) {
		status = 0;
		(void)dwait_reap(b->pid, killed ? monotonic_ms() : b->deadline_ms, &status);
		b->journaled = b->journal_child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	address_item *list[b->n ? b->n : 1];
	bool got[b->n ? b->n : 1];
	size_t i = 0;
	for (address_item *a = b->addrs; a && i < b->n; a = a->next, i++) {
		list[i] = a;
		got[i] = false;
	}
	xbuf err;
	xbuf_init(&err, pool_scratch);
	bool clean = dres_decode(pool_msg, b->buf.p ? b->buf.p : "", b->buf.len, list, got, i, &err);
	if (!clean)
		log_write(LOG_MAIN | LOG_PANIC, "%s transport: bad result records: %s", b->t->name, xbuf_cstr(&err));
	/* A remote transport process that ended abnormally before sending anything: Exim 4.96's
	 * lines for its killed smtp transport process (observed with kill -9 during the data):
	 * "Delivery status for <address>: got 0 of 7 bytes (pipeheader) from transport process <pid>
	 * for transport smtp" and an empty line (main and panic log) for each address of the batch,
	 * then every one deferred with the status as its text, and the message frozen; the rest of
	 * the attempt (bounces for other addresses) goes on. What the process journaled (earlier
	 * max_rcpt transactions) is delivered all the same: -H says so at the end (observed: "=="
	 * for them, "D" in -bp). */
	if (b->remote && i > 0 && b->buf.len == 0 && (status & 0xffff) != 0 && !WIFEXITED(status)) {
		const char *drv = b->t->info ? b->t->info->name : b->t->name;
		for (size_t k = 0; k < i; k++)
			log_write(LOG_MAIN | LOG_PANIC, "Delivery status for %.*s: got 0 of 7 bytes (pipeheader) from "
				"transport process %ld for transport %s\n", SV_ARG(list[k]->address), (long)b->pid, drv);
		d->child_died = true;
		sv text = sv_cstr(arena_printf(pool_msg, "%s transport process returned non-zero status 0x%04x: "
			"terminated by signal %d", drv, (unsigned)status & 0xffff, WTERMSIG(status)));
		for (size_t k = 0; k < i; k++) {
			list[k]->result = ADDR_DEFER;
			list[k]->basic_errno = ADDR_ERRNO_UNKNOWN;
			list[k]->message = text;
			list[k]->retries = NULL;
			list[k]->freeze = true;
		}
		return;
	}
	/* An address without a result defers with no text, after Exim's two panic-log lines: one per
	 * address, then the process's status when it is not zero. */
	bool missing = false;
	for (size_t k = 0; k < i; k++) {
		if (got[k])
			continue;
		address_item *a = list[k];
		log_write(LOG_MAIN | LOG_PANIC, "failed to read delivery status for %.*s from delivery subprocess",
			SV_ARG(a->address));
		a->result = ADDR_DEFER;
		a->basic_errno = ADDR_ERRNO_UNKNOWN;
		a->message = SV_NULL;
		a->retries = NULL;
		missing = true;
	}
	if ((status & 0xffff) != 0 && (missing || !clean)) {
		bool sig = WIFSIGNALED(status);
		log_write(LOG_MAIN | LOG_PANIC, "%s transport process returned non-zero status 0x%04x: %s %d",
			b->t->info ? b->t->info->name : b->t->name, (unsigned)status & 0xffff,
			sig ? "terminated by signal" : "exit code", sig ? WTERMSIG(status) : WEXITSTATUS(status));
		/* Exim then freezes the message (observed: a plain "Frozen" line when the deferred
		 * addresses stay queued, as with a child that could not change its uid). */
		for (size_t k = 0; k < i; k++)
			if (!got[k])
				list[k]->freeze = true;
	}
}
