/* The -MC family of options (Exim 4.96 "The Exim command line"): a continued delivery over an
 * SMTP connection another Postern (or Exim) process hands over on standard input. */
#ifndef POSTERN_PROG_CMDLINE_CONTINUE_H
#define POSTERN_PROG_CMDLINE_CONTINUE_H

#include <stdbool.h>
#include <stddef.h>

struct cmdline;

typedef struct cmd_continue {
	/* -MC <transport> <host name> <host ip> <sequence> <message id> (the last option) */
	const char *transport, *host_name, *host_address, *id;
	int sequence;
	bool authenticated;           /* -MCA */
	bool dsn, chunking, pipelining, size;  /* -MCD, -MCK, -MCP, -MCS */
	bool tls;                     /* -MCT: the host offered TLS (not used: nothing to resume) */
	const char *queue_name;       /* -MCG <name> */
	long queue_pid;               /* -MCQ <pid> <fd>: the queue runner's pipe */
	int queue_fd;                 /* -1: none */
	const char *proxy_address;    /* -MCt <ip> <port> <cipher>: TLS proxied by the parent */
	int proxy_port;
	const char *proxy_cipher;     /* NULL: no -MCt */
	const char *sni;              /* -MCr / -MCs <SNI> */
} cmd_continue;

/* argv[*i] starts with "-MC": take it and its arguments (advancing *i past the last one used).
 * false: malformed (err says so in Exim's words). */
bool cmdline_continue_option(struct cmdline *cl, int argc, char **argv, int *i, char *err, size_t errlen);

/* The -MC mode: deliver the message, offering it the connection on standard input. */
int continue_main(const struct cmdline *cl);

#endif
