/* The connection cache of a delivery worker (deliver_launch_pool.c): one plain SMTP connection
 * that the smtp transport left open after a delivery, for the next message the worker delivers
 * to the same destination (docs/transports.md, "Connection cache"). Beyond Exim, which keeps a
 * connection only for messages already waiting for the host (wait-<transport>, -MC); Postfix
 * keeps its connections the same way.
 *
 * The transport runs in a child cloned with CLONE_VM | CLONE_FILES (deliver_inproc.c): the
 * cache is plain memory of the worker and the socket a descriptor of the table both share, so
 * it outlives the child. A forked transport child cannot leave anything behind: the cache is
 * open to the transport only while dccache_in_clone is set around a cloned child. */
#ifndef POSTERN_CORE_DELIVER_CONN_CACHE_H
#define POSTERN_CORE_DELIVER_CONN_CACHE_H

#include <stdbool.h>
#include <stddef.h>

/* Set by a launcher worker for its life: its transports may keep a connection. */
extern bool dccache_enabled;
/* Set by dinproc_run while its cloned child runs (the child shares this memory). */
extern bool dccache_in_clone;

/* Whether a transport running now may take or leave a connection. */
bool dccache_usable(void);

/* Keep fd (the caller gives it up) under key (any bytes: the transport's description of the
 * destination), with what its server offered and the messages it carried so far, for idle_ms.
 * A connection held already is closed first (QUIT). false: not kept (key too long); the
 * caller still owns fd. */
bool dccache_put(int fd, const char *key, size_t keylen, unsigned offered, int sequence, int idle_ms);

/* The held connection when its key is key and its idle time has not ended: its descriptor
 * (the caller owns it from now on), with *offered and *sequence. -1: none. */
int dccache_take(const char *key, size_t keylen, unsigned *offered, int *sequence);

/* The held connection's descriptor (-1: none) and the milliseconds left of its idle time. */
int dccache_fd(void);
int dccache_left_ms(void);

/* End the held connection: QUIT (waiting briefly for the reply, less if wake_fd becomes
 * readable meanwhile: a job waiting; -1: none) when quit, else just close (the server closed it
 * or said something unasked, e.g. 421). */
void dccache_close(bool quit, int wake_fd);

#endif
