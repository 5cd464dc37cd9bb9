"""Privileges with -C, beside live Exim 4.96.

Exim keeps root for an untrusted -C only in the process root started. A reception runs as the
exim user and re-executes Exim for the delivery ("exim -C file [-odi] -Mc id"); that process is
called by the exim user, so it keeps no privilege: it writes "exim user lost privilege for using
-C option", and a local delivery to another user defers ("unable to set gid=... or uid=..."). A
transport with no user anywhere runs as the exim user. Queue runs and -M started by root keep
root. Compared here, Postern against Exim on the same configuration: the main log, the panic
log, stderr, the uid a pipe command sees (`id`), the command line of the process that runs it
(/proc/$PPID/cmdline: the re-execution), and the owners of the files it delivers."""
import os
import pathlib
import re
import signal
import shutil
import smtplib
import subprocess
import tempfile
import time

import pytest

from daemon_helpers import free_port, wait_for

EXIM = "/usr/sbin/exim"
# Without conftest's test aid: the behaviour under test is Exim's.
ENV = {k: v for k, v in os.environ.items() if k != "POSTERN_TEST_TRUST_CONFIG"}

CONF = """exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = {d}/spool
log_file_path = {d}/spool/log/%slog
primary_hostname = test.example
keep_environment =
daemon_smtp_ports = {port}
local_interfaces = 127.0.0.1
acl_smtp_rcpt = accept
tls_advertise_hosts =
{main}
begin routers
pn:
  driver = accept
  local_parts = pn
  transport = pipe_nobody
pd:
  driver = accept
  local_parts = pd
  transport = pipe_default
fn:
  driver = accept
  local_parts = fn
  transport = file_nobody
begin transports
pipe_nobody:
  driver = pipe
  command = /bin/sh -c 'id > {d}/out/pn'
  user = nobody
pipe_default:
  driver = pipe
  command = /bin/sh -c 'id > {d}/out/pd; tr "\\\\000" " " < /proc/\\$PPID/cmdline > {d}/out/pd.cmdline'
file_nobody:
  driver = appendfile
  file = {d}/out/fn
  user = nobody
{retry}
"""

# Defers stay queued (no bounce) unless a case wants the bounce's own processes.
RETRY = "begin retry\n* * F,1h,10m\n"

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0
                                or not shutil.which("runuser"),
                                reason="needs Exim 4.96, root and runuser")


def clean_line(line, d, binary):
    line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
    line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
    line = re.sub(r"\bS=\d+", "S=N", line)
    line = re.sub(r"pid=\d+", "pid=N", line)
    # The banner's date: Exim and Postern run one after the other and may see different seconds.
    line = re.sub(r"\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "DATE", line)
    line = line.replace(str(d), "D")
    for exe in (binary, "/usr/sbin/exim4", os.path.realpath(binary)):
        line = line.replace(exe + " ", "BIN ")
    return line.rstrip()


class Run:
    def __init__(self, binary, main="", retry=RETRY):
        self.binary = binary
        self.d = pathlib.Path(tempfile.mkdtemp(prefix="rootc_"))
        os.chmod(self.d, 0o755)
        for sub in ("spool", "out"):
            (self.d / sub).mkdir()
            os.chmod(self.d / sub, 0o777)
        self.port = free_port()
        (self.d / "conf").write_text(CONF.format(d=self.d, main=main, retry=retry, port=self.port))
        os.chmod(self.d / "conf", 0o644)
        self.stderr = ""

    def cmd(self, *args, as_user=None, stdin=""):
        cmd = [self.binary, "-C", str(self.d / "conf"), *args]
        if as_user:
            cmd = ["runuser", "-u", as_user, "--", *cmd]
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60, cwd=self.d,
                           env=ENV)
        self.stderr += r.stderr
        return r

    def queued_id(self):
        ids = [p.name[:-2] for p in (self.d / "spool" / "input").rglob("*-H")]
        assert len(ids) == 1, ids
        return ids[0]

    def log(self, name):
        f = self.d / "spool" / "log" / name
        return [clean_line(x, self.d, self.binary) for x in f.read_text().splitlines()] if f.exists() else []

    def wait_log(self, text, timeout=15):
        return wait_for(lambda: any(text in x for x in self.log("mainlog")), timeout=timeout)

    def out(self):
        res = {}
        for f in sorted((self.d / "out").iterdir()):
            st = f.stat()
            owner = f"{st.st_uid}:{st.st_gid}"
            if f.name == "fn":
                res[f.name] = owner
            else:
                res[f.name] = (owner, clean_line(f.read_text(), self.d, self.binary))
        return res

    def result(self, sort_logs=False):
        main, panic = self.log("mainlog"), self.log("paniclog")
        err = [clean_line(x, self.d, self.binary) for x in self.stderr.splitlines()]
        if sort_logs:   # the bounce's own processes race with the parent's last lines
            main, panic, err = sorted(main), sorted(panic), sorted(err)
        return {"mainlog": main, "paniclog": panic, "stderr": err, "out": self.out()}

    def close(self):
        shutil.rmtree(self.d, ignore_errors=True)


