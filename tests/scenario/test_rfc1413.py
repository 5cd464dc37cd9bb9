"""RFC 1413 ident through the listening daemon (rfc1413_hosts, rfc1413_query_timeout): against
a real identd (Debian's oidentd) and against a stand-in that sends chosen replies, run against
Exim 4.96 and Postern where Exim is installed: the EHLO greeting ("Hello <ident> at <helo>"),
$sender_ident, the U= and I= fields, $sender_rcvhost with incoming_port, the Received: header
and the "ident connection to ... timed out" line must be the same.

The identd must listen on port 113 of the client's address: each test binds its client to its
own loopback address (127.113.x.y) and runs the identd there."""
import os
import random
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
from daemon_helpers import free_port

EXIM = shutil.which("exim") or "/usr/sbin/exim"
OIDENTD = shutil.which("oidentd") or "/usr/sbin/oidentd"

CONFIG = """primary_hostname = mx.test
spool_directory = {d}/spool
tls_advertise_hosts =
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
host_lookup =
queue_only
log_selector = +all -pid -millisec
rfc1413_hosts = {hosts}
rfc1413_query_timeout = {timeout}
acl_smtp_connect = conn
acl_smtp_rcpt = accept
begin acl
conn:
  warn logwrite = ident=<$sender_ident> rcvhost=<$sender_rcvhost>
  accept
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="an identd needs port 113 (root)")


def client_address():
    return f"127.113.{random.randint(1, 250)}.{random.randint(1, 250)}"


class Server:
    def __init__(self, binary, tmp_path, hosts="*", timeout="3s"):
        self.dir = tmp_path / os.path.basename(binary)
        self.dir.mkdir()
        os.chmod(self.dir, 0o755)
        conf = self.dir / "conf"
        conf.write_text(CONFIG.format(d=self.dir, hosts=hosts, timeout=timeout))
        self.port = free_port()
        self.proc = subprocess.Popen([binary, "-C", str(conf), "-bdf", "-oX", str(self.port),
                                      "-oP", str(self.dir / "pid")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Not probed by connecting: that would be a session (and an ident query) of its own.
        for _ in range(200):
            if any("daemon started" in l for l in self.log()):
                break
            time.sleep(0.05)
        else:
            self.stop()
            pytest.fail(f"{binary} daemon did not start")
        self.lines_seen = len(self.log())

    def log(self):
        p = self.dir / "log" / "mainlog"
        lines = p.read_text().splitlines() if p.exists() else []
        return [l for l in lines if re.match(r"^\d{4}-\d\d-\d\d ", l)]

    def new_lines(self, settle=0.4):
        time.sleep(settle)
        lines = self.log()
        new, self.lines_seen = lines[self.lines_seen:], len(lines)
        out = []
        for l in new:
            l = re.sub(r"^\S+ \S+ ", "", l)
            if "TCP/IP connection count" in l:
                continue   # written by the daemon before the session starts; counts differ
            l = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", l)
            l = re.sub(r"\]:\d+", "]:PORT", l)
            l = re.sub(r"port=\d+", "port=PORT", l)
            l = re.sub(r" (D|RT)=\S+", r" \1=T", l)
            out.append(l)
        return out

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def converse(port, src, message=False):
    """EHLO (and one message) from src; returns (EHLO greeting line, 250 id reply or None)."""
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"EHLO client\r\n")
    hello = f.readline().decode().rstrip()
    while True:
        line = f.readline()
        if not line or line[3:4] == b" ":
            break
    sent = None
    if message:
        for cmd in (b"MAIL FROM:<a@b.example>\r\n", b"RCPT TO:<c@d.example>\r\n", b"DATA\r\n"):
            s.sendall(cmd)
            f.readline()
        s.sendall(b"Subject: hi\r\n\r\nbody\r\n.\r\n")
        sent = f.readline().decode().rstrip()
    s.sendall(b"QUIT\r\n")
    f.readline()
    s.close()
    return hello, sent


class StandIn:
    """An identd on src:113 answering one query with reply (b"%P" becomes the queried client
    port), sent in pieces with pauses when reply is a tuple; None: accept and say nothing."""

    def __init__(self, src, reply, accept_timeout=15):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((src, 113))
        self.srv.listen(1)
        self.srv.settimeout(accept_timeout)
        self.query = None
        self.t = threading.Thread(target=self.serve, args=(reply,), daemon=True)
        self.t.start()

    def serve(self, reply):
        try:
            c, _ = self.srv.accept()
        except OSError:
            return
        c.settimeout(10)
        try:
            self.query = c.recv(100)
            port = self.query.split(b",")[0].strip()
            parts = reply if isinstance(reply, tuple) else (reply,) if reply is not None else ()
            for p in parts:
                if isinstance(p, float):
                    time.sleep(p)
                else:
                    c.sendall(p.replace(b"%P", port))
            time.sleep(0.5 if reply is not None else 5)
        except OSError:
            pass
        c.close()

    def close(self):
        self.t.join(20)
        self.srv.close()


# (reply, the ident Exim 4.96 took from it: None for none), observed from its daemon
REPLIES = [
    (b"%P , {sp} : USERID : UNIX : fred\r\n", "fred"),
    (b"%P,{sp}:USERID:UNIX,UTF-8:fr\xc3\xa9d\x01 x \r\n", "fr\\303\\251d\\001 x "),
    (b"%P , {sp} : ERROR : NO-USER\r\n", None),
    (b"%P , {sp} : USERID : UNIX : fred", None),                          # no line end
    ((b"%P , {sp} : USER", 0.5, b"ID : UNIX : fr", 2.0, b"ed\r\n"), "fred"),   # in pieces
    ((b"%P , {sp} : USERID : UNIX : fr\0", 0.5, b"ed\r\n"), None),   # a NUL in the line
    (b"%P , {sp} : USERID : UNIX : " + b"y" * 300 + b"\r\n", "y" * 127),
    (None, None),                                                          # no answer in time
]


def run_replies(binary, tmp_path):
    srv = Server(binary, tmp_path)
    try:
        out = []
        for reply, _ in REPLIES:
            src = client_address()
            fmt = lambda b: b.replace(b"{sp}", str(srv.port).encode())
            r = tuple(fmt(p) if isinstance(p, bytes) else p for p in reply) if isinstance(reply, tuple) \
                else fmt(reply) if reply else None
            ident = StandIn(src, r)
            hello, _ = converse(srv.port, src)
            ident.close()
            assert re.fullmatch(rb"\d+ , %d\r\n" % srv.port, ident.query or b""), ident.query
            out.append((hello.replace(src, "SRC"), [l.replace(src, "SRC") for l in srv.new_lines()]))
        return out
    finally:
        srv.stop()


def test_replies(postern_bin, tmp_path):
    got = run_replies(postern_bin, tmp_path)
    for (reply, want), (hello, lines) in zip(REPLIES, got):
        assert hello == ("250-mx.test Hello " + (f"{want} at " if want else "") + "client [SRC]"), reply
        assert f"ident=<{want or ''}>" in "\n".join(lines), (reply, lines)
        if want:
            assert any(re.search(r"no MAIL in SMTP connection from \(client\) \[SRC\]:PORT "
                                 r"I=\[127\.0\.0\.1\]:PORT U=" + re.escape(want) + " D=", l) for l in lines), lines
    if os.path.exists(EXIM):
        assert got == run_replies(EXIM, tmp_path), "differs from Exim 4.96"


def test_oidentd_message(postern_bin, tmp_path):
    """A message through the daemon with Debian's oidentd answering for the client's socket."""
    if not os.path.exists(OIDENTD):
        pytest.skip("oidentd not installed")
    results = {}
    for name, binary in (("postern", postern_bin), ("exim", EXIM)):
        if name == "exim" and not os.path.exists(EXIM):
            continue
        src = client_address()
        identd = subprocess.Popen([OIDENTD, "-i", "-S", "-q", "-a", src, "-p", "113", "-t", "5"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        srv = None
        try:
            for _ in range(100):
                try:
                    socket.create_connection((src, 113), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            srv = Server(binary, tmp_path)
            hello, sent = converse(srv.port, src, message=True)
            lines = srv.new_lines()
            msgid = sent.split("id=")[1]
            header = next((srv.dir / "spool" / "input").glob(msgid + "-H")).read_text()
        finally:
            if srv:
                srv.stop()
            identd.terminate()
            identd.wait()
        received = re.search(r"Received: (from .*?)\n\tby", header, re.S).group(1)
        results[name] = (hello.replace(src, "SRC"), [l.replace(src, "SRC") for l in lines],
                         re.sub(r"port=\d+", "port=PORT", received.replace(src, "SRC")))
    hello, lines, received = results["postern"]
    assert hello == "250-mx.test Hello root at client [SRC]"
    assert "ident=<root> rcvhost=<[SRC] (port=PORT ident=root)>" in lines
    assert any(l.startswith("ID <= a@b.example H=(client) [SRC]:PORT I=[127.0.0.1]:PORT U=root P=esmtp ")
               for l in lines), lines
    assert "SMTP connection from (client) [SRC]:PORT I=[127.0.0.1]:PORT closed by QUIT" in lines
    assert received == "from [SRC] (port=PORT helo=client ident=root)"
    if "exim" in results:
        ex = results["exim"]
        assert [re.sub(r" S=\d+", "", l) for l in lines] == [re.sub(r" S=\d+", "", l) for l in ex[1]]
        assert (hello, received) == (ex[0], ex[2])


def run_connect_timeout(binary, tmp_path):
    """The identd's listen queue is full, so the connect times out (1s)."""
    src = client_address()
    lsn = socket.socket()
    lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsn.bind((src, 113))
    lsn.listen(0)
    fill = []
    for _ in range(2):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect((src, 113))
        except BlockingIOError:
            pass
        fill.append(f)
    time.sleep(0.2)
    srv = Server(binary, tmp_path, timeout="1s")
    try:
        t0 = time.time()
        hello, _ = converse(srv.port, src)
        took = time.time() - t0
        return hello.replace(src, "SRC"), [l.replace(src, "SRC") for l in srv.new_lines()], took
    finally:
        srv.stop()
        for f in fill:
            f.close()
        lsn.close()


