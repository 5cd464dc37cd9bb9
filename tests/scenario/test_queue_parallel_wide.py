"""A wide queue run: queue_run_parallel = 64 (beyond Exim; the runner keeps at most 32 workers,
docs/queue.md) over 200 messages, each with a local recipient (a pipe command) and a remote one
(the smtp transport to a sink on loopback, so each message's worker also makes its -MCQ pipe).

Checked: every recipient delivered exactly once and the queue left empty; never more than 32
workers (plus the committer) at once; no worker left when the runner has ended; and no
descriptor leaked by a worker from one message to the next. For the last, each local delivery
waits until the test has counted its worker's open descriptors (the worker is then at the same
point of every message: waiting for the transport) and lets it go on."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from daemon_helpers import children_of, pid_alive
from test_smtp_reuse import Sink, free_port

MESSAGES = 200

CONF = """\
spool_directory = {spool}
primary_hostname = test.example
exim_user = root
exim_group = root
log_file_path = {spool}/log/%slog
queue_run_parallel = 64
begin routers
remote:
  driver = manualroute
  domains = remote.example
  route_list = * 127.0.0.1::{port}
  self = send
  transport = t
local:
  driver = accept
  transport = p
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
  command_timeout = 30s
p:
  driver = pipe
  command = {script}
  user = nobody
begin retry
* * F,1h,1s
"""

# Announce this delivery, wait (boundedly) for the test's go, then keep the message.
SCRIPT = """#!/bin/sh
d={box}
echo $$ > $d/tmp.$$ && mv $d/tmp.$$ $d/at.$$
i=0
while [ ! -e $d/go.$$ ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
rm -f $d/go.$$
cat > $(mktemp $d/mail.XXXXXXXX)
exit 0
"""


@pytest.fixture
def shared_dir():
    """A directory the pipe's user (nobody) can reach (pytest's tmp is 0700)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="qwide."))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _ppid(pid):
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _worker_of(pid, runner):
    """The runner's child that pid descends from (0: none, or it has gone)."""
    chain = [pid]
    while chain[-1] not in (runner, 1, 0):
        chain.append(_ppid(chain[-1]))
    return chain[-2] if chain[-1] == runner and len(chain) >= 2 else 0


def test_64_in_parallel_deliver_each_recipient_once(postern_bin, tmp_path, shared_dir):
    spool = tmp_path / "spool"
    box = shared_dir / "box"
    box.mkdir()
    os.chmod(box, 0o777)
    script = shared_dir / "deliver.sh"
    script.write_text(SCRIPT.format(box=box))
    script.chmod(0o755)
    port = free_port()
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(spool=spool, script=script, port=port))
    for i in range(MESSAGES):
        r = subprocess.run([postern_bin, "-C", str(conf), "-odq", "-f", "s@test.example",
                            f"u{i}@local.example", f"r{i}@remote.example"],
                           input=f"Subject: m{i}\n\nbody {i}\n", capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
    sink = Sink(port)
    runner = subprocess.Popen([postern_bin, "-C", str(conf), "-q"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    fds = {}          # worker pid -> its descriptor counts, one per local delivery, in order
    most = 0          # the runner's children at once
    handled = set()
    try:
        end = time.monotonic() + 600
        while runner.poll() is None:
            assert time.monotonic() < end, "the queue run did not end"
            ats = [a for a in box.glob("at.*") if a.name not in handled]
            if ats:   # (workers are waiting now: counted then, not on every turn)
                most = max(most, len(children_of(runner.pid)))
            for at in ats:
                handled.add(at.name)
                pid = int(at.name[3:])
                w = _worker_of(pid, runner.pid)
                if w:
                    try:
                        fds.setdefault(w, []).append(len(os.listdir(f"/proc/{w}/fd")))
                    except OSError:
                        pass
                (box / f"go.{pid}").touch()
                at.unlink()
            time.sleep(0.02)
        err = runner.stderr.read().decode(errors="replace")
        assert runner.returncode == 0, err
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        sink.close()
    # No worker outlives the run: the runner reaped each one before it ended.
    left = [w for w in fds if pid_alive(w)]
    assert not left, left
    assert 1 <= most <= 33, most
    # Each local recipient once.
    bodies = sorted(m for p in box.glob("mail.*") for m in re.findall(r"(?m)^body \d+$", p.read_text()))
    assert bodies == sorted(f"body {i}" for i in range(MESSAGES))
    # Each remote recipient once.
    with sink.lock:
        cmds = [c for conn in sink.conns for c in conn]
    rcpts = sorted(c for c in cmds if c.upper().startswith("RCPT TO:"))
    assert rcpts == sorted(f"RCPT TO:<r{i}@remote.example>" for i in range(MESSAGES)), rcpts[:5]
    assert cmds.count("<data>") == MESSAGES
    # The queue is empty and every message completed once.
    assert not list((spool / "input").glob("*-H"))
    log = (spool / "log" / "mainlog").read_text()
    assert log.count(" Completed") == MESSAGES
    assert "ended abnormally" not in log
    # A worker's descriptors at its second local delivery and at its last (the first may be
    # before the main log or a cached connection was opened): a leak of one per message would
    # show as a growth of two or more over four deliveries.
    long_lived = {w: c for w, c in fds.items() if len(c) >= 4}
    assert long_lived, fds
    for w, c in long_lived.items():
        assert c[-1] - c[1] <= 1, (w, c)
