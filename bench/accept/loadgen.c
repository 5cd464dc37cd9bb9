/* loadgen.c: the SMTP load generator of bench/accept and bench/relay, in C so that the client's
 * own CPU is small next to the servers' (the asyncio one in loadgen.py spent about 1 ms of CPU
 * per message on a new connection, as much as the servers it measured, on a 2-core machine where
 * both share the CPUs).
 *
 * Same semantics as loadgen.py: CONCURRENCY clients in one process (epoll, non-blocking), each
 * sending the DATA payload read from stdin (message + final dot, sent in one write) for SECONDS,
 * one connection per message ("new") or many messages per connection ("reused"). No pipelining:
 * every command waits for its reply. TCP_NODELAY. On a new connection QUIT is sent and the socket
 * closed without waiting for the 221 (Exim 4.96 holds its 221 for up to 200 ms waiting for the
 * client to close first, which would dominate the figures). Any failure counts one error, closes
 * the connection and the client reconnects after 50 ms; a 421 to MAIL (the server's limit of
 * messages per connection) is no error: the client reconnects at once. A message is counted ok only on 250
 * after its final dot. Replies are read into a bounded buffer, each within 60 s.
 *
 * Usage: loadgen HOST PORT CONCURRENCY new|reused SECONDS < payload
 * LOADGEN_REPLY_TIMEOUT in the environment replaces the 60 s (the tests' silent server).
 * Output: one JSON line {"ok":..,"errors":..,"last_error":"..","seconds":..,"rate":..}.
 * Built by loadgen.py at run time (cc -O2); not part of Postern's build. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REPLY_TIMEOUT 60.0    /* seconds for each reply, as loadgen.py (LOADGEN_REPLY_TIMEOUT) */
#define RETRY_DELAY 0.05      /* after an error, before reconnecting */
#define IN_MAX 65536          /* bytes of one reply we are willing to buffer */

enum step {
    S_IDLE,      /* no connection; (re)connect at wake_at */
    S_BANNER,    /* connected (or connecting), waiting for 220 */
    S_EHLO, S_MAIL, S_RCPT, S_DATA, S_DOT,
    S_DONE,      /* past the deadline, finished */
};

struct client {
    int fd;
    enum step step;
    const char *out;      /* bytes not yet written of the current command */
    size_t outlen;
    bool want_out;        /* EPOLLOUT registered (a write was partial) */
    double wake_at;       /* S_IDLE: when to reconnect */
    double reply_by;      /* waiting for a reply: when to give up */
    size_t inlen;
    char in[IN_MAX];
};

static const char EHLO[] = "EHLO client.test\r\n";
static const char MAIL[] = "MAIL FROM:<bench@client.test>\r\n";
static const char RCPT[] = "RCPT TO:<rcpt@server.test>\r\n";
static const char DATA[] = "DATA\r\n";
static const char QUIT[] = "QUIT\r\n";

static struct sockaddr_storage server;
static socklen_t server_len;
static int epfd;
static bool reuse;
static double deadline;
static double reply_timeout = REPLY_TIMEOUT;
static char *payload;
static size_t payload_len;
static long n_ok, n_errors;
static char last_error[512];
static int running;       /* clients not yet S_DONE */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void drop_connection(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);   /* also removes it from the epoll set */
    c->fd = -1;
    c->outlen = 0;
    c->inlen = 0;
    c->want_out = false;
}

static void fail(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    n_errors++;
    drop_connection(c);
    c->step = S_IDLE;
    c->wake_at = now() + RETRY_DELAY;
}

static void finish(struct client *c)
{
    drop_connection(c);
    c->step = S_DONE;
    running--;
}

/* QUIT without waiting for the 221 and close (see the head comment). A failure here is not an
 * error: the message was already acknowledged. */
static void quit_and_close(struct client *c)
{
    if (c->fd >= 0)
        (void)send(c->fd, QUIT, sizeof QUIT - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    drop_connection(c);
}

static void set_events(struct client *c, bool want_out)
{
    if (c->want_out == want_out)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

/* Write what is left of the current command; EPOLLOUT only while a write is partial. */
static void flush_out(struct client *c)
{
    while (c->outlen > 0) {
        ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_events(c, true);
                return;
            }
            fail(c, "write: %s", strerror(errno));
            return;
        }
        c->out += n;
        c->outlen -= (size_t)n;
    }
    set_events(c, false);
}

