/* One SMTP server session: banner, command loop with Exim's pipelining synchronisation rules,
 * ESMTP extensions, ACLs at each stage, AUTH, DATA/BDAT into the spool, and the session's log
 * lines. Used by the daemon's per-connection child, by -bs (stdin/stdout) and by -bh (host
 * checking: nothing is spooled, log lines go to stderr as "LOG: ...", delays are not served).
 */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/str.h"

typedef enum smtp_mode {
	SMTP_MODE_DAEMON,   /* a TCP connection accepted by -bd */
	SMTP_MODE_BS,       /* -bs: stdin/stdout, origin from -oM* (trusted callers) or local */
	SMTP_MODE_BH,       /* -bh IP[.port]: conversation on stdin/stdout, nothing spooled */
	SMTP_MODE_BHC,      /* -bhc: like -bh, callouts really done */
	SMTP_MODE_BATCH,    /* -bS: batched SMTP, no replies, errors per Exim */
} smtp_mode;

typedef struct smtp_conn_params {
	smtp_mode mode;
	int in_fd, out_fd;
	/* The peer and local endpoints (for daemon: from getpeername/getsockname; for -bh: the
	 * command-line address; for -bs: -oMa/-oMi). Empty host_address: a local session. */
	sv host_address; int host_port;
	sv interface_address; int interface_port;
	/* -oMr (-bS only), -oMs, -oMt, -oMaa (the authenticator's name: the session counts as
	 * authenticated), -oMai (trusted callers); all tainted, as Exim treats the command line */
	sv protocol, host_name, ident, auth_driver, auth_id;
	bool tls_on_connect;      /* port listed in tls_on_connect_ports (TLS issue) */
	/* Daemon accounting: whether this connection is over smtp_accept_queue etc. */
	bool queue_only_load, accept_queue;
	bool reserved_slot;       /* accepted only because the host is in smtp_reserve_hosts */
	bool trusted_caller;      /* -bs: the caller is trusted (may set the envelope sender) */
	/* -bh: called before the session writes a "LOG:" line to stderr and when it sends
	 * replies, so lines other modules wrote through the log layer are shown in order. */
	void (*log_pump)(void *ctx);
	void *log_pump_ctx;
} smtp_conn_params;

/* STARTTLS and tls_on_connect_ports: the TLS issue registers its server side here (nothing is
 * advertised until then). start() runs the handshake over the session's descriptors, puts the
 * TLS layer under the session's buffered I/O with bio_set_layer(), and fills the origin's tls_*
 * fields; false with err set when the handshake failed (the session then logs and closes). */
struct bio;
struct msg_origin;
typedef struct smtp_tls_server {
	bool (*usable)(void);     /* a certificate is configured... */
	bool (*start)(struct bio *io, int in_fd, int out_fd, struct msg_origin *o, xbuf *err);
	/* Before "220 TLS go ahead" (NULL: nothing to do): false with err set for a configuration
	 * problem found before any handshake (certificate files, ciphers...), which Exim answers
	 * with 454 and the session goes on. */
	bool (*prepare)(struct msg_origin *o, xbuf *err);
} smtp_tls_server;
void smtp_tls_register(const smtp_tls_server *t);

/* Run the session to completion (QUIT, drop, EOF, timeout). Returns the process exit code
 * (0 normally). */
int smtp_session_run(const smtp_conn_params *p);
/* Between two connections of one process (prog/daemon_reuse.c): what the session keeps
 * outside its per-connection struct (the panic closedown's state). */
void smtp_session_reset(void);
/* Work a session does the same way for every connection, done in advance by a pre-forked
 * process while it waits (the caller's login name); optional. */
void smtp_session_prepare(void);
/* The same for the login of uid, in a process that forks sessions which will run as uid (the
 * daemon, for the exim user): they inherit the name instead of reading the password database. */
void smtp_session_prepare_login(uid_t uid);

#endif
