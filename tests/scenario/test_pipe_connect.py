"""Pipelined input on the listening daemon as Exim 4.96 handles it, and the <= line fields that
depend on it: a client that may use PIPECONNECT (pipelining_connect_advertise_hosts, default *)
is not held to synchronisation until its first message is accepted (EHLO, MAIL, RCPT, DATA and
the message in one packet are accepted, also before the banner: "L*" on the <= line); after that,
or for a host that may not, DATA pipelined with the message is a synchronisation error, logged
after "incomplete transaction (sync failure)"; the refused command is not in C=. Also
+smtp_mailauth (A=driver:id:<sender>) and D=/RT= under +millisec.

Each conversation runs against Postern and, where installed, against Exim 4.96 with the same
configuration: replies and main-log lines (times, ids and ports masked) must be the same."""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest
from daemon_helpers import free_port

EXIM = shutil.which("exim") or "/usr/sbin/exim"

BASE = """primary_hostname = mx.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
host_lookup =
queue_only
tls_advertise_hosts =
log_selector = +all -pid -arguments
acl_smtp_rcpt = accept
"""

AUTH = """auth_advertise_hosts = *
begin authenticators
pl:
  driver = plaintext
  public_name = PLAIN
  server_condition = ${if eq{$auth3}{pw}}
  server_set_id = $auth2
"""

BODY = "Subject: s\r\n\r\nb\r\n.\r\n"
TXN = "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n" + BODY