def both(fn, **kw):
    res = []
    for binary in (EXIM, os.environ["POSTERN"]):
        r = Run(binary, **kw)
        try:
            res.append(fn(r))
        finally:
            r.close()
    return res


MSG = "Subject: t\n\nhi\n"
RCPTS = ["pn@test.example", "pd@test.example", "fn@test.example"]


def test_root_odi_delivers_as_exim_user_like_exim():
    """-odi by root: the delivery is a re-executed -Mc process as the exim user."""
    def go(r):
        r.cmd("-odi", *RCPTS, stdin=MSG)
        return r.result()
    exim, ours = both(go)
    assert ours == exim
    assert exim["out"]["pd"][1].startswith("uid=")
    assert "-Mc ID" in exim["out"]["pd.cmdline"][1]
    assert "exim user lost privilege for using -C option" in exim["mainlog"]


def test_root_odi_bounce_processes_like_exim():
    """Without a retry rule the defers bounce: Exim's bounce reception and its delivery are
    processes of their own, each noting the lost privilege."""
    def go(r):
        r.cmd("-odi", "pn@test.example", "pd@test.example", stdin=MSG)
        assert r.wait_log("Frozen (delivery error message)")
        time.sleep(0.3)
        res = r.result(sort_logs=True)
        # The bounce's size and text are the bounce module's business, not this test's.
        res["mainlog"] = [x for x in res["mainlog"] if not x.startswith("ID <= <>")]
        return res
    exim, ours = both(go, retry="")
    assert ours == exim


def test_root_bs_delivers_as_exim_user_like_exim():
    """-bs by root: each message's delivery runs again as the exim user (background)."""
    smtp = ("HELO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<pn@test.example>\r\nRCPT TO:<pd@test.example>\r\n"
            "DATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n")

    def go(r):
        r.cmd("-bs", stdin=smtp)
        assert r.wait_log("== pn@test.example")
        assert wait_for(lambda: (r.d / "out" / "pd.cmdline").exists() and (r.d / "out" / "pd.cmdline").stat().st_size)
        time.sleep(0.3)
        return r.result()
    exim, ours = both(go)
    assert ours == exim


def test_exim_user_odi_like_exim():
    """The exim user itself with -C: no privilege from the start; the delivery is still a
    process of its own (a second lost-privilege line)."""
    def go(r):
        r.cmd("-odi", *RCPTS, stdin=MSG, as_user="Debian-exim")
        return r.result()
    exim, ours = both(go)
    assert ours == exim


@pytest.mark.parametrize("args", [["-q"], ["-M", "ID"]])
def test_root_queue_run_and_M_keep_root_like_exim(args):
    """A queue run or -M by root keeps root: the delivery to nobody works."""
    def go(r):
        r.cmd("-odq", *RCPTS, stdin=MSG)
        mid = r.queued_id()
        r.cmd(*[mid if a == "ID" else a for a in args])
        return r.result()
    exim, ours = both(go)
    assert ours == exim
    assert ours["out"]["pn"][1].startswith("uid=65534")



def stop_daemon(p, pidfile):
    """-bd detaches: the process started is gone and the daemon's pid is in its pid file."""
    p.terminate()
    p.wait(timeout=10)
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=10)

