#!/usr/bin/env python3
"""bench/queue: the cost of one queue run on a large queue (see RESULTS.md).

Builds a queue of N messages with the spool API (queue_tool gen), then measures:
  - `postern -q` wall time with none due (every message noted due tomorrow) and with few due
    (every K-th message due now), median of R runs;
  - the selection alone through the index (queue_tool index) against the least a scanning runner
    must do: list input/ and read every -H (queue_tool scan);
  - Exim 4.96's `exim -q` on a copy of a smaller queue (E messages), where practical (Exim forks a
    delivery process for every message on every run).
Usage: run.py <build dir> [N] [K] [E]"""
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


def timed(cmd, runs):
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append((time.monotonic() - t0) * 1000)
    return statistics.median(times)


def tool(tool_bin, *args):
    out = subprocess.run([tool_bin, *args], check=True, capture_output=True, text=True).stdout.split()
    return out


def main():
    build = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    e = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    postern = os.path.join(build, "postern")
    qt = os.path.join(build, "tests/unit/queue/queue_tool")
    work = tempfile.mkdtemp(prefix="bench-queue-")
    try:
        spool = os.path.join(work, "spool")
        conf = os.path.join(work, "conf")
        with open(conf, "w") as f:
            f.write(CONF.format(spool=spool))
        t0 = time.monotonic()
        tool(qt, "gen", spool, str(n))
        print(f"queue of {n} messages built in {time.monotonic() - t0:.1f} s")
        tool(qt, "note", spool, "86400", "0")
        none_run = timed([postern, "-C", conf, "-q"], 5)
        idx = tool(qt, "index", spool)
        scan = tool(qt, "scan", spool)
        print(f"none due: postern -q {none_run:.1f} ms (median of 5); "
              f"index selection {idx[2]} ms for {idx[1]} due; scan of every -H {scan[2]} ms")
        # as Exim would leave them: each message's router deferred it, so each skipped message
        # gets its "retry time not reached" line in every run
        tool(qt, "note", spool, "86400", "0", "lines")
        lines_run = timed([postern, "-C", conf, "-q"], 5)
        print(f"none due, each logging Exim's retry-time line: postern -q {lines_run:.1f} ms (median of 5)")
        tool(qt, "note", spool, "86400", str(k))
        idx = tool(qt, "index", spool)
        few_run = timed([postern, "-C", conf, "-q"], 1)
        print(f"few due ({idx[1]}): postern -q {few_run:.1f} ms (one delivery process each); "
              f"index selection {tool(qt, 'index', spool)[2]} ms")
        if shutil.which("exim") and e > 0:
            espool = os.path.join(work, "espool")
            econf = os.path.join(work, "econf")
            with open(econf, "w") as f:
                f.write(CONF.format(spool=espool))
            tool(qt, "gen", espool, str(e))
            first = timed(["exim", "-C", econf, "-q"], 1)
            second = timed(["exim", "-C", econf, "-q"], 1)
            print(f"exim -q on {e} messages: first run {first:.0f} ms, second run (none due by "
                  f"retry rules) {second:.0f} ms = {second / e:.2f} ms per message")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
