/* A local reception by root received as the exim user, its deliveries started with root
 * (priv_receive.h). */
#include "core/priv_receive.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/message.h"
#include "core/priv.h"
#include "core/priv_reexec.h"
#include "core/priv_trust.h"
#include "core/queue_named.h"
#include "lib/caller_id.h"
#include "lib/fdio.h"
#include "lib/log.h"

/* One message handed from the reception child to the root parent: fixed size, sent whole. */
typedef struct hand_off {
	char id[MSG_ID_LEN + 1];
	unsigned char foreground;     /* -odi/-odf: deliver before the child goes on */
	unsigned char dont_deliver;   /* -N */
	unsigned char queue_smtp;     /* -odqs */
	unsigned char queue_len;      /* 0: the default queue */
	char queue_name[QUEUE_NAME_MAX + 1];
} hand_off;

static bool is_child;        /* this process is the reception child */
static int parent_fd = -1;   /* the child's end of the socket; -1 once it failed */

static bool send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

bool priv_receive_hand_off(const spool_config *sc, const char *id, const deliver_opts *o, bool foreground)
{
	if (!is_child)
		return false;
	hand_off h;
	memset(&h, 0, sizeof h);
	const char *qn = sc->queue_name ? sc->queue_name : "";
	size_t ql = strnlen(qn, QUEUE_NAME_MAX + 1);
	if (strnlen(id, MSG_ID_LEN + 1) != MSG_ID_LEN || ql > QUEUE_NAME_MAX) {
		log_write(LOG_MAIN | LOG_PANIC, "cannot hand %s to the delivering process: id or queue name too long", id);
		return true;
	}
	memcpy(h.id, id, MSG_ID_LEN);
	h.foreground = foreground;
	h.dont_deliver = o->dont_deliver;
	h.queue_smtp = o->queue_smtp;
	h.queue_len = (unsigned char)ql;
	memcpy(h.queue_name, qn, ql);
	char ack;
	errno = 0;
	if (parent_fd < 0 || !send_all(parent_fd, &h, sizeof h) || !fd_read_all(parent_fd, &ack, 1)) {
		/* The message is on the spool: a queue runner delivers it. This process is the exim
		 * user and does not try itself (a local delivery to another user would defer). */
		log_write(LOG_MAIN | LOG_PANIC, "failed to hand %s to the delivering process: %s", id,
			errno ? strerror(errno) : "it is gone");
		if (parent_fd >= 0)
			close(parent_fd);
		parent_fd = -1;
	}
	return true;
}

/* What a less privileged process sent: a real message id and, when named, a valid queue. */
static bool hand_off_valid(hand_off *h)
{
	if (h->id[MSG_ID_LEN] != 0 || !spool_valid_id(sv_make(h->id, MSG_ID_LEN)))
		return false;
	if (h->queue_len > QUEUE_NAME_MAX || h->foreground > 1 || h->dont_deliver > 1 || h->queue_smtp > 1)
		return false;
	h->queue_name[h->queue_len] = 0;
	if (!h->queue_len)
		return true;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	return queue_named_check(sv_make(h->queue_name, h->queue_len), &err);
}

/* The root parent: start the delivery of each message the child hands over, then end as the
 * child did. */
static int parent_run(int fd, pid_t child)
{
	/* The child alone reads the caller's input. */
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		close(null);
	}
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_perm);
	bool have_sc = spool_config_from_main(&sc, &err);
	if (!have_sc)
		log_write(LOG_MAIN | LOG_PANIC, "deliveries after the reception: %s", xbuf_cstr(&err));
	hand_off h;
	while (fd_read_all(fd, &h, sizeof h)) {
		if (!hand_off_valid(&h)) {
			log_write(LOG_MAIN | LOG_PANIC, "reception process sent a malformed delivery request");
			break;   /* the child's next hand-off fails; its messages wait for a queue run */
		}
		if (have_sc) {
			spool_config msc = sc;
			msc.queue_name = h.queue_len ? h.queue_name : NULL;
			deliver_opts o = { .dont_deliver = h.dont_deliver, .queue_smtp = h.queue_smtp };
			/* As Exim's "exim [-C file] [-odi] -Mc id", which a pipe command sees as its
			 * parent's command line. */
			priv_reexec_delivery_root(&msc, h.id, &o, h.foreground);
		}
		char ack = 1;
		if (!send_all(fd, &ack, 1))
			break;
	}
	close(fd);
	int status;
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			return 1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		/* End the way the reception did, as the caller would have seen it end. */
		int sig = WTERMSIG(status);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
	}
	return 1;
}

int priv_receive_split(void)
{
	if (!priv_is_root() || priv_untrusted_option() != NULL || priv_trust_test_aid())
		return -1;
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		log_write(LOG_MAIN | LOG_PANIC, "reception as the exim user: socketpair failed: %s", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "reception as the exim user: fork failed: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return 1;
	}
	if (pid > 0) {
		close(sp[1]);
		return parent_run(sp[0], pid);
	}
	pid_t parent = getppid();
	close(sp[0]);
	is_child = true;
	parent_fd = sp[1];
	/* The caller is still root: U=root, $caller_uid 0, -f allowed, -H line 2 "root 0 0". */
	caller_id_pin();
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!priv_drop_to_exim(&err)) {
		log_write(LOG_MAIN | LOG_PANIC, "reception as the exim user: %s", xbuf_cstr(&err));
		return 1;
	}
	/* The caller knows the parent's pid only: when that is killed, the reception ends too, as
	 * Exim's single process would. Set after the uid change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() != parent)
		raise(SIGTERM);
	return -1;
}
