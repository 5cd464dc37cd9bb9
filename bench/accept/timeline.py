#!/usr/bin/env python3
"""The timeline of SMTP sessions as one blocking client sees it, against a server already
running: connect, banner, EHLO, MAIL, RCPT, DATA, final dot, QUIT's 221 and the server's close,
each step's median and 90th percentile over COUNT messages (TCP_NODELAY, one write per command).

    bench/accept/timeline.py PORT [COUNT] [new|reused|quitonly] [SIZE] [wait|nowait]

new: a connection per message; reused: all messages on one connection; quitonly: connect,
banner, QUIT. wait (default): after QUIT the client reads the 221 and waits for the server's
close; nowait: it sends QUIT and closes at once, as loadgen.py does, so the next connect may
meet a server still ending the previous session. GAP (environment, seconds, default 0) is slept
between messages. Compare servers (bench/accept/servers.py) or builds by running this against
each in turn, several times: single runs on the shared machine move by 10-20%."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen  # noqa: E402


def read_reply(s):
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            raise ConnectionError(f"connection closed after {buf!r}")
        buf += d
        lines = buf.split(b"\r\n")
        if len(lines) >= 2 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            return buf


def pct(v, f):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * f))] * 1e3


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    mode = sys.argv[3] if len(sys.argv) > 3 else "new"
    msg = loadgen.make_message(int(sys.argv[4]) if len(sys.argv) > 4 else 2048)
    wait = (sys.argv[5] if len(sys.argv) > 5 else "wait") == "wait"
    gap = float(os.environ.get("GAP", "0"))
    names = ["connect", "banner", "ehlo", "mail", "rcpt", "data", "dot", "quit221", "close", "total"]
    steps = {k: [] for k in names}
    s = None
    start = time.monotonic()
    for i in range(n):
        t0 = t = time.monotonic()

        def mark(k):
            nonlocal t
            t2 = time.monotonic()
            steps[k].append(t2 - t)
            t = t2
        if s is None:
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            mark("connect")
            if not read_reply(s).startswith(b"220"):
                raise RuntimeError("banner")
            mark("banner")
            if mode != "quitonly":
                s.sendall(b"EHLO client.test\r\n")
                read_reply(s)
                mark("ehlo")
        if mode != "quitonly":
            for k, c in (("mail", b"MAIL FROM:<bench@client.test>\r\n"),
                         ("rcpt", b"RCPT TO:<rcpt@server.test>\r\n"),
                         ("data", b"DATA\r\n"), ("dot", msg + b".\r\n")):
                s.sendall(c)
                r = read_reply(s)
                if r[:1] not in (b"2", b"3"):
                    raise RuntimeError(f"{k}: {r!r}")
                mark(k)
        if mode != "reused" or i == n - 1:
            s.sendall(b"QUIT\r\n")
            if wait:
                read_reply(s)
                mark("quit221")
                if s.recv(16):
                    raise RuntimeError("data after 221")
                mark("close")
            s.close()
            s = None
        steps["total"].append(time.monotonic() - t0)
        if gap:
            time.sleep(gap)
    elapsed = time.monotonic() - start
    print(f"{mode} n={n}: {n / elapsed:.1f}/s; median/p90 ms: " +
          " ".join(f"{k}={pct(v, .5):.3f}/{pct(v, .9):.3f}" for k, v in steps.items() if len(v) > n // 2))


if __name__ == "__main__":
    main()
