"""Crash safety of the delivery process: kill -9 the delivery at random moments, again and
again, then let it finish. Every local recipient must be delivered exactly once: the transport
child journals what it delivered before reporting it, the -J journal is folded into -H by the
next attempt, and a new attempt waits for a child its killed predecessor left running."""
import os
import pathlib
import random
import shutil
import signal
import subprocess
import tempfile
import time

N = 12


def config(base):
    parts = " : ".join(f"r{i}" for i in range(N))
    return f"""spool_directory = {base}/spool
primary_hostname = test.example
qualify_domain = test.example
exim_user = mail
exim_group = mail
begin routers
loc:
  driver = accept
  local_parts = {parts}
  transport = mb
begin transports
mb:
  driver = appendfile
  file = {base}/mail/${{local_part_data}}
  user = nobody
"""


def run(postern, conf, *args, **kw):
    return subprocess.run([postern, "-C", str(conf), *args], capture_output=True, text=True,
                          timeout=60, **kw)


def test_kill_delivery_at_random_points(postern_bin):
    base = pathlib.Path(tempfile.mkdtemp(prefix="postern-crash-"))
    try:
        os.chmod(base, 0o755)
        (base / "mail").mkdir()
        os.chmod(base / "mail", 0o777)
        conf = base / "c.conf"
        conf.write_text(config(base))
        rcpts = [f"r{i}@test.example" for i in range(N)]
        r = run(postern_bin, conf, "-odq", "-f", "s@x.example", *rcpts, input="Subject: crash\n\nbody\n")
        assert r.returncode == 0, r.stderr
        (mid,) = [p.name[:-2] for p in (base / "spool" / "input").glob("*-H")]
        rng = random.Random(4)
        kills = 0
        for _ in range(60):
            if not (base / "spool" / "input" / f"{mid}-H").exists():
                break
            p = subprocess.Popen([postern_bin, "-C", str(conf), "-M", mid],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, 0.02))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.wait()
        # Let it finish (an orphaned transport child may hold the message for a moment).
        deadline = time.time() + 30
        while (base / "spool" / "input" / f"{mid}-H").exists() and time.time() < deadline:
            run(postern_bin, conf, "-M", mid)
            time.sleep(0.1)
        assert not (base / "spool" / "input" / f"{mid}-H").exists()
        counts = {}
        for i in range(N):
            f = base / "mail" / f"r{i}"
            text = f.read_text() if f.exists() else ""
            counts[f"r{i}"] = sum(1 for line in text.splitlines() if line.startswith("From s@x.example "))
        assert all(c == 1 for c in counts.values()), (counts, kills)
        assert kills > 0
        log = (base / "spool" / "log" / "mainlog").read_text()
        assert log.count(" Completed") == 1
    finally:
        shutil.rmtree(base, ignore_errors=True)
