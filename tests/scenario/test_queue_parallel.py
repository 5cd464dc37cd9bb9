"""Deliveries in flight together within one queue run (src/core/queue_pool.c).

With queue_run_parallel (beyond Exim; default 1, Exim's serial runner) messages are delivered
several at once; ordered runs (queue_run_in_order) and messages waiting
for a host (wait-<transport> records: test_smtp_reuse.py checks that they still share one
connection) one at a time, as Exim's runner does. Overlap is observed, not timed:
each delivery runs a command that announces itself in a directory, waits (boundedly) for a
second announcement to appear, and records how many deliveries it saw in flight. Every message
must still be delivered exactly once, with its lines logged in Exim's order."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

CONF = """\
spool_directory = {spool}
primary_hostname = test.example
exim_user = root
exim_group = root
log_file_path = {spool}/log/%slog
{extra}
begin routers
pipe:
  driver = accept
  transport = p
begin transports
p:
  driver = pipe
  command = {script}
  user = nobody
  temp_errors = 75
begin retry
* * F,1h,1s
"""

# Announce this delivery, wait up to WAIT seconds for another to be in flight, record the most
# seen at once; exit 75 (a temporary error) while the "defer" file exists.
SCRIPT = """#!/bin/sh
d={box}
me=$$
[ -e $d/defer ] && exit 75
touch $d/in.$me
most=1
i=0
while [ $i -lt {tries} ]; do
  n=$(ls $d | grep -c '^in\\.')
  [ $n -gt $most ] && most=$n
  [ $most -ge 2 ] && break
  sleep 0.1
  i=$((i+1))
done
echo $most > $d/seen.$me
cat > $d/mail.$me
rm -f $d/in.$me
exit 0
"""


@pytest.fixture
def shared_dir():
    """A directory the transport's user (nobody) can reach (pytest's tmp is 0700)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="qpar."))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_site(tmp_path, shared, extra="", tries=100):
    spool = tmp_path / "spool"
    box = shared / "box"
    box.mkdir()
    os.chmod(box, 0o777)
    script = shared / "deliver.sh"
    script.write_text(SCRIPT.format(box=box, tries=tries))
    script.chmod(0o755)
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(spool=spool, script=script, extra=extra))
    return conf, spool, box


def queue(postern_bin, conf, n):
    for i in range(n):
        r = subprocess.run([postern_bin, "-C", str(conf), "-odq", "-f", "s@test.example", f"u{i}@test.example"],
                           input=f"Subject: m{i}\n\nbody {i}\n", capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr


def run_q(postern_bin, conf, flag="-q"):
    r = subprocess.run([postern_bin, "-C", str(conf), flag], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def seen(box):
    return sorted(int(p.read_text()) for p in box.glob("seen.*"))


def delivered_bodies(box):
    return sorted(m for p in box.glob("mail.*") for m in re.findall(r"(?m)^body \d+$", p.read_text()))


def per_message_lines(spool):
    lines = {}
    for line in (spool / "log" / "mainlog").read_text().splitlines():
        m = re.match(r"^\S+ \S+ (\S{6}-\S{6}-\S{2}) (\S+)", line)
        if m:
            lines.setdefault(m.group(1), []).append(m.group(2))
    return lines


def test_new_messages_are_delivered_side_by_side(postern_bin, tmp_path, shared_dir):
    conf, spool, box = make_site(tmp_path, shared_dir, extra="queue_run_parallel = 6")
    queue(postern_bin, conf, 6)
    run_q(postern_bin, conf)
    assert len(seen(box)) == 6
    assert max(seen(box)) >= 2, "no two deliveries were ever in flight together"
    assert delivered_bodies(box) == sorted(f"body {i}" for i in range(6))
    for mid, flags in per_message_lines(spool).items():
        assert flags == ["<=", "=>", "Completed"], (mid, flags)
    assert not list((spool / "input").glob("*-H"))


def test_in_order_runs_deliver_one_at_a_time(postern_bin, tmp_path, shared_dir):
    conf, spool, box = make_site(tmp_path, shared_dir, extra="queue_run_in_order = true\nqueue_run_parallel = 6",
                                 tries=10)
    queue(postern_bin, conf, 3)
    run_q(postern_bin, conf)
    assert seen(box) == [1, 1, 1]
    assert delivered_bodies(box) == ["body 0", "body 1", "body 2"]


def test_default_is_one_at_a_time(postern_bin, tmp_path, shared_dir):
    """Without queue_run_parallel a run delivers one message after another, as Exim's runner."""
    conf, spool, box = make_site(tmp_path, shared_dir, tries=10)
    queue(postern_bin, conf, 3)
    run_q(postern_bin, conf)
    assert seen(box) == [1, 1, 1]
    assert len(delivered_bodies(box)) == 3


# The first delivery to start blocks until the "go" file exists (bounded); the others go through.
BLOCK_SCRIPT = """#!/bin/sh
d={box}
if mkdir $d/first 2>/dev/null; then
  echo $$ > $d/first/pid.tmp && mv $d/first/pid.tmp $d/first/pid
  i=0
  while [ ! -e $d/go ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done
fi
cat > $d/mail.$$
exit 0
"""


def _ppid(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")


def _wait_for(cond, what, secs=60):
    import time
    end = time.monotonic() + secs
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_worker_killed_with_a_message_handed_in_advance(postern_bin, tmp_path, shared_dir):
    """With 4 workers and 8 messages the runner hands each worker two messages before it reads
    any report (the second in advance, read by the worker only after its report on the first).
    The worker whose first delivery blocks is killed: its second message was never read, so
    another worker delivers it in the same run; the blocked one, whose transport goes on and
    journals, is completed by the next run. Every message delivered exactly once, none left."""
    conf, spool, box = make_site(tmp_path, shared_dir, extra="queue_run_parallel = 4")
    (shared_dir / "deliver.sh").write_text(BLOCK_SCRIPT.format(box=box))
    queue(postern_bin, conf, 8)
    runner = subprocess.Popen([postern_bin, "-C", str(conf), "-q"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: (box / "first" / "pid").exists(), "the first delivery")
        pid = int((box / "first" / "pid").read_text())
        chain = [pid]
        while chain[-1] not in (runner.pid, 1, 0):
            chain.append(_ppid(chain[-1]))
        assert chain[-1] == runner.pid, chain
        worker = chain[-2]   # the runner's child delivering the blocked message
        os.kill(worker, 9)
        (box / "go").touch()
        assert runner.wait(timeout=120) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    log = (spool / "log" / "mainlog").read_text()
    assert len(re.findall(r"queue run: delivery process ended abnormally", log)) == 1, log
    # The run itself delivered and completed the other seven, the killed worker's second too.
    done = [m for m, flags in per_message_lines(spool).items() if "Completed" in flags]
    assert len(done) == 7, log
    # The blocked delivery's transport outlives its worker; then the next run completes it.
    _wait_for(lambda: len(delivered_bodies(box)) == 8, "the blocked delivery's mail")
    _wait_for(lambda: (run_q(postern_bin, conf), not list((spool / "input").glob("*-H")))[1],
              "the blocked message's lock to be released and the message completed")
    assert delivered_bodies(box) == sorted(f"body {i}" for i in range(8))
    for mid, flags in per_message_lines(spool).items():
        assert "Completed" in flags, (mid, flags)
