"""The daemon's "daemon started" line, Postern against Debian's Exim 4.96 run on the same
configuration: one plain port, plain and SMTPS (tls_on_connect_ports) ports, IPv4 and IPv6
listeners, wildcards, and -oX. Exim names the SMTPS listeners apart ("... and for SMTPS on ...",
or "listening for SMTPS on ..." when every port is one)."""
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from daemon_helpers import free_ports, reachable_by_exim_user, wait_for

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

BASE = """primary_hostname = start.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
keep_environment =
tls_advertise_hosts =
daemon_startup_retries = 0
"""


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# (name, extra config, extra arguments); P1..P3 stand for free ports.
CASES = [
    ("one plain port", "daemon_smtp_ports = P1\nlocal_interfaces = 127.0.0.1", []),
    ("plain and SMTPS", "daemon_smtp_ports = P1 : P2\ntls_on_connect_ports = P2\nlocal_interfaces = 127.0.0.1", []),
    ("wildcards", "daemon_smtp_ports = P1 : P2\ntls_on_connect_ports = P2", []),
    ("IPv4 and IPv6, grouped", "daemon_smtp_ports = P2 : P1 : P3\ntls_on_connect_ports = P3 : P2\n"
     "local_interfaces = <; 127.0.0.1 ; ::1", []),
    ("-oX ports", "daemon_smtp_ports = P3\ntls_on_connect_ports = P2", ["-oX", "P1:P2"]),
    ("-oX addresses", "tls_on_connect_ports = P2", ["-oX", "<; 127.0.0.1.P1 ; 127.0.0.1.P2 ; [::1]:P2"]),
    ("-oX only SMTPS", "tls_on_connect_ports = P1\nlocal_interfaces = 127.0.0.1", ["-oX", "P1"]),
]


def start_line(cmd, d, conf_text, args, ports):
    """Run one daemon in the foreground in d, return its start line with pid and ports masked."""
    for sub in ("spool", "log"):
        (d / sub).mkdir(parents=True)
        shutil.chown(d / sub, "Debian-exim", "Debian-exim")
    conf = d / "conf"
    text = BASE.format(d=d) + conf_text + "\n"
    for i, p in enumerate(ports, 1):
        text = text.replace(f"P{i}", str(p))
        args = [a.replace(f"P{i}", str(p)) for a in args]
    conf.write_text(text)
    log = d / "log" / "mainlog"
    proc = subprocess.Popen([cmd, "-C", str(conf), "-bdf"] + args,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ok = wait_for(lambda: log.exists() and "daemon started" in log.read_text(), 20)
        got = log.read_text() if log.exists() else ""
        assert ok, (cmd, got, (d / "log" / "paniclog").exists() and (d / "log" / "paniclog").read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    line = next(l for l in got.splitlines() if "daemon started" in l)
    line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
    line = re.sub(r"pid=\d+", "pid=N", line)
    for i, p in enumerate(ports, 1):
        line = line.replace(str(p), f"P{i}")
    return line


@pytest.mark.parametrize("name,extra,args", CASES, ids=[c[0] for c in CASES])
def test_start_line_as_exim(postern_bin, tmp_path, name, extra, args):
    if ("::1" in extra or "::1" in " ".join(args)) and not have_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    reachable_by_exim_user(tmp_path)
    ports = free_ports(3)
    exim = start_line("exim", tmp_path / "exim", extra, args, ports)
    ours = start_line(postern_bin, tmp_path / "postern", extra, args, ports)
    assert ours == exim
    # The SMTPS cases really name SMTPS (the comparison would also pass if neither did).
    assert ("SMTPS" in exim) == ("tls_on_connect_ports" in extra)


def pid_file_owner(cmd, d, port):
    for sub in ("spool", "log"):
        (d / sub).mkdir(parents=True)
        shutil.chown(d / sub, "Debian-exim", "Debian-exim")
    conf = d / "conf"
    conf.write_text(BASE.format(d=d) + f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}\n")
    pid = d / "daemon.pid"
    proc = subprocess.Popen([cmd, "-C", str(conf), "-bdf", "-oP", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: pid.exists() and pid.read_text().strip() == str(proc.pid), 20)
        st = os.stat(pid)
        return st.st_uid, st.st_gid, oct(st.st_mode & 0o777)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_pid_file_owner_as_exim(postern_bin, tmp_path):
    """Exim writes the pid file as root with the exim group: root:<exim group>, 0644."""
    import grp
    reachable_by_exim_user(tmp_path)
    exim = pid_file_owner("exim", tmp_path / "exim", free_ports(1)[0])
    ours = pid_file_owner(postern_bin, tmp_path / "postern", free_ports(1)[0])
    assert ours == exim
    assert exim == (0, grp.getgrnam("Debian-exim").gr_gid, "0o644")
