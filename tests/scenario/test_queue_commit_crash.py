"""Crash safety of the queue runner's group commit (src/core/queue_commit.c): queue runs deliver
to Maildirs while the runner and its workers are killed with SIGKILL at random moments (the
transport children are left alone, as a killed delivery process leaves them). Completed
messages whose new/ directories the runner had not synced yet sit in its commit directory; the
next run moves them back and their journal says what was delivered. In the end every message
is in every recipient's Maildir exactly once and the spool is empty."""
import os
import pathlib
import random
import shutil
import signal
import subprocess
import tempfile
import time

NMSG = 30
RCPTS = ["r0", "r1", "r2"]


def conf_text(base):
    return f"""spool_directory = {base}/spool
primary_hostname = test.example
qualify_domain = test.example
exim_user = mail
exim_group = mail
queue_run_parallel = 2
begin routers
loc:
  driver = accept
  local_parts = {" : ".join(RCPTS)}
  transport = md
begin transports
md:
  driver = appendfile
  directory = {base}/mail/${{local_part_data}}/Maildir
  maildir_format
  create_directory
  user = mail
"""


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = open(f"/proc/{p}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(p))
    return out


def test_kill_runner_and_workers_at_random_points(postern_bin):
    kill_runs(postern_bin, runner_only=False, seed=7)


def test_kill_runner_alone_at_random_points(postern_bin):
    """Only the runner dies; its workers finish the message they have and its committer the
    records it got. The runner applies a report (the committer's record, the schedule index)
    after handing out the next message, so it can die with a report read and not yet passed on:
    that message's -H stays in the commit directory until the next runner moves it back."""
    kill_runs(postern_bin, runner_only=True, seed=11)


def kill_runs(postern_bin, runner_only, seed):
    base = pathlib.Path(tempfile.mkdtemp(prefix="postern-commit-crash-"))
    try:
        os.chmod(base, 0o755)
        (base / "mail").mkdir()
        os.chmod(base / "mail", 0o777)
        conf = base / "c.conf"
        conf.write_text(conf_text(base))
        for i in range(NMSG):
            r = subprocess.run([postern_bin, "-C", str(conf), "-odq", "-f", "s@x.example",
                                *[f"{x}@test.example" for x in RCPTS]],
                               input=f"Subject: m{i}\nX-N: {i}\n\nbody {i}\n", text=True,
                               capture_output=True, timeout=60)
            assert r.returncode == 0, r.stderr
        rng = random.Random(seed)
        kills = 0
        inp = base / "spool" / "input"
        for _ in range(40):
            if not list(inp.glob("*-H")):
                break
            p = subprocess.Popen([postern_bin, "-C", str(conf), "-q"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.005, 0.06))
            if p.poll() is None:
                victims = [p.pid] + ([] if runner_only else children(p.pid))
                for v in victims:
                    try:
                        os.kill(v, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                kills += 1
            p.wait()
        # Let everything finish: orphaned transport children end on their own.
        deadline = time.time() + 60
        while time.time() < deadline:
            subprocess.run([postern_bin, "-C", str(conf), "-q"], timeout=120,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not list(inp.glob("*-H")) and not list((base / "spool" / "commit").glob("*/*-H")):
                break
            time.sleep(0.2)
        assert not list(inp.glob("*-H"))
        assert kills > 0
        for rc in RCPTS:
            seen = {}
            for f in (base / "mail" / rc / "Maildir" / "new").iterdir():
                for line in f.read_text().splitlines():
                    if line.startswith("X-N: "):
                        seen[line[5:]] = seen.get(line[5:], 0) + 1
            assert seen == {str(i): 1 for i in range(NMSG)}, (rc, kills, seen)
        assert not list((base / "spool" / "commit").glob("*/*"))
    finally:
        shutil.rmtree(base, ignore_errors=True)