static void send_command(struct client *c, const char *data, size_t len, enum step next)
{
    c->out = data;
    c->outlen = len;
    c->step = next;
    c->reply_by = now() + reply_timeout;
    flush_out(c);
}

static void connect_client(struct client *c)
{
    int fd = socket(server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(c, "socket: %s", strerror(errno));
        return;
    }
    c->fd = fd;
    int one = 1;
    /* Each command is one write; without TCP_NODELAY the client's own Nagle delay (waiting for
     * the server's delayed ACK) would be measured instead of the server. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&server, server_len) < 0 && errno != EINPROGRESS) {
        fail(c, "connect: %s", strerror(errno));
        return;
    }
    /* Only EPOLLIN: the banner tells that the connection is up, and a refused connect shows as
     * EPOLLERR, whose read gives the reason. Saves a wake-up and an epoll_ctl per connection. */
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        fail(c, "epoll_ctl: %s", strerror(errno));
        return;
    }
    c->step = S_BANNER;
    c->reply_by = now() + reply_timeout;
}

/* The next message of a client, or its end at the deadline. */
static void next_message(struct client *c)
{
    if (now() >= deadline) {
        if (c->fd >= 0)
            quit_and_close(c);
        finish(c);
    } else if (c->fd >= 0) {
        send_command(c, MAIL, sizeof MAIL - 1, S_MAIL);
    } else {
        connect_client(c);
    }
}

/* The reply's text for an error message: CR LF shown as " / ", at most 200 bytes. */
static const char *show(const char *text, size_t len)
{
    static char buf[256];
    size_t j = 0;
    for (size_t i = 0; i < len && j < 200; i++) {
        if (text[i] == '\r')
            continue;
        if (text[i] == '\n') {
            if (i + 1 < len)
                j += (size_t)snprintf(buf + j, sizeof buf - j, " / ");
            continue;
        }
        buf[j++] = text[i];
    }
    buf[j] = 0;
    return buf;
}

static void on_reply(struct client *c, int code, const char *text, size_t len)
{
    switch (c->step) {
    case S_BANNER:
        if (code != 220) {
            fail(c, "banner %s", show(text, len));
            return;
        }
        send_command(c, EHLO, sizeof EHLO - 1, S_EHLO);
        return;
    case S_EHLO:
        if (code / 100 != 2) {
            fail(c, "EHLO -> %s", show(text, len));
            return;
        }
        send_command(c, MAIL, sizeof MAIL - 1, S_MAIL);
        return;
    case S_MAIL:
        if (code == 421) {
            /* The server ends the connection before a message (Exim's and Postern's
             * smtp_accept_max_per_connection, 1000 by default): a real client reconnects at
             * once; an error and a 50 ms pause would cost those servers alone (Postfix has no
             * such limit) about 2.5% of a reused-connection cell (as loadgen.py). */
            drop_connection(c);
            c->step = S_IDLE;
            c->wake_at = now();
            return;
        }
        if (code / 100 != 2) {
            fail(c, "MAIL -> %s", show(text, len));
            return;
        }
        send_command(c, RCPT, sizeof RCPT - 1, S_RCPT);
        return;
    case S_RCPT:
        if (code / 100 != 2) {
            fail(c, "RCPT -> %s", show(text, len));
            return;
        }
        send_command(c, DATA, sizeof DATA - 1, S_DATA);
        return;
    case S_DATA:
        if (code / 100 != 3) {
            fail(c, "DATA -> %s", show(text, len));
            return;
        }
        send_command(c, payload, payload_len, S_DOT);
        return;
    case S_DOT:
        if (code != 250) {
            fail(c, "after data: %s", show(text, len));
            return;
        }
        n_ok++;
        if (!reuse)
            quit_and_close(c);
        next_message(c);
        return;
    default:
        fail(c, "unexpected reply %s", show(text, len));
        return;
    }
}

/* Every complete reply in the buffer, in order. A reply ends with a line whose fourth byte is
 * not '-'. While a command is still being written an early reply waits (the asyncio client also
 * reads only after its write has drained). */
