"""Callout verification (verify = sender/callout, recipient/callout=...) with -bhc against a
scripted SMTP server on loopback, compared with Exim 4.96's replies, log lines and the commands
the server received (goldens in tests/golden/callout/, recorded with
`RECORD_CALLOUT_GOLDEN=1 pytest tests/scenario/test_callout.py` where Debian's exim is installed).
Replies and log lines are compared as sorted sets: Exim's stdout is buffered while its log lines
go to stderr at once. The random local part is fixed in the configuration so that the goldens do
not depend on the time."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest

from daemon_helpers import free_port

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "callout"

CONFIG = """spool_directory = {spool}
exim_user = root
exim_group = root
primary_hostname = mx.local
callout_random_local_part = $primary_hostname-testing
acl_smtp_mail = mail
acl_smtp_rcpt = rcpt
acl_smtp_data = data
begin acl
data:
  deny !verify = header_sender/callout=mailfrom=chk@mx.local
  accept
mail:
  accept sender_domains = ok.example
         !verify = sender/callout
         message = sender no: $sender_verify_failure/$callout_address
  deny   !verify = sender/callout
  accept
rcpt:
  deny domains = r.example
       !verify = recipient/callout
  deny domains = rr.example
       !verify = recipient/callout=random
  deny domains = d.example
       !verify = recipient/callout=defer_ok
  deny domains = p.example
       !verify = recipient/callout=postmaster
  deny domains = fp.example
       !verify = recipient/callout=fullpostmaster
  deny domains = u.example
       !verify = recipient/callout=use_sender
  deny domains = nc.example
       !verify = recipient/callout=no_cache,10s,connect=2s,maxwait=20s
       message = nc $recipient_verify_failure $callout_address
  deny domains = refused.example
       !verify = recipient/callout=5s
  deny domains = m.example
       !verify = recipient/callout=mailfrom=x@y.example
  deny domains = bogus.example
       !verify = recipient/callout=bogus
  accept
begin routers
r0:
  driver = manualroute
  domains = refused.example
  route_list = * 127.0.0.1::{closed} byname
  transport = t1
  self = send
r1:
  driver = manualroute
  route_list = * 127.0.0.1::{port} byname
  transport = t1
  self = send
begin transports
t1:
  driver = smtp
"""

SESSIONS = {
    "recipient": ["helo x", "mail from:<>", "rcpt to:<good@r.example>", "rcpt to:<bad@r.example>",
                  "rcpt to:<tmp@r.example>", "rcpt to:<x@rr.example>", "rcpt to:<tmp@d.example>",
                  "rcpt to:<bad@d.example>", "rcpt to:<good@r.example>", "rcpt to:<bad@r.example>",
                  "rcpt to:<x@p.example>", "rcpt to:<bad@nc.example>", "rcpt to:<bad@nc.example>",
                  "rcpt to:<x@refused.example>", "rcpt to:<x@m.example>", "rcpt to:<x@bogus.example>",
                  "quit"],
    "sender": ["helo x", "mail from:<bad@z.example>", "mail from:<bad@z.example>", "mail from:<tmp@z.example>",
               "mail from:<bad@ok.example>", "rset", "mail from:<a@z.example>", "rcpt to:<x@u.example>",
               "rcpt to:<bad@u.example>", "quit"],
    "header_sender": ["helo x", "mail from:<a@ok.example>", "rcpt to:<c@d.example>", "data",
                      "From: bad@z.example", "Subject: x", "", "hi", ".",
                      "mail from:<a@ok.example>", "rcpt to:<c@d.example>", "data",
                      "Reply-To: tmp@z.example", "Subject: x", "", "hi", ".",
                      "mail from:<a@ok.example>", "rcpt to:<c@d.example>", "data",
                      "From: bad@z.example, good@z.example", "Subject: x", "", "hi", ".", "quit"],
}


class Scripted:
    """An SMTP server whose RCPT answers depend on the local part: bad* 550 (two lines), tmp*
    451, pm* rejects postmaster, anything else 250; the "testing" random part is rejected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.commands = []
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.handle(c)

    def handle(self, c):
        c.settimeout(10)
        f = c.makefile("rb")
        c.sendall(b"220 test.example ESMTP\r\n")
        for raw in f:
            line = raw.decode().rstrip("\r\n")
            self.commands.append(line)
            u = line.upper()
            if u.startswith("EHLO"):
                out = "250-test.example\r\n250-SIZE 1000\r\n250 PIPELINING"
            elif u.startswith("MAIL"):
                out = "250 OK"
            elif u.startswith("RCPT"):
                if "bad" in line:
                    out = "550-5.1.1 no such user\r\n550 5.1.1 second line"
                elif "tmp" in line:
                    out = "451 4.3.0 try later"
                elif "testing" in line or ("postmaster" in line and "fp.example" in line):
                    out = "550 rejected"
                else:
                    out = "250 Accepted"
            elif u.startswith("RSET"):
                out = "250 Reset"
            elif u.startswith("QUIT"):
                c.sendall(b"221 bye\r\n")
                break
            else:
                out = "500 unknown"
            c.sendall(out.encode() + b"\r\n")
        c.close()

    def close(self):
        self.stop = True
        self.sock.close()


def closed_port():
    return free_port()


def run(prog, conf, commands, port, closed):
    text = "".join(c + "\r\n" for c in commands)
    r = subprocess.run([prog, "-C", str(conf), "-bhc", "10.0.0.1"], input=text, capture_output=True,
                       text=True, timeout=120)
    lines = [l for l in (r.stdout + r.stderr).splitlines()
             if not l.startswith((">>>", "***", "220 ")) and l.strip()]
    lines = [re.sub(r"1[0-9A-Za-z]{5}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", "ID", l) for l in lines]
    return sorted(l.replace(str(port), "PORT").replace(str(closed), "CLOSED") for l in lines)


def transcript(prog, name):
    d = pathlib.Path(tempfile.mkdtemp(prefix="callout-"))
    srv = Scripted()
    try:
        os.chmod(d, 0o755)
        (d / "spool").mkdir()
        closed = closed_port()
        conf = d / "c.conf"
        conf.write_text(CONFIG.format(spool=d / "spool", port=srv.port, closed=closed))
        out = run(prog, conf, SESSIONS[name], srv.port, closed)
        out += ["SERVER: " + c for c in srv.commands]
        return out
    finally:
        srv.close()
        shutil.rmtree(d)


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_callout_same_as_exim(postern_bin, name):
    golden = GOLDEN / (name + ".txt")
    if os.environ.get("RECORD_CALLOUT_GOLDEN"):
        golden.write_text("\n".join(transcript("exim", name)) + "\n")
    want = golden.read_text().splitlines()
    got = transcript(postern_bin, name)
    assert got == want


def test_bh_skips_callouts(postern_bin, tmp_path):
    srv = Scripted()
    try:
        conf = tmp_path / "c.conf"
        (tmp_path / "spool").mkdir()
        conf.write_text(CONFIG.format(spool=tmp_path / "spool", port=srv.port, closed=closed_port()))
        r = subprocess.run([postern_bin, "-C", str(conf), "-bh", "10.0.0.1"],
                           input="helo x\r\nmail from:<bad@z.example>\r\nquit\r\n", capture_output=True,
                           text=True, timeout=30)
        assert "250 OK" in r.stdout
        assert srv.commands == []
    finally:
        srv.close()
