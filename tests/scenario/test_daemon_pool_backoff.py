"""Pre-forked session processes that end as soon as they start (here: the exim user cannot open
the logs, which ends a process as in Exim 4.96) are not replaced at once: without a pause the
daemon forked hundreds of them a second. It logs the problem once and forks again after 2, 4 ...
60 seconds; it still serves connections meanwhile."""
import os
import socket
import time

import pytest

from daemon_helpers import Daemon, free_ports, reachable_by_exim_user, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")


def children_cpu(pid):
    """CPU seconds of the daemon's reaped children (the idle processes that died)."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK")


def test_processes_dying_at_start_are_not_respawned_in_a_loop(postern_bin, tmp_path):
    reachable_by_exim_user(tmp_path)
    logs = tmp_path / "rootlogs"
    logs.mkdir()
    os.chmod(logs, 0o700)  # root's only: the exim user's processes cannot log
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(spool, 0o700)  # nor reach the spool: each ends as it starts
    (port,) = free_ports(1)
    d = Daemon(postern_bin, tmp_path, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}\n"
               f"log_file_path = {logs}/%slog\nhost_lookup =\nacl_smtp_rcpt = accept\nqueue_only = true\n"
               "begin routers\nbegin transports\n")
    d.start()
    try:
        assert wait_for(lambda: (logs / "mainlog").exists() and "daemon started" in (logs / "mainlog").read_text(),
                        timeout=10)
        before = children_cpu(d.proc.pid)
        time.sleep(3)
        spent = children_cpu(d.proc.pid) - before
        # A few retries cost about 0.01 s; without a pause the daemon forked processes without
        # end (0.25 s of their CPU in these 3 s here, hundreds of forks a second).
        assert spent < 0.1, spent
        assert "end as they start" in (logs / "paniclog").read_text()
        # Connections are still answered (by a process of their own, which cannot log either
        # and says so as Exim does).
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.settimeout(10)
        assert s.recv(512)[:3] in (b"220", b"421")
        s.close()
        assert d.proc.poll() is None
    finally:
        d.stop()
