"""queue_fast_ramp: in the first phase of a -qq run, the 51st message routed to one host (its
wait-<transport> record overflowing into a continuation) makes the queue runner ask the daemon,
through its notifier socket, to deliver that message at once; the daemon logs "notify triggered
queue run" and starts a run for it while the scan goes on. 50 messages, or queue_fast_ramp unset:
no request. (Observed on Exim 4.96 with strace: the datagram "\\x01<id>\\0", one per overflow.)"""
import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest
from daemon_helpers import free_port

EXIM = shutil.which("exim") or "/usr/sbin/exim"

CONF = """\
{ramp}queue_fast_ramp
spool_directory = {d}/spool
tls_advertise_hosts =
log_file_path = {d}/spool/%slog
primary_hostname = test.example
exim_user = {user}
exim_group = {user}
daemon_smtp_ports = {port}
local_interfaces = 127.0.0.1
pid_file_path = {d}/pid
begin routers
r:
  driver = manualroute
  route_list = * 127.0.0.1 byname
  transport = remote_smtp
  self = send
begin transports
remote_smtp:
  driver = smtp
  port = {refused}
begin retry
* * F,1d,1h
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="daemons bind as root")


def exim_user():
    try:
        return pwd.getpwnam("Debian-exim")
    except KeyError:
        return None


def run_case(binary, d, messages, ramp=True):
    d.mkdir(parents=True)
    spool = d / "spool"
    spool.mkdir()
    u = exim_user()
    user = u.pw_name if u else "root"
    if u:
        os.chown(spool, u.pw_uid, u.pw_gid)
    conf = d / "conf"
    conf.write_text(CONF.format(ramp="" if ramp else "no_", d=d, user=user, port=free_port(),
                                refused=free_port()))
    c = [binary, "-C", str(conf)]
    subprocess.run(c + ["-bd", "-q1h"], check=True, timeout=30)
    log = spool / "mainlog"
    try:
        for _ in range(100):
            if log.exists() and "End queue run" in log.read_text():
                break
            time.sleep(0.05)
        for i in range(messages):
            subprocess.run(c + ["-odq", f"u{i}@example.com"], input=b"Subject: t\n\nb\n", check=True,
                           timeout=30)
        subprocess.run(c + ["-qqf"], check=True, timeout=120)
        # The triggered run is the daemon's child: give it time to log its end.
        for _ in range(100):
            text = log.read_text()
            if text.count("notify triggered") == 0 or text.count("End queue run") >= 3:
                break
            time.sleep(0.1)
    finally:
        pid = int((d / "pid").read_text().split()[0])
        os.kill(pid, 15)
    lines = log.read_text().splitlines()
    return [l.split(" ", 2)[2] for l in lines
            if "notify triggered" in l or ("queue run" in l and "-qqf" not in l)]


def shape(lines):
    """The daemon's run for the notified message, with pids taken out."""
    return [l.split(": pid=")[0] for l in lines]


def test_fast_ramp_51_messages(postern_bin, tmp_path):
    got = shape(run_case(postern_bin, tmp_path / "p", 51))
    # The daemon's start-up run, then the triggered one.
    assert got == ["Start queue run", "End queue run", "notify triggered queue run",
                   "Start queue run", "End queue run"]
    if os.path.exists(EXIM) and exim_user():
        # Exim's transports run as the Exim user, who cannot enter pytest's private tmp_path.
        base = tempfile.mkdtemp(prefix="fast_ramp_exim.")
        try:
            os.chmod(base, 0o755)
            assert shape(run_case(EXIM, pathlib.Path(base) / "e", 51)) == got, "differs from Exim 4.96"
        finally:
            shutil.rmtree(base, ignore_errors=True)


def test_no_fast_ramp_below_threshold_or_unset(postern_bin, tmp_path):
    quiet = ["Start queue run", "End queue run"]
    assert shape(run_case(postern_bin, tmp_path / "p50", 50)) == quiet
    assert shape(run_case(postern_bin, tmp_path / "off", 51, ramp=False)) == quiet
