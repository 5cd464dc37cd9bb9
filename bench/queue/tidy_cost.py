#!/usr/bin/env python3
"""bench/queue/tidy_cost.py: what the orphan sweep (src/core/spool_tidy.c) costs a queue run.

On one queue of N messages (none due), alternates `postern -q` of a build without the sweep
(BEFORE) and of a build with it (AFTER), R rounds, and reports the medians and their ratio; then
the sweep itself: with its stamp made stale, a run starts it in a detached process, and the time
that process holds the stamp's lock is the sweep's duration (median of S).
Usage: tidy_cost.py <before postern> <after build dir> [N] [R] [S]"""
import fcntl
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CONF = """\
spool_directory = {spool}
primary_hostname = bench.example
exim_user = root
exim_group = root
log_file_path = {spool}/log/%slog
begin routers
hold:
  driver = redirect
  data = :defer: held for the benchmark
  allow_defer
begin retry
* * F,1h,15m
"""


def run_ms(cmd):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    return (time.monotonic() - t0) * 1000


def wait_unlocked(stamp):
    t0 = time.monotonic()
    while True:
        with open(stamp) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return (time.monotonic() - t0) * 1000
            except BlockingIOError:
                pass
        time.sleep(0.001)


def main():
    before, build = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 7
    sweeps = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    after = os.path.join(build, "postern")
    qt = os.path.join(build, "tests/unit/queue/queue_tool")
    work = tempfile.mkdtemp(prefix="bench-tidy-")
    try:
        spool = os.path.join(work, "spool")
        conf = os.path.join(work, "conf")
        with open(conf, "w") as f:
            f.write(CONF.format(spool=spool))
        subprocess.run([qt, "gen", spool, str(n)], check=True, capture_output=True)
        subprocess.run([qt, "note", spool, "86400", "0"], check=True, capture_output=True)
        stamp = os.path.join(spool, "db", "postern-tidy")
        run_ms([after, "-C", conf, "-q"])          # the first run sweeps (no stamp yet)
        wait_unlocked(stamp)
        b, a = [], []
        for _ in range(rounds):
            b.append(run_ms([before, "-C", conf, "-q"]))
            a.append(run_ms([after, "-C", conf, "-q"]))
        mb, ma = statistics.median(b), statistics.median(a)
        print(f"{n} queued, none due, sweep not due: before {mb:.1f} ms, after {ma:.1f} ms "
              f"(median of {rounds}, alternating); after/before {ma / mb:.2f}")
        s, r = [], []
        for _ in range(sweeps):
            os.utime(stamp, (0, 0))
            r.append(run_ms([after, "-C", conf, "-q"]))
            s.append(wait_unlocked(stamp))
        print(f"sweep due: the run {statistics.median(r):.1f} ms; the detached sweep went on "
              f"{statistics.median(s):.1f} ms after the run ended (median of {sweeps})")
        with open(os.path.join(spool, "log", "mainlog")) as f:
            removed = sum("spool tidy: removed" in line for line in f)
        print(f"files removed by the sweeps: {removed}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
