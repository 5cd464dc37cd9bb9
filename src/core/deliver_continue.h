/* Continued delivery over an open SMTP connection (Exim 4.96 "connection_max_messages", -MC):
 * the wait-<transport> hints database that lists, per host name, the messages waiting for that
 * host, and the hand-over of a connection to a new delivery process for the next of them.
 *
 * The flow, as Exim's: a message deferred for a host (or whose host was skipped for its retry
 * time, or held back by -odqs / the first phase of -qq) is recorded under the host's name. When
 * the smtp transport has delivered a message and the connection is still good, it takes the
 * next waiting message off the host's record (one that is still on the spool and is not the
 * current one) and execs this binary as "-MC <transport> <host> <ip> <seq> <id>" with the
 * connection as its standard input and what the server offered as -MCP/-MCS/-MCK/-MCD/-MCA. That
 * process delivers the message as usual, using the connection for the addresses routed to that
 * transport and host, and may pass it on again, up to connection_max_messages. A queue runner's
 * pipe (-MCQ) travels along so the runner waits for the whole chain before going on. */
#ifndef POSTERN_CORE_DELIVER_CONTINUE_H
#define POSTERN_CORE_DELIVER_CONTINUE_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/addr.h"
#include "core/spool.h"
#include "expand/expand.h"
#include "lib/str.h"

/* What the server offered, as -MCP, -MCS, -MCK, -MCD pass it on. */
enum {
	DCONT_PIPELINING = 1u << 0,
	DCONT_SIZE = 1u << 1,
	DCONT_CHUNKING = 1u << 2,
	DCONT_DSN = 1u << 3,
};

/* What a passed connection carries (the -MC family of options). Pointed to by
 * deliver_continue.conn. */
typedef struct dcont_conn {
	int fd;                       /* the connection (the -MC process's standard input) */
	int sequence;                 /* messages carried so far, this one included */
	unsigned offered;             /* DCONT_* the server offered (from -MCP, -MCS ...) */
	bool authenticated;           /* -MCA */
	bool used;                    /* a transport took the connection (it closes it) */
	const char *queue_name;       /* -MCG; NULL: the default queue */
	/* -MCt <ip> <port> <cipher>: the connection is a pipe to a process that keeps the TLS
	 * session and proxies it; the TCP connection's local end and the cipher (NULL: not). */
	const char *proxy_address, *proxy_cipher;
	int proxy_port;
} dcont_conn;

/* The queue runner's pipe: while a descendant holds its write end, the runner waits.
 * -1: not in a queue run. Set in the queue runner's delivery child and from -MCQ. */
extern int dcont_queue_pipe_fd;
extern pid_t dcont_queue_pid;

/* For a caller that waits for a delivery (-M, -Mc, -odi): Exim 4.96's transport becomes the
 * -MC process for the next waiting message, so its delivery process (and `exim -M`) returns
 * only when the whole chain has ended (observed: the continued message's "=>" line is in the
 * log when -M returns). Postern's -MC processes are detached; begin gives them this process's
 * pipe (-MCQ, as in a queue run; nothing when one is set already) and wait reads it to end of
 * file. begin returns the read end, or -1. */
int dcont_chain_begin(void);
void dcont_chain_wait(int read_end);

/* A queue worker makes that pipe only for a message whose delivery starts a remote transport
 * (the only kind that can pass a connection on): four system calls a local delivery never
 * needed. dcont_queue_pipe_defer before the message; dcont_queue_pipe_ensure before a remote
 * transport process starts (in the worker: every process of a chain, a TLS proxy too, is
 * started after it and holds the write end); dcont_queue_pipe_wait after the message and its
 * in-process continuations: closes the worker's write end and waits until no process of the
 * chain holds one, then forgets the pipe. Elsewhere (-MC with -MCQ) they do nothing. */
void dcont_queue_pipe_defer(void);
void dcont_queue_pipe_ensure(void);
void dcont_queue_pipe_wait(void);

/* Record id as waiting for host_name in wait-<transport> (no duplicates; the oldest ids go
 * when the record is full). Errors are ignored: the database is only a hint. */
void dcont_wait_add(const spool_config *sc, const char *transport, sv host_name, const char *id);

/* The same for every usable host of a remote address held back (-odqs, -qq's first phase). */
void dcont_wait_add_hosts(const spool_config *sc, const address_item *a, const char *id);

/* Take the next message waiting for host_name off its record: the most recently added id that
 * is not current_id and whose -H file still exists (ids whose message is gone are dropped).
 * id_out gets MSG_ID_LEN + 1 bytes. false: none. */
bool dcont_wait_next(const spool_config *sc, const char *transport, sv host_name,
	const char *current_id, char *id_out);

/* Whether host_name has a wait record at all (read-only; a message may be waiting): the smtp
 * transport asks before the data, to send QUIT with it when none is. */
bool dcont_wait_any(const spool_config *sc, const char *transport, sv host_name);

/* What a hand-over of a connection to the next message carries (the -MC arguments). */
typedef struct dcont_handoff {
	const char *transport;
	sv host_name, host_address;
	int sequence;                 /* messages carried, the next one included */
	const char *id;               /* the next message */
	unsigned offered;             /* DCONT_* */
	bool authenticated;
	const char *proxy_address, *proxy_cipher;  /* -MCt (NULL: not proxied) */
	int proxy_port;
} dcont_handoff;

/* Start the "-MC" process for h with fd as its standard input (detached; this process keeps
 * no part in it). env: for $exim_path and $config_file (the binary and its -C). The caller
 * closes its own copy of fd afterwards without writing to it. false: it could not be started
 * (the caller still owns the connection). */
bool dcont_pass(xp_env *env, const dcont_handoff *h, int fd);

/* The transport runs as the Exim user, which could not start a delivery that may need root:
 * its process hands the connection to the delivery process (root) over a socket instead, and
 * that starts the -MC process once the transport process has finished, as Exim's setuid
 * re-exec would. dcont_handoff_fd: the transport process's end (-1: none; then it starts the
 * -MC process itself). */
extern int dcont_handoff_fd;
bool dcont_handoff_send(xp_env *env, const dcont_handoff *h, int fd);
/* In the delivery process, after the transport process ended: start the -MC process for what
 * it handed over on sock (if anything), and close sock. When dcont_inprocess is set, the
 * connection is kept for dcont_run_pending instead (no exec, no configuration to load again). */
void dcont_handoff_collect(int sock, xp_env *env);
/* The same, leaving sock open when close_sock is false (a socket kept for the next batch). */
void dcont_handoff_collect_keep(int sock, xp_env *env, bool close_sock);

/* Set by a caller of deliver_message that calls dcont_run_pending after it (a queue runner's
 * delivery process, -MC). */
extern bool dcont_inprocess;

/* Deliver, in this process, the message a connection was handed over for (and the next ones
 * they hand on, in turn), as a -MC process would. */
void dcont_run_pending(const spool_config *sc);

/* One continued delivery of h->id over fd (the -MC mode and dcont_run_pending): the
 * connection is closed with QUIT when no transport used it. */
void dcont_deliver(const spool_config *sc, const dcont_handoff *h, int fd);

/* Close every descriptor from 3 up but keep_a, keep_b and the queue runner's pipe. */
void dcont_close_fds_except(int keep_a, int keep_b);

#endif