def run(binary, top, extra, sessions):
    """Run each session (a list of strings to send; "WAIT" reads what has come) against a
    daemon; returns (replies, normalised log lines)."""
    d = top / os.path.basename(binary)
    n = 1
    while d.exists():  # a second try (both(), below) gets a directory of its own
        n += 1
        d = top / f"{os.path.basename(binary)}.{n}"
    d.mkdir()
    os.chmod(d, 0o755)
    conf = d / "conf"
    conf.write_text(BASE.format(d=d) + extra)
    port = free_port()
    log = d / "log" / "mainlog"
    proc = subprocess.Popen([binary, "-C", str(conf), "-bdf", "-oX", str(port), "-oP", str(d / "pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    replies = []
    try:
        for _ in range(200):
            if log.exists() and "daemon started" in log.read_text():
                break
            time.sleep(0.05)
        for sess in sessions:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            got = []
            for c in sess + ["WAIT"]:
                if c == "WAIT":
                    # What the server sends now: up to 5 s for the first bytes (a loaded machine),
                    # then until it has been quiet for 0.4 s.
                    chunk, wait = b"", 5
                    while True:
                        s.settimeout(wait)
                        try:
                            data = s.recv(65536)
                        except OSError:
                            break
                        if not data:
                            break
                        chunk, wait = chunk + data, 0.4
                    got.append(chunk.decode())
                    continue
                try:
                    s.sendall(c.encode())
                except OSError:
                    break
            s.close()
            replies.append("".join(got))
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    lines = []
    for l in log.read_text().splitlines():
        if not re.match(r"\d{4}-", l) or re.search(r"daemon started|TCP/IP connection count|daemon terminated|"
                                                   r"Warning|cwd=", l):
            continue
        l = re.sub(r"^\S+ \S+ ", "", l)
        l = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", l)
        l = re.sub(r"\]:\d+", "]:PORT", l)
        l = re.sub(r" (RT|D)=\d\.\d{3}s", r" \1=MS", l)
        lines.append(l)
    replies = [re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID",
                      re.sub(r"ESMTP .*\r\n", "ESMTP\r\n", r)) for r in replies]
    return replies, lines


def both(postern_bin, tmp_path, extra, sessions):
    got = run(postern_bin, tmp_path, extra, sessions)
    if os.path.exists(EXIM):
        # Which bytes a server has seen when it checks for early input depends on scheduling:
        # on a loaded machine the client can be descheduled between connect and send, so
        # "before the banner" is not guaranteed. A difference is tried again (both servers,
        # anew) before it counts; a real difference persists.
        for attempt in range(3):
            want = run(EXIM, tmp_path, extra, sessions)
            if got == want or attempt == 2:
                break
            got = run(postern_bin, tmp_path, extra, sessions)
        assert got == want, "differs from Exim 4.96"
    return got


def test_pipe_connect_leniency(postern_bin, tmp_path):
    replies, lines = both(postern_bin, tmp_path, "", [
        ["EHLO x\r\n" + TXN + "QUIT\r\n"],                       # all before the banner
        ["WAIT", "EHLO x\r\n" + TXN, "WAIT", "QUIT\r\n"],         # after it, in one packet
        ["WAIT", "EHLO x\r\n", "WAIT", TXN + TXN, "WAIT"],         # the second message is too soon
    ])
    assert replies[0].count("250 OK id=") == 1 and replies[0].endswith("221 mx.test closing connection\r\n")
    assert replies[1].count("250 OK id=") == 1
    assert replies[2].count("250 OK id=") == 1 and replies[2].endswith("554 SMTP synchronization error\r\n")
    arrivals = [l for l in lines if " <= " in l]
    assert [re.search(r" (L\S*) ", l).group(1) for l in arrivals] == ["L*", "L.", "L."]
    assert lines[-2:] == [
        "H=(x) [127.0.0.1]:PORT I=[127.0.0.1]:PORT incomplete transaction (sync failure) from <a@b.example> "
        "for c@d.example",
        'SMTP protocol synchronization error (next input sent too soon: pipelining was advertised): rejected '
        '"DATA" H=(x) [127.0.0.1]:PORT I=[127.0.0.1]:PORT next input="Subject: s\\r\\n\\r\\nb\\r\\n.\\r\\n"']


def test_without_pipe_connect(postern_bin, tmp_path):
    replies, lines = both(postern_bin, tmp_path, "pipelining_connect_advertise_hosts = :\n", [
        ["WAIT", "EHLO x\r\nMAIL FROM:<a@b.example>\r\n", "WAIT"],
        ["WAIT", "EHLO x\r\n", "WAIT", TXN, "WAIT"],
        ["WAIT", "EHLO x\r\n", "WAIT", "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n", "WAIT",
         BODY + "QUIT\r\n", "WAIT"],
    ])
    assert replies[0].endswith("554 SMTP synchronization error\r\n")
    assert replies[1].endswith("554 SMTP synchronization error\r\n")
    assert "250 OK id=" in replies[2]
    # The refused EHLO is not in the history: no C= at all.
    assert "no MAIL in SMTP connection from [127.0.0.1]:PORT I=[127.0.0.1]:PORT D=MS" in lines
    assert "H=(x) [127.0.0.1]:PORT I=[127.0.0.1]:PORT incomplete transaction (sync failure) from " \
           "<a@b.example> for c@d.example" in lines
    assert [re.search(r" (L\S*) ", l).group(1) for l in lines if " <= " in l] == ["L"]


def test_early_pipe_and_mailauth(postern_bin, tmp_path):
    plain = "AGJvYgBwdw=="   # \0bob\0pw
    replies, lines = both(postern_bin, tmp_path, AUTH, [
        ["EHLO x\r\n", "WAIT", f"AUTH PLAIN {plain}\r\n", "WAIT", "MAIL FROM:<a@b.example> AUTH=<z@y.example>\r\n",
         "WAIT", "RCPT TO:<c@d.example>\r\n", "WAIT", "DATA\r\n", "WAIT", BODY, "WAIT", "QUIT\r\n"],
        ["WAIT", "EHLO x\r\n", "WAIT", f"AUTH PLAIN {plain}\r\n", "WAIT", "MAIL FROM:<a@b.example> AUTH=<>\r\n",
         "WAIT", "RCPT TO:<c@d.example>\r\n", "WAIT", "DATA\r\n", "WAIT", BODY, "WAIT", "QUIT\r\n"],
    ])
    arrivals = [l for l in lines if " <= " in l]
    assert "P=esmtpa L*- A=pl:bob:<z@y.example> S=" in arrivals[0]
    assert "P=esmtpa L.- A=pl:bob S=" in arrivals[1]
    assert all(" RT=MS " in l for l in arrivals)
