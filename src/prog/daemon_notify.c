/* The daemon's notifier socket (daemon_notify.h): the daemon side (open, requests) and the two
 * client requests. Linux abstract names only, as Exim 4.96 on Linux: the name is the expanded
 * notifier_socket with a NUL byte in front, so no file is created and nothing is left behind
 * when the daemon dies (`ss -xlp` shows it as "@<name>"). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/fast_ramp.h"
#include "core/spool.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "prog/daemon_notify.h"

enum { NOTIFY_MSG_QRUN = 1, NOTIFY_QUEUE_SIZE_REQ = 2 };

/* A request is one small datagram; anything longer is cut here and then ignored as malformed. */
#define NOTIFY_MAX 256

static int notify_fd = -1;

int daemon_notify_open(const cmdline *cl)
{
	/* Exim: -oY, or a daemon on other interfaces (-oX) without its own pid file (-oP), which
	 * would otherwise take the standard daemon's name. */
	if (cl->no_notifier || (cl->override_local_interfaces && !cl->pid_file))
		return -1;
	struct sockaddr_un sa;
	socklen_t len;
	const char *name = NULL;
	if (!notifier_address(&sa, &len, &name))
		return -1;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "daemon: notifier socket: %s", strerror(errno));
		return -1;
	}
	/* The sender's credentials come with each datagram: only root and the Exim user are
	 * listened to (Exim 4.96 does the same: a request from another uid gets no answer). */
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
		log_write(LOG_MAIN | LOG_PANIC, "daemon: notifier socket: SO_PASSCRED: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
		log_write(LOG_MAIN | LOG_PANIC, "daemon: failed to bind notifier socket %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	notify_fd = fd;
	return fd;
}

void daemon_notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}

/* The queue's message count, counted again at most once a minute (Exim: $queue_size "is
 * evaluated on demand, but no more often than once every minute"). The queue is the one this
 * daemon runs: Exim 4.96's daemon started with -qG<name>/<time> counts that named queue (observed:
 * 3 in "foo", 2 in the default queue; -qGfoo gave 3, -q and no -q gave 2, -qGbar gave 0). */
static unsigned long queue_count(const qrun_sched *q)
{
	static time_t counted_at;
	static unsigned long count;
	time_t now = time(NULL);
	if (counted_at && now >= counted_at && now - counted_at < 60)
		return count;
	arena_mark mk = arena_getmark(pool_scratch);
	char (*ids)[MSG_ID_LEN + 1] = NULL;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	spool_config sc = q->sc;
	sc.queue_name = q->opts.queue_name && *q->opts.queue_name ? q->opts.queue_name : NULL;
	count = (unsigned long)spool_list_ids_ordered(pool_scratch, &sc, false, &ids, &err);
	arena_reset(pool_scratch, mk);
	counted_at = now;
	return count;
}

/* \x01 id \0 [queue \0]: a run for that message, when this daemon runs queues. Exim 4.96's
 * queue runner sends no queue name (queue_fast_ramp, core/fast_ramp.h; observed: 18 bytes, also
 * in a -qqG<name> run). */
static void queue_run_request(qrun_sched *q, const char *buf, size_t n)
{
	if (n < 1 + MSG_ID_LEN + 1 || buf[1 + MSG_ID_LEN] != 0 || buf[n - 1] != 0)
		return;
	sv id = { buf + 1, MSG_ID_LEN, 1, 0 };
	if (!spool_valid_id(id))
		return;
	/* The queue name that follows is not looked at: Exim 4.96's daemon (one queue runner)
	 * starts the run for a request naming another queue all the same (observed). */
	if (q->interval <= 0)
		return;
	char idc[MSG_ID_LEN + 1];
	memcpy(idc, id.p, MSG_ID_LEN);
	idc[MSG_ID_LEN] = 0;
	log_write(LOG_MAIN, "notify triggered queue run");
	queue_run_opts o = q->opts;
	o.start_id = o.stop_id = idc;
	o.in_order = true;
	qrun_sched_spawn(q, &o);
}

