/* Continued deliveries run in this process (core/deliver_continue.h): the -MC mode, and a
 * delivery process that was handed a connection back and goes on with the next message itself
 * instead of exec'ing a -MC process (which would load the configuration again for every
 * message). Each message is an ordinary deliver_message, one after the other, as -M does for
 * several ids. */
#include "core/deliver_continue.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/deliver.h"
#include "core/queue.h"
#include "lib/arena.h"
#include "lib/log.h"

/* QUIT on a connection nothing used (the message was gone or locked). */
static void quit_unused(int fd)
{
	static const char quit[] = "QUIT\r\n";
	if (write(fd, quit, sizeof quit - 1) == (ssize_t)(sizeof quit - 1)) {
		char buf[512];
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		ssize_t n = read(fd, buf, sizeof buf);
		(void)n;
	}
	close(fd);
}

void dcont_deliver(const spool_config *sc, const dcont_handoff *h, int fd)
{
	dcont_conn cc = {
		.fd = fd,
		.sequence = h->sequence,
		.offered = h->offered,
		.authenticated = h->authenticated,
		.queue_name = sc->queue_name,
		.proxy_address = h->proxy_cipher ? h->proxy_address : NULL,
		.proxy_cipher = h->proxy_cipher,
		.proxy_port = h->proxy_port,
	};
	deliver_continue dc = {
		.transport = h->transport,
		.host_name = h->host_name,
		.host_address = h->host_address,
		.conn = &cc,
		.messages = h->sequence,
	};
	deliver_opts o = { .cont = &dc };
	arena_mark mk = arena_getmark(pool_msg);
	deliver_rc rc = deliver_message(sc, h->id, &o);
	if (!cc.used)
		quit_unused(fd);
	if (access(spool_path(pool_msg, sc, "input", h->id, "-H"), F_OK) == 0) {
		if (rc != DELIVER_NOT_ATTEMPTED)
			deliver_note_schedule(sc, h->id);
	} else if (errno == ENOENT)
		queue_schedule_forget(sc, h->id);
	arena_reset(pool_msg, mk);
}