static void parse_replies(struct client *c)
{
    while (c->fd >= 0 && c->outlen == 0 && c->inlen > 0) {
        size_t pos = 0;
        for (;;) {
            char *nl = memchr(c->in + pos, '\n', c->inlen - pos);
            if (!nl)
                return;   /* incomplete: wait for more */
            char *line = c->in + pos;
            size_t linelen = (size_t)(nl - line) + 1;
            pos += linelen;
            if (linelen >= 4 && line[3] == '-')
                continue;
            int code = -1;
            if (linelen >= 3 && line[0] >= '0' && line[0] <= '9' && line[1] >= '0'
                && line[1] <= '9' && line[2] >= '0' && line[2] <= '9')
                code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
            char text[512];
            size_t tlen = pos < sizeof text ? pos : sizeof text;
            memcpy(text, c->in, tlen);
            memmove(c->in, c->in + pos, c->inlen - pos);
            c->inlen -= pos;
            on_reply(c, code, text, tlen);
            break;
        }
    }
}

/* One read per wake-up (epoll is level-triggered: more data wakes us again). */
static void on_readable(struct client *c)
{
    if (c->inlen == IN_MAX) {
        fail(c, "reply longer than %d bytes", IN_MAX);
        return;
    }
    ssize_t n = recv(c->fd, c->in + c->inlen, IN_MAX - c->inlen, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        fail(c, "read: %s", strerror(errno));
        return;
    }
    if (n == 0) {
        fail(c, "connection closed");
        return;
    }
    c->inlen += (size_t)n;
    parse_replies(c);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            return NULL;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    if (ferror(f))
        return NULL;
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 6 || (strcmp(argv[4], "new") && strcmp(argv[4], "reused"))) {
        fprintf(stderr, "usage: %s HOST PORT CONCURRENCY new|reused SECONDS < payload\n", argv[0]);
        return 2;
    }
    int concurrency = atoi(argv[3]);
    double seconds = atof(argv[5]);
    reuse = strcmp(argv[4], "reused") == 0;
    const char *t = getenv("LOADGEN_REPLY_TIMEOUT");
    if (t && atof(t) > 0)
        reply_timeout = atof(t);
    if (concurrency < 1 || seconds < 0) {
        fprintf(stderr, "loadgen: bad CONCURRENCY or SECONDS\n");
        return 2;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
    int rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
    if (rc) {
        fprintf(stderr, "loadgen: %s:%s: %s\n", argv[1], argv[2], gai_strerror(rc));
        return 2;
    }
    memcpy(&server, ai->ai_addr, ai->ai_addrlen);
    server_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    payload = read_all(stdin, &payload_len);
    if (!payload || payload_len < 3 || memcmp(payload + payload_len - 3, ".\r\n", 3)) {
        fprintf(stderr, "loadgen: stdin must hold the message ending with its final dot\n");
        return 2;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct client *clients = calloc((size_t)concurrency, sizeof *clients);
    if (epfd < 0 || !clients) {
        fprintf(stderr, "loadgen: %s\n", strerror(errno));
        return 1;
    }

    double start = now();
    deadline = start + seconds;
    running = concurrency;
    for (int i = 0; i < concurrency; i++) {
        clients[i].fd = -1;
        next_message(&clients[i]);
    }
    struct epoll_event events[256];
    while (running > 0) {
        /* The nearest timer: a reconnect after an error, or a reply's timeout. */
        double t = now(), next = t + 3600;
        for (int i = 0; i < concurrency; i++) {
            struct client *c = &clients[i];
            if (c->step == S_DONE)
                continue;
            double at = c->step == S_IDLE ? c->wake_at : c->reply_by;
            if (at <= t) {
                if (c->step == S_IDLE)
                    next_message(c);
                else
                    fail(c, "timeout");
                at = c->step == S_IDLE ? c->wake_at : c->reply_by;
            }
            if (c->step != S_DONE && at < next)
                next = at;
        }
        if (running == 0)
            break;
        int ms = (int)((next - now()) * 1000) + 1;
        int n = epoll_wait(epfd, events, 256, ms < 0 ? 0 : ms);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "loadgen: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct client *c = events[i].data.ptr;
            if (c->fd < 0)
                continue;   /* closed by an earlier event of this batch */
            if (events[i].events & EPOLLOUT) {
                flush_out(c);
                if (c->fd < 0)
                    continue;
                parse_replies(c);   /* a reply that came while the write was partial */
                if (c->fd < 0)
                    continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(c);
        }
    }
    double elapsed = now() - start;
    printf("{\"ok\": %ld, \"errors\": %ld, \"last_error\": ", n_ok, n_errors);
    json_string(last_error);
    printf(", \"seconds\": %.6f, \"rate\": %.3f}\n", elapsed, elapsed > 0 ? n_ok / elapsed : 0.0);
    return 0;
}
