"""Pre-forked session processes that end as soon as they start are not replaced at once:
without a pause the daemon forked hundreds of them a second. It logs the problem once and forks
again after 2, 4 ... 60 seconds; it still serves connections meanwhile. And processes whose
user cannot reach the spool or the logs wait for a connection instead of dying young (they
prepare nothing that needs either), so there is nothing to respawn."""
import os
import pathlib
import signal
import socket
import time

import pytest

from daemon_helpers import Daemon, free_ports, reachable_by_exim_user, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")


def children_cpu(pid):
    """CPU seconds of the daemon's reaped children (the idle processes that died)."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK")


def idle_pids(pid):
    out = set()
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
        except OSError:
            continue
        f = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if f.get("PPid", "").strip() == str(pid) and f.get("Name", "").strip() == "postern-idle" \
                and not f["State"].startswith("Z"):
            out.add(int(d.name))
    return out


def test_processes_dying_at_start_are_not_respawned_in_a_loop(postern_bin, tmp_path):
    """Every idle process is killed as soon as it is seen (as if it died at its start)."""
    reachable_by_exim_user(tmp_path)
    (port,) = free_ports(1)
    d = Daemon(postern_bin, tmp_path, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}\n"
               "host_lookup =\nacl_smtp_rcpt = accept\nqueue_only = true\n"
               "begin routers\nbegin transports\n")
    d.start()
    try:
        d.wait_listening(None)
        killed = set()
        end = time.monotonic() + 3
        while time.monotonic() < end:
            for pid in idle_pids(d.proc.pid) - killed:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.005)
        # 8 at the start, then a few single replacements before the pause grows past 3 s;
        # without the pause a replacement followed every death at once (hundreds here).
        assert len(killed) < 20, len(killed)
        assert wait_for(lambda: "end as they start" in d.paniclog, timeout=5), d.paniclog
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.settimeout(10)
        assert s.recv(512)[:3] == b"220"
        s.close()
        assert d.proc.poll() is None
    finally:
        d.stop()


def test_processes_that_cannot_log_wait_instead_of_dying(postern_bin, tmp_path):
    reachable_by_exim_user(tmp_path)
    logs = tmp_path / "rootlogs"
    logs.mkdir()
    os.chmod(logs, 0o700)  # root's only: the exim user's processes cannot log
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(spool, 0o700)  # nor reach the spool
    (port,) = free_ports(1)
    d = Daemon(postern_bin, tmp_path, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}\n"
               f"log_file_path = {logs}/%slog\nhost_lookup =\nacl_smtp_rcpt = accept\nqueue_only = true\n"
               "begin routers\nbegin transports\n")
    d.start()
    try:
        assert wait_for(lambda: (logs / "mainlog").exists() and "daemon started" in (logs / "mainlog").read_text(),
                        timeout=10)
        assert wait_for(lambda: len(idle_pids(d.proc.pid)) == 8, timeout=10)
        first = idle_pids(d.proc.pid)
        before = children_cpu(d.proc.pid)
        time.sleep(2)
        assert children_cpu(d.proc.pid) - before < 0.05
        assert idle_pids(d.proc.pid) == first        # the same processes, still waiting
        # A connection is answered by one of them, which cannot log either and says so as
        # Exim does (or refuses it).
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.settimeout(10)
        assert s.recv(512)[:3] in (b"220", b"421")
        s.close()
        assert d.proc.poll() is None
    finally:
        d.stop()