def test_connect_timeout(postern_bin, tmp_path):
    hello, lines, took = run_connect_timeout(postern_bin, tmp_path)
    assert hello == "250-mx.test Hello client [SRC]"
    assert lines[0] == "ident connection to SRC timed out"
    assert 0.9 < took < 10
    if os.path.exists(EXIM):
        ex_hello, ex_lines, _ = run_connect_timeout(EXIM, tmp_path)
        assert (hello, lines) == (ex_hello, ex_lines)


def test_not_asked(postern_bin, tmp_path):
    """rfc1413_query_timeout = 0s (the default) or a client outside rfc1413_hosts: no query."""
    for hosts, timeout in (("*", "0s"), ("!127.113.0.0/16 : *", "3s"), ("@[]", "3s")):
        sub = tmp_path / f"t{timeout}{len(hosts)}"
        sub.mkdir()
        src = client_address()
        ident = StandIn(src, b"%P , 1 : USERID : UNIX : fred\r\n", accept_timeout=2)
        srv = Server(postern_bin, sub, hosts=hosts, timeout=timeout)
        try:
            hello, _ = converse(srv.port, src)
        finally:
            srv.stop()
            ident.close()
        assert ident.query is None, hosts
        assert hello == "250-mx.test Hello client [%s]" % src
