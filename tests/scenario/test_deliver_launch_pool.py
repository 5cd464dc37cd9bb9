"""The delivery launcher's workers (src/core/deliver_launch_pool.c): a daemon's deliveries after
reception run in long-lived worker processes, one message after another, instead of a fork per
message. What must hold: every message is delivered at once as before; a worker is used again
for the next message; a worker that is killed is replaced without losing the next message; a
worker whose credentials changed (deliver_drop_privilege) is not used again."""
import os
import re
import signal
import smtplib
import sys
import pathlib

import pytest

from daemon_helpers import Daemon, free_ports, reachable_by_exim_user, wait_for

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_events_order import FakeServer  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")


@pytest.fixture
def relay(postern_bin, tmp_path):
    started = []
    reachable_by_exim_user(tmp_path)

    def make(extra=""):
        sink = FakeServer("ok")
        (port,) = free_ports(1)
        d = Daemon(postern_bin, tmp_path, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}\n"
                   "host_lookup =\nacl_smtp_rcpt = accept\nlog_selector = +pid\n" + extra
                   + f"\nbegin routers\nsink:\n  driver = manualroute\n  route_list = * 127.0.0.1::{sink.port}"
                   " byname\n  self = send\n  transport = t\n"
                   "begin transports\nt:\n  driver = smtp\n  allow_localhost\n  hosts_avoid_tls = *\n")
        d.port = port
        d.start()
        started.append((d, sink))
        d.wait_listening(None)
        return d
    yield make
    for d, sink in started:
        d.stop()
        sink.close()


def send(d, n):
    """Send message n and wait for its delivery; the pid that logged its "=>" line."""
    with smtplib.SMTP("127.0.0.1", d.port, timeout=10) as s:
        s.sendmail("a@s.example", [f"r{n}@r.example"], f"Subject: {n}\r\n\r\nbody {n}\r\n")
    line = re.compile(r"\[(\d+)\] \S+ => r%d@r\.example " % n)
    assert wait_for(lambda: line.search(d.mainlog), timeout=20), d.mainlog + d.paniclog
    return int(line.search(d.mainlog).group(1))


def test_worker_delivers_one_message_after_another(relay):
    d = relay()
    pids = [send(d, n) for n in range(4)]
    assert len(set(pids)) == 1, pids
    assert d.mainlog.count(" Completed") == 4, d.mainlog


def test_killed_worker_is_replaced(relay):
    d = relay()
    first = send(d, 0)
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{first}/status")
                    or "\nState:\tZ" in pathlib.Path(f"/proc/{first}/status").read_text())
    second = send(d, 1)
    assert second != first
    assert send(d, 2) == second
    assert d.paniclog == ""


def test_worker_with_dropped_privilege_is_not_used_again(relay):
    # The whole delivery runs as the exim user: that worker cannot deliver as root again.
    d = relay("deliver_drop_privilege = true")
    pids = [send(d, n) for n in range(3)]
    assert len(set(pids)) == 3, pids
