#!/usr/bin/env python3
"""A scripted LMTP server for the lmtp transport's tests (and for recording Exim's behaviour).

  lmtpd.py --stdio LOG [MODE]   one session on stdin/stdout
  lmtpd.py SOCKET LOG           sessions on a UNIX socket; MODE read from SOCKET.mode per session

Replies by local part: rej* 550 at RCPT, tmp* 451 at RCPT, dfail* 552 after the data, dtmp* 452
after the data, others 250. MODE changes the session: badgreet closegreet lhlorej mailrej
mailtmp mailclose datarej closedata slowdata. Every command is appended to LOG ("C: ..."), and
the size of the data ("DATA n bytes", the terminating dot line excluded)."""
import os
import socket
import sys
import time


def serve(rf, wf, log, mode):
    def out(s):
        wf.write(s.encode())
        wf.flush()

    if mode == "badgreet":
        out("554 5.3.2 go away\r\n")
        return
    if mode == "closegreet":
        return
    out("220 lmtp.test ready\r\n")
    rcpts = []
    while True:
        line = rf.readline()
        if not line:
            return
        cmd = line.decode(errors="replace").rstrip("\r\n")
        log.write("C: " + cmd + "\n")
        log.flush()
        u = cmd.upper()
        if u.startswith("LHLO"):
            if mode == "lhlorej":
                out("500 5.5.1 no\r\n")
            else:
                out("250-lmtp.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
                    "250-SIZE\r\n250 IGNOREQUOTA\r\n")
        elif u.startswith("MAIL"):
            if mode == "mailrej":
                out("550 5.7.1 sender rejected\r\n")
            elif mode == "mailtmp":
                out("451 4.7.1 sender deferred\r\n")
            elif mode == "mailclose":
                return
            else:
                rcpts = []
                out("250 2.1.0 OK\r\n")
        elif u.startswith("RCPT"):
            addr = cmd[cmd.index("<") + 1:cmd.index(">")]
            lp = addr.split("@")[0]
            if lp.startswith("rej"):
                out("550 5.1.1 <%s> User doesn't exist\r\n" % addr)
            elif lp.startswith("tmp"):
                out("451 4.3.0 <%s> Temporary failure\r\n" % addr)
            else:
                rcpts.append(addr)
                out("250 2.1.5 OK\r\n")
        elif u == "DATA":
            if mode == "datarej":
                out("554 5.6.0 no data\r\n")
                continue
            if not rcpts:
                out("503 5.5.1 No valid recipients\r\n")
                continue
            out("354 OK\r\n")
            n = 0
            while True:
                l = rf.readline()
                if not l or l in (b".\r\n", b".\n"):
                    break
                n += len(l)
            log.write("DATA %d bytes\n" % n)
            log.flush()
            if mode == "closedata":
                return
            if mode == "slowdata":
                time.sleep(3)
                return
            for a in rcpts:
                lp = a.split("@")[0]
                if lp.startswith("dfail"):
                    out("552 5.2.2 <%s> Quota exceeded (mailbox for user is full)\r\n" % a)
                elif lp.startswith("dtmp"):
                    out("452 4.2.2 <%s> Mailbox is full\r\n" % a)
                else:
                    out("250 2.0.0 <%s> Saved\r\n" % a)
        elif u == "RSET":
            rcpts = []
            out("250 2.0.0 OK\r\n")
        elif u == "QUIT":
            out("221 2.0.0 Bye\r\n")
            return
        else:
            out("500 5.5.1 Unknown command\r\n")


def main():
    if sys.argv[1] == "--stdio":
        with open(sys.argv[2], "a") as log:
            serve(sys.stdin.buffer, sys.stdout.buffer, log, sys.argv[3] if len(sys.argv) > 3 else "")
        return
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o777)
    s.listen(5)
    with open(sys.argv[2], "a") as log:
        while True:
            c, _ = s.accept()
            mode = ""
            if os.path.exists(path + ".mode"):
                with open(path + ".mode") as f:
                    mode = f.read().strip()
            try:
                serve(c.makefile("rb"), c.makefile("wb"), log, mode)
            except (BrokenPipeError, ConnectionResetError):
                pass
            c.close()


if __name__ == "__main__":
    main()