def test_root_daemon_delivery_as_exim_user_like_exim():
    """A daemon started by root with -C: a received message's delivery runs as the exim user."""
    def go(r):
        p = subprocess.Popen([r.binary, "-C", str(r.d / "conf"), "-bd", "-oP", str(r.d / "pid")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=r.d, env=ENV)
        try:
            def up():
                try:
                    smtplib.SMTP("127.0.0.1", r.port, timeout=2).quit()
                    return True
                except OSError:
                    return False
            assert wait_for(up, timeout=10)
            s = smtplib.SMTP("127.0.0.1", r.port, timeout=10)
            s.sendmail("a@b.c", ["pn@test.example", "pd@test.example"], "Subject: d\r\n\r\nbody\r\n")
            s.quit()
            assert r.wait_log("== pn@test.example")
            assert wait_for(lambda: (r.d / "out" / "pd.cmdline").exists() and (r.d / "out" / "pd.cmdline").stat().st_size)
            time.sleep(0.3)
        finally:
            stop_daemon(p, r.d / "pid")
        res = r.result()
        # Start-up lines (TLS warnings, the daemon line's details) are the daemon's own business.
        res["mainlog"] = [x for x in res["mainlog"] if x.startswith("ID ") or "lost privilege" in x]
        return res
    exim, ours = both(go)
    assert ours == exim
    assert exim["out"]["pd"][1].startswith("uid=102") or "Debian-exim" in exim["out"]["pd"][1]


def test_root_daemon_queue_runs_as_exim_user_like_exim():
    """The daemon's queue runners (-q1s) with -C: each notes the lost privilege and delivers as
    the exim user; the deferred delivery to nobody freezes the message."""
    def go(r):
        r.cmd("-odq", "pn@test.example", "pd@test.example", stdin=MSG)
        p = subprocess.Popen([r.binary, "-C", str(r.d / "conf"), "-bd", "-q1s", "-oP", str(r.d / "pid")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             cwd=r.d, env=ENV)
        try:
            assert r.wait_log("ID Frozen")
            assert r.wait_log("End queue run")
        finally:
            stop_daemon(p, r.d / "pid")
        res = r.result()
        # Up to the first queue run's end: later runs only say the message is frozen.
        main = [x for x in res["mainlog"] if "daemon started" not in x and "certificate" not in x]
        res["mainlog"] = main[:main.index("End queue run: pid=N") + 1]
        res["paniclog"] = res["paniclog"][:4]
        return res
    exim, ours = both(go)
    assert ours == exim
    assert exim["out"]["pd"][1].startswith("uid=102(Debian-exim)")


def test_root_queue_run_bounce_delivered_as_exim_user_like_exim():
    """A queue run by root keeps root, but the bounce it makes is received and then delivered
    by processes of their own: the delivery one is the exim user's and notes the lost
    privilege."""
    def go(r):
        r.cmd("-odq", "zz@test.example", stdin=MSG)
        r.cmd("-q")
        assert r.wait_log("Frozen (delivery error message)")
        time.sleep(0.3)
        res = r.result(sort_logs=True)
        res["mainlog"] = [x for x in res["mainlog"] if not x.startswith("ID <= <>")]
        return res
    exim, ours = both(go, retry="")
    assert ours == exim
    assert "exim user lost privilege for using -C option" in exim["mainlog"]


EXIM_TRUSTED_LIST = pathlib.Path("/etc/exim4/trusted_configs")   # Debian's TRUSTED_CONFIG_LIST
POSTERN_TRUSTED_LIST = pathlib.Path("/etc/postern/trusted_configs")


@pytest.mark.skipif(EXIM_TRUSTED_LIST.exists() or POSTERN_TRUSTED_LIST.exists(),
                    reason="a trusted configuration list exists already: not touched")
def test_root_odi_trusted_config_keeps_root_like_exim():
    """A -C file listed in the trusted list (root's, not writable by others) keeps root through
    the delivery that follows the reception: no lost-privilege line, nobody gets the mail."""
    made_dir = not POSTERN_TRUSTED_LIST.parent.exists()

    def go(r):
        listing = EXIM_TRUSTED_LIST if r.binary == EXIM else POSTERN_TRUSTED_LIST
        listing.parent.mkdir(exist_ok=True)
        listing.write_text(f"{r.d / 'conf'}\n")
        os.chmod(listing, 0o644)
        try:
            r.cmd("-odi", *RCPTS, stdin=MSG)
        finally:
            listing.unlink()
        res = r.result()
        # Exim runs itself again (-Mc) to regain root for every delivery, trusted or not;
        # Postern delivers from the root process that forked the reception (core/priv_receive.h).
        res["out"].pop("pd.cmdline")
        return res
    try:
        exim, ours = both(go)
    finally:
        if made_dir:
            shutil.rmtree(POSTERN_TRUSTED_LIST.parent, ignore_errors=True)
    assert ours == exim
    assert ours["out"]["pn"][1].startswith("uid=65534")
    assert not any("lost privilege" in x for x in ours["mainlog"])


@pytest.mark.parametrize("od", ["-odb", None])
def test_root_background_delivery_as_exim_user_like_exim(od):
    """-odb (and the default) by root: the detached delivery is the exim user's -Mc process."""
    def go(r):
        r.cmd(*([od] if od else []), "pn@test.example", "pd@test.example", stdin=MSG)
        assert r.wait_log("== pn@test.example")
        assert wait_for(lambda: (r.d / "out" / "pd.cmdline").exists() and (r.d / "out" / "pd.cmdline").stat().st_size)
        time.sleep(0.3)
        return r.result()
    exim, ours = both(go)
    assert ours == exim