/* The sender's uid from the SCM_CREDENTIALS message; -1 when there is none. */
static long sender_uid(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS
			&& c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred cr;
			memcpy(&cr, CMSG_DATA(c), sizeof cr);
			return (long)cr.uid;
		}
	return -1;
}

void daemon_notify_ready(qrun_sched *q)
{
	for (int i = 0; i < 64 && notify_fd >= 0; i++) {
		char buf[NOTIFY_MAX];
		struct sockaddr_un from;
		union {
			struct cmsghdr align;
			char space[CMSG_SPACE(sizeof(struct ucred))];
		} ctl;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.space, .msg_controllen = sizeof ctl.space };
		ssize_t n = recvmsg(notify_fd, &mh, MSG_TRUNC);
		if (n < 0)
			return;   /* EAGAIN: all taken */
		socklen_t fromlen = mh.msg_namelen;
		long uid = sender_uid(&mh);
		if (n == 0 || (size_t)n > sizeof buf || (mh.msg_flags & MSG_CTRUNC)
			|| (uid != 0 && uid != (long)conf_main.exim_user))
			continue;
		if (buf[0] == NOTIFY_QUEUE_SIZE_REQ) {
			/* An unbound sender cannot be answered (it has no name). */
			if (fromlen <= offsetof(struct sockaddr_un, sun_path))
				continue;
			char reply[24];
			int len = snprintf(reply, sizeof reply, "%lu", queue_count(q));
			if (sendto(notify_fd, reply, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&from, fromlen) < 0)
				log_write(LOG_MAIN, "daemon notifier: sendto: %s", strerror(errno));
		} else if (buf[0] == NOTIFY_MSG_QRUN) {
			queue_run_request(q, buf, (size_t)n);
		}
	}
}

/* A client socket with an automatically chosen abstract name (so the daemon can answer),
 * connected to the daemon's; -1 when there is no daemon. */
static int client_socket(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	if (!notifier_address(&sa, &len, NULL))
		return -1;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_un self = { .sun_family = AF_UNIX };
	if (bind(fd, (struct sockaddr *)&self, sizeof(sa_family_t)) != 0 ||   /* autobind */
		connect(fd, (struct sockaddr *)&sa, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void daemon_notify_queue_size(xbuf *out)
{
	int fd = client_socket();
	if (fd < 0)
		return;
	char req = NOTIFY_QUEUE_SIZE_REQ;
	bool answered = false;
	if (send(fd, &req, 1, 0) == 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[24];
		ssize_t n;
		if (poll(&p, 1, 2000) == 1 && (n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT)) > 0) {
			buf[n] = 0;
			if (strspn(buf, "0123456789") == (size_t)n) {
				xbuf_put(out, buf, (size_t)n);
				answered = true;
			}
		}
	}
	close(fd);
	if (answered)
		return;
	/* A daemon that is there but silent (stopped, busy, or Exim's queue-runner daemon, which
	 * never reads it): Exim's client counts the queue itself after 2 s (observed). */
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!spool_config_from_main(&sc, &err))
		return;
	arena_mark mk = arena_getmark(pool_scratch);
	char (*ids)[MSG_ID_LEN + 1] = NULL;
	size_t count = spool_list_ids_ordered(pool_scratch, &sc, false, &ids, &err);
	arena_reset(pool_scratch, mk);
	xbuf_printf(out, "%zu", count);
}

bool daemon_notify_queue_run(const char *id, const char *queue_name)
{
	char buf[NOTIFY_MAX];
	size_t il = strlen(id), ql = strlen(queue_name);
	if (il != MSG_ID_LEN || 2 + il + ql + 1 > sizeof buf)
		return false;
	buf[0] = NOTIFY_MSG_QRUN;
	memcpy(buf + 1, id, il + 1);
	memcpy(buf + 2 + il, queue_name, ql + 1);
	int fd = client_socket();
	if (fd < 0)
		return false;
	bool ok = send(fd, buf, 2 + il + ql + 1, 0) == (ssize_t)(2 + il + ql + 1);
	close(fd);
	return ok;
}
