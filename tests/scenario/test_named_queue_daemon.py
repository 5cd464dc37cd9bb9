"""Named queues in the daemon, Postern beside Exim 4.96 with the same configuration: a message the
ACL puts in a named queue is delivered at once (Postern's sessions hand it to the root delivery
launcher with its queue's name), and `-bd -qG<name>/<time>` both receives into and runs that
queue, as Exim does (its sessions inherit the daemon's queue)."""
import os
import re
import signal
import smtplib
import time

import pytest

from daemon_helpers import free_ports
from test_named_queue import EXIM, Side


def start(side, *args):
    port = free_ports(1)[0]
    pidfile = side.dir / "daemon.pid"
    p = side.run("-bd", "-oX", f"127.0.0.1.{port}", "-oP", str(pidfile), *args)
    assert p.returncode == 0, p.stderr
    deadline = time.time() + 10
    while time.time() < deadline and not (pidfile.exists() and pidfile.read_text().strip()
                                          and any("daemon started" in line for line in side.log())):
        time.sleep(0.05)
    return port, pidfile


def stop(pidfile):
    if pidfile.exists() and pidfile.read_text().strip():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass
    time.sleep(0.3)


def wait_for(side, pred, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        log = side.log()
        if pred(log):
            return log
        time.sleep(0.1)
    return side.log()


def interesting(log):
    return [line for line in log if "daemon started" not in line and "server certificate" not in line
            and "Start" not in line and "End" not in line]


@pytest.fixture
def sides(postern_bin, tmp_path):
    extra = "tls_advertise_hosts ="    # no certificate warnings from Exim
    made = [Side(postern_bin, tmp_path / "postern", extra), Side(EXIM, tmp_path / "exim", extra)]
    yield made
    for s in made:
        s.cleanup()


def test_acl_queue_message_delivered_at_once_as_exim(sides):
    out = []
    for s in sides:
        port, pidfile = start(s)
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                c.sendmail("a@b.example", ["q1@test.example"], "Subject: t\r\n\r\nbody\r\n")
            log = wait_for(s, lambda log: any("Completed" in line for line in log))
        finally:
            stop(pidfile)
        out.append((interesting(log), s.files()))
    assert out[0] == out[1], out
    log, files = out[0]
    assert any(re.search(r"<ID0> <= a@b.example H=\(.*\) \[127.0.0.1\] P=esmtp S=\d+ Q=quar$", line) for line in log), log
    assert "<ID0> => q1 <q1@test.example> Q=quar R=r1 T=t1" in log
    assert files == []


def test_daemon_with_qG_receives_into_and_runs_its_queue_as_exim(sides):
    out = []
    for s in sides:
        s.conf.write_text(s.conf.read_text().replace("begin acl", "queue_only\nbegin acl"))
        port, pidfile = start(s, "-qGquar/1s")
        try:
            started = [line for line in s.log() if "daemon started" in line]
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                c.sendmail("a@b.example", ["plain@test.example"], "Subject: t\r\n\r\nbody\r\n")
            log = wait_for(s, lambda log: any("Completed" in line for line in log))
        finally:
            stop(pidfile)
        runs = {line for line in log if "queue run" in line}
        out.append((re.sub(r"pid=\d+|\d+$", "", started[0]), interesting(log), sorted(runs), s.files()))
    assert out[0] == out[1], out
    started, log, runs, files = out[0]
    assert "-q1s, listening for SMTP on [127.0.0.1]:" in started
    assert "rcpt plain before=<quar>" in log
    assert "<ID0> => plain <plain@test.example> Q=quar R=r1 T=t1" in log
    assert runs == ["End 'quar' queue run: pid=N", "Start 'quar' queue run: pid=N"]
    assert files == []


def test_queue_runner_daemon_start_line_as_exim(sides):
    out = []
    for s in sides:
        for k, args in enumerate((["-qGquar/1h"], ["-qqfGquar/1h"], ["-qqil1h"])):
            pidfile = s.dir / "qr.pid"
            p = s.run(*args, "-oP", str(pidfile))
            assert p.returncode == 0
            wait_for(s, lambda log: sum("daemon started" in line for line in log) > k, 10)
            stop(pidfile)
        out.append([re.sub(r"pid=\d+", "pid=N", line) for line in s.log() if "daemon started" in line])
    assert out[0] == out[1]
    assert out[0] == ["exim 4.96 daemon started: pid=N, -qGquar/1h, not listening for SMTP",
                      "exim 4.96 daemon started: pid=N, -qGquar/1h, not listening for SMTP",
                      "exim 4.96 daemon started: pid=N, -q1h, not listening for SMTP"]
