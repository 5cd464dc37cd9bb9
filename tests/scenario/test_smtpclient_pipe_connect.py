"""PIPECONNECT in the smtp transport (hosts_pipe_connect) beside Exim 4.96: two deliveries to the
same host; the first caches the host's EHLO response in the misc hints database, the second
sends EHLO, MAIL, RCPT and DATA before the banner. What the server receives before its banner,
the log lines and the hints record (exim_dumpdb) must be Exim's, also when the host's EHLO
response has changed or its banner refuses. Then against Exim's and Postern's daemons, which log
"L*" for a message that came with PIPECONNECT."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from smtp_transport_helpers import log_body, postern_bin

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
{users}
never_users =
trusted_users = root
keep_environment =
begin routers
bounces:
  driver = redirect
  domains = s.test
  data = :blackhole:
r:
  driver = manualroute
  route_list = * 127.0.0.1::{port}
  self = send
  transport = t
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
  command_timeout = 2s
  hosts_pipe_connect = *
{tpuser}
begin retry
* * F,1h,1h
"""
PC_EHLO = "250-fake\r\n250-PIPELINING\r\n250 PIPECONNECT\r\n"


class BannerServer:
    """Serves connections one after the other with a simple SMTP dialogue; before its banner it
    waits a little and records what the client sent already. banners/ehlos: per connection."""

    def __init__(self, banners, ehlos):
        self.banners, self.ehlos = banners, ehlos
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.early, self.commands = [], []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(30)
        for n in range(len(self.banners)):
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._one(conn, self.banners[n], self.ehlos[n])

    def _one(self, conn, banner, ehlo):
        conn.settimeout(0.5)
        pending = b""
        try:
            pending = conn.recv(65536)
        except socket.timeout:
            pass
        self.early.append(pending.decode())
        cmds = []
        self.commands.append(cmds)
        conn.sendall(banner.encode())
        conn.settimeout(3)
        in_data = False
        while True:
            while b"\n" not in pending:
                try:
                    more = conn.recv(65536)
                except OSError:
                    return
                if not more:
                    return
                pending += more
            line, pending = pending.split(b"\n", 1)
            if in_data:
                if line == b".\r":
                    in_data = False
                    conn.sendall(b"250 OK\r\n")
                continue
            cmds.append(line.decode().rstrip("\r"))
            word = line[:4].upper()
            if word == b"BDAT":
                size = int(line.split()[1])
                while len(pending) < size:
                    more = conn.recv(65536)
                    if not more:
                        return
                    pending += more
                pending = pending[size:]
                conn.sendall(b"250 chunk\r\n")
                continue
            reply = {b"EHLO": ehlo, b"MAIL": "250 ok\r\n", b"RCPT": "250 ok\r\n", b"RSET": "250 ok\r\n",
                     b"DATA": "354 go\r\n", b"QUIT": "221 bye\r\n"}.get(word, "500 what\r\n")
            conn.sendall(reply.encode())
            in_data = word == b"DATA"
            if word == b"QUIT":
                return

    def wait(self):
        self.thread.join(30)
        self.sock.close()


def dumpdb(who, d, name):
    tool = "exim_dumpdb"
    if who == "postern":
        tool = str(d / "exim_dumpdb")
        if not os.path.exists(tool):
            os.symlink(postern_bin(), tool)
    out = subprocess.run([tool, str(d / "spool"), name], capture_output=True, text=True, timeout=30).stdout
    if "Failed to open" in out:   # Exim's dumpdb when the database was never created
        return []
    return [re.sub(r"^\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d ", "TIME ", l) for l in out.splitlines() if l.strip()]


