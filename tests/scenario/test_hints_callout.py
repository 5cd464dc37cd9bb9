"""The callout cache in the hints tools: exim_dumpdb prints Exim 4.96's lines ("<time> <key>
callout=accept postmaster=... (time) random=... (time)", sorted by Exim's key) and exim_tidydb
removes records older than -t, naming them by Exim's key. The records come from real -bhc
callouts to a scripted SMTP server; run beside Exim 4.96 where installed (same lines apart from
the times; the e.example domain record is left out: the callout engines differ there)."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

EXIM = shutil.which("exim") or "/usr/sbin/exim"

CONF = """spool_directory = {spool}
exim_user = root
exim_group = root
primary_hostname = mx.local
acl_smtp_rcpt = rcpt
begin acl
rcpt:
  require verify = recipient/callout=5s,random,postmaster
  accept
begin routers
r:
  driver = manualroute
  route_list = * 127.0.0.1
  self = send
  transport = t
begin transports
t:
  driver = smtp
  port = {port}
  hosts_try_chunking =
"""

SESSION = ("helo x\r\nmail from:<a@b.example>\r\nrcpt to:<good@d.example>\r\nrcpt to:<bad@e.example>\r\n"
           "quit\r\n")


class Sink:
    """Accepts everything but RCPTs to "bad" and the random local part."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(5)
        self.srv.settimeout(1)
        self.port = self.srv.getsockname()[1]
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    @staticmethod
    def one(c):
        c.settimeout(10)
        f = c.makefile("rb")
        c.sendall(b"220 sink\r\n")
        try:
            for line in f:
                u = line.upper()
                if u.startswith(b"QUIT"):
                    c.sendall(b"221 bye\r\n")
                    break
                if u.startswith(b"RCPT") and (b"BAD" in u or b"TESTING" in u):
                    c.sendall(b"550 no\r\n")
                else:
                    c.sendall(b"250 ok\r\n")
        except OSError:
            pass
        c.close()

    def close(self):
        self.stop = True
        self.t.join(5)
        self.srv.close()


def tool(binary, d, name):
    if binary == EXIM:
        return [shutil.which(name) or "/usr/sbin/" + name]
    link = d / name
    if not link.exists():
        os.symlink(binary, link)
    return [str(link)]


def run(binary, top, port):
    d = top / os.path.basename(binary)
    spool = d / "spool"
    spool.mkdir(parents=True)
    (d / "conf").write_text(CONF.format(spool=spool, port=port))
    r = subprocess.run([binary, "-C", str(d / "conf"), "-bhc", "1.2.3.4"], input=SESSION, capture_output=True,
                       text=True, timeout=60)
    assert "250 Accepted" in r.stdout, r.stdout + r.stderr
    dump = subprocess.run(tool(binary, d, "exim_dumpdb") + [str(spool), "callout"], capture_output=True,
                          text=True, timeout=30).stdout
    keys = subprocess.run(tool(binary, d, "exim_dumpdb") + ["-k", str(spool), "callout"], capture_output=True,
                          text=True, timeout=30).stdout
    kept = subprocess.run(tool(binary, d, "exim_tidydb") + [str(spool), "callout"], capture_output=True,
                          text=True, timeout=30).stdout
    time.sleep(2.1)
    tidied = subprocess.run(tool(binary, d, "exim_tidydb") + ["-t", "1s", str(spool), "callout"],
                            capture_output=True, text=True, timeout=30).stdout
    after = subprocess.run(tool(binary, d, "exim_dumpdb") + [str(spool), "callout"], capture_output=True,
                           text=True, timeout=30).stdout
    stamp = r"\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d"
    dump = [re.sub(stamp, "TIME", l) for l in dump.splitlines() if not l.startswith(("TIME e.example", ))]
    dump = [l for l in dump if " e.example " not in l]
    return (dump, keys, kept.replace(str(spool), "SPOOL"),
            sorted(tidied.replace(str(spool), "SPOOL").splitlines()), after)


def test_callout_dump_and_tidy(postern_bin, tmp_path):
    sink = Sink()
    try:
        got = run(postern_bin, tmp_path, sink.port)
        want = run(EXIM, tmp_path, sink.port) if os.path.exists(EXIM) else None
    finally:
        sink.close()
    dump, keys, kept, tidied, after = got
    assert dump == ["TIME bad@e.example callout=reject",
                    "TIME d.example callout=accept postmaster=accept (TIME) random=reject (TIME)",
                    "TIME good@d.example callout=accept"]
    assert keys == "  bad@e.example\n  d.example\n  e.example\n  good@d.example\n"
    assert kept == "Tidying Exim hints database SPOOL/db/callout\nTidying complete\n"
    assert tidied == ["Tidying Exim hints database SPOOL/db/callout", "Tidying complete",
                      "deleted bad@e.example (too old)", "deleted d.example (too old)",
                      "deleted e.example (too old)", "deleted good@d.example (too old)"]
    assert after == ""
    if want:
        assert got == want, "differs from Exim 4.96"
