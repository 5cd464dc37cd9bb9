"""A datestamped main log the process may not open, beside live Exim 4.96.

At a day boundary a process running as the exim user must open a new file of
log_file_path = .../%s-%D.log. When that file exists but is root's and not writable (made here
by taking today's file away from the exim user, as no fake clock is installed), Exim ends the
process with status 1: stderr and the panic log get "Cannot open main log file ...: Permission
denied: euid=102 egid=105". No mail is lost: a delivery (-M, a queue run) dies before it
delivers and the message stays queued; a reception whose arrival line cannot be logged removes
the message it wrote and says so (status 1, or 421 after DATA for -bs), so the sender keeps it.
The untrusted -C makes every process here the exim user's (reception too), as in Exim."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

EXIM = "/usr/sbin/exim"
ENV = {k: v for k, v in os.environ.items() if k != "POSTERN_TEST_TRUST_CONFIG"}

CONF = """exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = {d}/spool
log_file_path = {d}/log/%s-%D.log
primary_hostname = test.example
keep_environment =
tls_advertise_hosts =
acl_smtp_rcpt = accept
begin routers
pd:
  driver = accept
  transport = pipe_default
begin transports
pipe_default:
  driver = pipe
  command = /bin/sh -c 'id >> {d}/out/pd'
begin retry
* * F,1h,10m
"""

MSG = "Subject: t\n\nhi\n"
SMTP = ("HELO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<pd@test.example>\r\n"
        "DATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n")

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0
                                or not shutil.which("runuser"),
                                reason="needs Exim 4.96, root and runuser")


class Side:
    def __init__(self, binary):
        self.binary = binary
        self.d = pathlib.Path(tempfile.mkdtemp(prefix="logdate_"))
        os.chmod(self.d, 0o755)
        for sub in ("spool", "out"):
            (self.d / sub).mkdir()
            os.chmod(self.d / sub, 0o777)
        (self.d / "log").mkdir()
        shutil.chown(self.d / "log", "Debian-exim", "Debian-exim")
        os.chmod(self.d / "log", 0o750)
        (self.d / "conf").write_text(CONF.format(d=self.d))
        os.chmod(self.d / "conf", 0o644)

    def cmd(self, *args, as_user=None, stdin=""):
        cmd = [self.binary, "-C", str(self.d / "conf"), *args]
        if as_user:
            cmd = ["runuser", "-u", as_user, "--", *cmd]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60, cwd=self.d,
                              env=ENV)

    def clean(self, text):
        out = []
        for line in text.splitlines():
            line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
            line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
            line = re.sub(r"-\d{8}\.log", "-DATE.log", line)
            line = re.sub(r"\bS=\d+", "S=N", line)
            line = re.sub(r"Exim 4\.96 .*", "Exim 4.96 DATE", line)
            out.append(line.replace(str(self.d), "D"))
        return out

    def queued(self):
        return sorted(p.name[:-2] for p in (self.d / "spool" / "input").rglob("*-H"))

    def take_main_log_away(self):
        """Today's main log becomes root's, mode 0600: what a day's new file made by root is."""
        (main,) = (self.d / "log").glob("main-*.log")
        os.chown(main, 0, 0)
        os.chmod(main, 0o600)

    def panic(self):
        f = self.d / "log" / "panic.log"
        return self.clean(f.read_text()) if f.exists() else []

    def close(self):
        shutil.rmtree(self.d, ignore_errors=True)


def both(fn):
    res = []
    for binary in (EXIM, os.environ["POSTERN"]):
        s = Side(binary)
        try:
            s.cmd("-odq", "pd@test.example", stdin=MSG)   # makes today's log as the exim user
            assert len(s.queued()) == 1
            s.take_main_log_away()
            res.append(fn(s))
        finally:
            s.close()
    return res


@pytest.mark.parametrize("args", [["-M", "ID"], ["-qf"]])
def test_exim_user_delivery_cannot_open_new_log_like_exim(args):
    """A delivery as the exim user ends at its first line (the lost-privilege line): nothing is
    delivered, the message stays queued."""
    def go(s):
        (mid,) = s.queued()
        r = s.cmd(*[mid if a == "ID" else a for a in args], as_user="Debian-exim")
        return {"rc": r.returncode, "stderr": s.clean(r.stderr), "panic": s.panic(),
                "queued": len(s.queued()), "delivered": (s.d / "out" / "pd").exists()}
    exim, ours = both(go)
    assert ours == exim
    assert exim["rc"] == 1 and exim["queued"] == 1 and not exim["delivered"]
    assert exim["panic"] == ["exim user lost privilege for using -C option",
                             'Cannot open main log file "D/log/main-DATE.log": Permission denied: euid=102 egid=105']


def test_root_bm_reception_cannot_log_arrival_like_exim():
    """-bm by root (received as the exim user): the arrival line cannot be logged, the new
    message is removed and the status is 1."""
    def go(s):
        r = s.cmd("-odq", "pd@test.example", stdin=MSG)
        return {"rc": r.returncode, "stderr": s.clean(r.stderr), "panic": s.panic(), "queued": len(s.queued())}
    exim, ours = both(go)
    assert ours == exim
    assert exim["rc"] == 1 and exim["queued"] == 1


def test_root_bs_reception_cannot_log_arrival_like_exim():
    """-bs by root: after the data, 421 and the end of the session; the message is removed."""
    def go(s):
        r = s.cmd("-odq", "-bs", stdin=SMTP)
        return {"rc": r.returncode, "stdout": s.clean(r.stdout), "stderr": s.clean(r.stderr), "panic": s.panic(),
                "queued": len(s.queued())}
    exim, ours = both(go)
    assert ours == exim
    assert exim["stdout"][-1] == "421 test.example Unexpected failure, please try later - closing connection."
    assert exim["queued"] == 1