def deliver_twice(who, port, times=2):
    """Deliver `times` messages (-odi) by Exim or Postern; returns the log lines of the last one
    and the misc database after each delivery."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-pc-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        if who == "exim":
            for p in ["spool", "spool/db", "log"]:
                shutil.chown(d / p, "Debian-exim")
            users, tpuser, cmd = "exim_user = Debian-exim\nexim_group = Debian-exim", "  user = Debian-exim", "exim"
        else:
            users, tpuser, cmd = "exim_user = root\nexim_group = root", "", postern_bin()
        conf = d / "c.conf"
        conf.write_text(CONF.format(d=d, users=users, tpuser=tpuser, port=port))
        misc = []
        for _ in range(times):
            subprocess.run([cmd, "-C", str(conf), "-odi", "-f", "sender@s.test", "a@r.test", "b@r.test"],
                           input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
            misc.append(dumpdb(who, d, "misc"))
        lines = (d / "log" / "mainlog").read_text().splitlines()
        ident = [l.split()[2] for l in lines if " <= sender@s.test" in l][-1]
        return [log_body(l) for l in lines if l.split()[2] == ident], misc
    finally:
        shutil.rmtree(d, ignore_errors=True)


CASES = {
    "same": (["220 fake\r\n"] * 2, [PC_EHLO] * 2),
    "ehlo_changed": (["220 fake\r\n"] * 2, [PC_EHLO, "250-fake\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250 PIPECONNECT\r\n"]),
    "no_longer_offered": (["220 fake\r\n"] * 2, [PC_EHLO, "250-fake\r\n250 PIPELINING\r\n"]),
    "banner_421": (["220 fake\r\n", "421 busy\r\n"], [PC_EHLO] * 2),
    "never_offered": (["220 fake\r\n"] * 2, ["250-fake\r\n250 PIPELINING\r\n"] * 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pipe_connect_as_exim(name):
    banners, ehlos = CASES[name]
    results = {}
    for who in ("exim", "postern"):
        srv = BannerServer(banners, ehlos)
        lines, misc = deliver_twice(who, srv.port)
        srv.wait()
        misc = [[l.replace(f":{srv.port}.", ":PORT.") for l in m] for m in misc]
        results[who] = (srv.early, srv.commands, lines, misc)
    ex, pr = results["exim"], results["postern"]
    assert pr[0] == ex[0]
    assert pr[1] == ex[1]
    assert pr[2] == ex[2]
    assert pr[3] == ex[3]
    if name != "never_offered":
        # the first connection waited for the banner; the second did not
        assert ex[0][0] == ""
        assert ex[0][1].startswith("EHLO client.test\r\nMAIL FROM:<sender@s.test>")
        assert ex[3][0] == ["TIME 127.0.0.1:PORT.EHLO"]
    else:
        assert ex[0] == ["", ""] and ex[3] == [[], []]


@pytest.mark.parametrize("kind", ["exim", "postern"])
def test_pipe_connect_to_daemons(kind, tmp_path):
    """The daemons offer PIPECONNECT (pipelining_connect_advertise_hosts defaults to *): the
    second message comes with it, which the server logs as L* (log_selector +pipelining)."""
    from test_smtpclient_daemon import Server
    # The servers look for early input a little later (an expansion they make first sleeps:
    # Exim's banner, Postern's smtp_accept_max_nonmail_hosts), so that the early EHLO is there,
    # as with a distant server (on loopback the banner could otherwise win the race; a connect
    # ACL would stop the daemons offering PIPECONNECT).
    srv = Server(kind, main="log_selector = +pipelining\n"
                 "smtp_banner = ${run{/bin/sleep 0.3}}$smtp_active_hostname ESMTP\n"
                 "smtp_accept_max_nonmail_hosts = ${run{/bin/sleep 0.3}}*\n")
    try:
        lines, misc = deliver_twice("postern", srv.port)
        assert misc[0] == [f"TIME 127.0.0.1:{srv.port}.EHLO"]
        assert lines[1].startswith("=> a@r.test R=r T=t H=127.0.0.1")
        deadline = time.time() + 5
        while time.time() < deadline and len(re.findall(r" <= sender@s\.test ", srv.mainlog())) < 2:
            time.sleep(0.05)
        arrivals = [l for l in srv.mainlog().splitlines() if " <= sender@s.test " in l]
        assert len(arrivals) == 2
        assert " L. " in arrivals[0] and " L* " in arrivals[1], arrivals
    finally:
        srv.stop()


def test_pipe_connect_chunking_banner_421_as_exim():
    """With CHUNKING, a refusing banner on the early connection: the same log lines (the error
    names "pipelined end of data") and the record goes. The early batch holds the small
    message's BDAT LAST and its bytes, as Exim's (test_smtpclient_bdat_batches.py compares the
    batches; the bytes differ here in the Received header)."""
    ehlo = "250-fake\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 PIPECONNECT\r\n"
    results = {}
    for who in ("exim", "postern"):
        srv = BannerServer(["220 fake\r\n", "421 busy\r\n"], [ehlo, ehlo])
        lines, misc = deliver_twice(who, srv.port)
        srv.wait()
        results[who] = (srv.early, lines, [[l.replace(f":{srv.port}.", ":PORT.") for l in m] for m in misc])
    ex, pr = results["exim"], results["postern"]
    assert ex[1][1] == "H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after pipelined end of data: 421 busy"
    assert pr[1] == ex[1]
    assert pr[2] == ex[2] == [["TIME 127.0.0.1:PORT.EHLO"], []]
    assert pr[0][1].startswith("EHLO client.test\r\nMAIL FROM:<sender@s.test>\r\nRCPT TO:<a@r.test>\r\n"
                               "RCPT TO:<b@r.test>\r\nBDAT ")
