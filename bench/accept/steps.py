#!/usr/bin/env python3
"""Per-step latency of one SMTP client against a server already running: a blocking socket
(TCP_NODELAY), timestamps around every command, medians per step. Shows where a message's time
goes (connect+banner, EHLO, MAIL, RCPT, DATA, final dot to 250) without the asyncio load
generator's overhead.

    bench/accept/steps.py PORT [COUNT] [new|reused] [SIZE]
"""
import socket
import statistics
import sys
import time

import loadgen


def read_reply(s):
    buf = b""
    while True:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("connection closed")
        buf += d
        lines = buf.split(b"\r\n")
        if len(lines) >= 2 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            return buf


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    reuse = (sys.argv[3] if len(sys.argv) > 3 else "reused") == "reused"
    msg = loadgen.make_message(int(sys.argv[4]) if len(sys.argv) > 4 else 2048)
    steps = {k: [] for k in ("connect+banner", "ehlo", "mail", "rcpt", "data", "dot")}
    s = None
    start = time.monotonic()
    for _ in range(n):
        t = time.monotonic()
        if s is None:
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            read_reply(s)
            t2 = time.monotonic()
            steps["connect+banner"].append(t2 - t)
            t = t2
            s.sendall(b"EHLO client.test\r\n")
            read_reply(s)
            t2 = time.monotonic()
            steps["ehlo"].append(t2 - t)
            t = t2
        for k, c in (("mail", b"MAIL FROM:<bench@client.test>\r\n"), ("rcpt", b"RCPT TO:<rcpt@server.test>\r\n"),
                     ("data", b"DATA\r\n"), ("dot", msg + b".\r\n")):
            s.sendall(c)
            r = read_reply(s)
            if not r[:1] in (b"2", b"3"):
                raise RuntimeError(f"{k}: {r!r}")
            t2 = time.monotonic()
            steps[k].append(t2 - t)
            t = t2
        if not reuse:
            s.sendall(b"QUIT\r\n")
            s.close()
            s = None
    if s:
        s.close()
    elapsed = time.monotonic() - start
    print(f"{'reused' if reuse else 'new'}: {n / elapsed:.1f} msg/s; median ms: " +
          " ".join(f"{k}={statistics.median(v) * 1e3:.2f}" for k, v in steps.items() if v))


if __name__ == "__main__":
    main()
