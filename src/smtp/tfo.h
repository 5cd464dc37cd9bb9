/* TCP Fast Open on both sides of SMTP, Linux only (elsewhere nothing is tried and nothing is
 * reported). See docs/tfo.md.
 *
 * Server: the daemon's listening sockets accept Fast Open (listen_bind sets TCP_FASTOPEN with
 * the smtp_connect_backlog as queue length, as Exim 4.96 does); tfo_in_check tells a session
 * whether its connection used it.
 * Client: the smtp transport's hosts_try_fastopen hosts are connected with tfo_out_connect;
 * tfo_out_check tells afterwards whether the server took the cookie. */
#ifndef POSTERN_SMTP_TFO_H
#define POSTERN_SMTP_TFO_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/tfo_state.h"

/* An accepted connection: TFO_USED_DATA when the client's SYN carried data that the kernel
 * accepted with it, TFO_USED when the connection was handed to us before the handshake ended
 * (a valid cookie, no data), else TFO_NOT_USED (also for anything that is not a TCP socket). */
tfo_state tfo_in_check(int fd);

/* How a client connect went, for tfo_out_check. */
typedef enum {
	TFO_OUT_NONE = 0,        /* plain connect() */
	TFO_OUT_TRIED_NODATA,    /* SYN sent by sendto(MSG_FASTOPEN) without data */
} tfo_out_attempt;

/* Start connecting fd (non-blocking, not yet connected) to sa the Fast Open way: a zero-length
 * sendto with MSG_FASTOPEN, which puts our cookie for the server in the SYN (or asks for one).
 * Returns like connect(): 0, or -1 with errno (EINPROGRESS: wait for writability as usual).
 * When the kernel cannot do Fast Open (sysctl net.ipv4.tcp_fastopen without the client bit, an
 * old kernel) it falls back to connect(); *attempt says which way went. */
int tfo_out_connect(int fd, const struct sockaddr *sa, socklen_t len, tfo_out_attempt *attempt);

/* Right after tfo_out_connect: did the SYN carry a cookie the server will take? Exim 4.96's
 * test: still in SYN_SENT with more than the SYN unacknowledged. TFO_USED or TFO_NOT_USED. */
tfo_state tfo_out_check(int fd, tfo_out_attempt attempt);

#endif
