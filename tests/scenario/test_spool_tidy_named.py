"""The orphan sweep (src/core/spool_tidy.c) beyond the default queue, and its pid-reuse rule.

- A daemon at start sweeps every named queue (<spool>/<name>/input, msglog) as it sweeps the
  default one: -D/-J/msglog without -H, spare files and -H temporaries of dead processes go;
  acknowledged messages (with -H, in their queue's input/ or in a runner's commit directory)
  stay. A named queue whose stamp is locked (its own -qG run is sweeping it) is left alone.
- A spare file names its process's pid. The file is removed when that pid is free, and also
  when the process now holding the pid started more than 2 s after the file was last changed
  (the pid was reused); it is kept while the process holding the pid is older than the file.
  Pids are chosen inside a private pid namespace (unshare), so the reuse is made for certain.
"""
import fcntl
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from daemon_helpers import wait_for
from test_spool_spares import daemon  # noqa: F401 (fixture)
from test_spool_tidy import sweep_done

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")

ORPHAN = "1pQrSt-000ABC-12"    # valid ids that no message has
ORPHAN2 = "1pQrSt-000ABD-34"
COMMITTED = "1pQrSt-000ABE-56"


def submit(postern_bin, conf, queue_dir):
    """A local submission, moved into the named queue (-MG): its id."""
    r = subprocess.run([postern_bin, "-C", str(conf), "-odq", "-f", "s@x.example", "u@y.example"],
                       input=b"Subject: kept\n\nbody\n", capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    (h,) = [n for n in os.listdir(queue_dir.parent / "input") if n.endswith("-H")]
    r = subprocess.run([postern_bin, "-C", str(conf), "-MG", queue_dir.name, h[:-2]], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (queue_dir / "input" / h).exists()
    return h[:-2]


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def plant_orphans(qdir):
    """Files of no message and of no live process in queue directory qdir; their names."""
    pid = dead_pid()
    files = [qdir / "input" / f"{ORPHAN}-D", qdir / "input" / f"{ORPHAN}-J",
             qdir / "msglog" / ORPHAN, qdir / "input" / f".postern-spare.{pid}.D",
             qdir / "msglog" / f".postern-spare.{pid}.M", qdir / "input" / f".{ORPHAN2}-H.tmp.{pid}.3"]
    for f in files:
        f.write_text(f"{ORPHAN}-D\n" if f.name.endswith("-D") else "x\n")
    return files, pid


def test_daemon_start_sweeps_named_queues(daemon, monkeypatch, postern_bin):
    monkeypatch.setenv("POSTERN_TIDY_MARGIN", "0")
    d = daemon()
    d.stop()
    q = d.spool / "slow"
    kept = submit(postern_bin, d.conf, q)
    # A message a killed runner left in its commit directory: the -H is there, so its -D and
    # msglog in the queue are not orphans.
    (q / "commit" / "4242").mkdir(parents=True)
    (q / "commit" / "4242" / f"{COMMITTED}-H").write_text("x\n")
    (q / "input" / f"{COMMITTED}-D").write_text(f"{COMMITTED}-D\n")
    (q / "msglog" / COMMITTED).write_text("x\n")
    files, pid = plant_orphans(q)
    # Split subdirectories of a second named queue are swept too.
    (d.spool / "other" / "input" / ORPHAN[5]).mkdir(parents=True)
    split_d = d.spool / "other" / "input" / ORPHAN[5] / f"{ORPHAN}-D"
    split_d.write_text(f"{ORPHAN}-D\n")
    # Not a queue (no input/ or msglog/ in it): left alone.
    (d.spool / "notaqueue").mkdir()
    stray = d.spool / "notaqueue" / f"{ORPHAN}-D"
    stray.write_text("x\n")

    n = d.mainlog.count("daemon started")
    d.start()
    assert wait_started(d, n)
    sweep_done(d.spool)
    log = d.mainlog
    for f in files:
        assert not f.exists(), f
    for f in files[:3]:
        assert f"spool tidy: removed {f} (no -H file)" in log, log
    assert f"spool tidy: removed {files[3]} (spare file of dead process {pid})" in log, log
    assert f"spool tidy: removed {files[5]} (temporary file of dead process {pid})" in log, log
    assert not split_d.exists() and f"spool tidy: removed {split_d} (no -H file)" in log, log
    assert stray.exists()
    assert sorted(n for n in os.listdir(q / "input") if not n.startswith(".")) == \
        sorted([f"{kept}-D", f"{kept}-H", f"{COMMITTED}-D"])
    assert (q / "msglog" / kept).exists() and (q / "msglog" / COMMITTED).exists()
    assert (d.spool / "db" / "postern-tidy-slow").exists()
    assert (d.spool / "db" / "postern-tidy-other").exists()
    assert "spool tidy" not in d.paniclog
    d.stop()

    # The named queue's stamp is held (its own -qG run is sweeping it): the daemon skips it.
    files, pid = plant_orphans(q)
    with open(d.spool / "db" / "postern-tidy-slow") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        n = d.mainlog.count("daemon started")
        d.start()
        assert wait_started(d, n)
        sweep_done(d.spool)
        for f in files:
            assert f.exists(), f
    d.stop()

    # A -qG run sweeps its own queue when a sweep is due (its stamp is old).
    shutil.rmtree(q / "commit")
    os.utime(d.spool / "db" / "postern-tidy-slow", (0, 0))
    r = subprocess.run([postern_bin, "-C", str(d.conf), "-qGslow"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    sweep_named_done(d.spool, "slow")
    for f in files:
        assert not f.exists(), f


def wait_started(d, n):
    return wait_for(lambda: d.mainlog.count("daemon started") > n, timeout=15)


def sweep_named_done(spool, queue, timeout=20):
    stamp = pathlib.Path(spool) / "db" / f"postern-tidy-{queue}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(stamp) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
        time.sleep(0.05)
    raise AssertionError("the sweep did not finish")


# Runs as pid 1 of a private pid namespace (with its own /proc), so it can give the next
# process a pid of its choosing through ns_last_pid.
PIDNS_SCRIPT = textwrap.dedent(r"""
    import fcntl, os, subprocess, sys, time
    postern, conf, spool = sys.argv[1:4]
    inp = os.path.join(spool, "input")

    def spawn_with_pid(pid):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        p = subprocess.Popen(["sleep", "120"])
        assert p.pid == pid, (p.pid, pid)
        return p

    def spare(pid):
        path = os.path.join(inp, ".postern-spare.%d.H" % pid)
        open(path, "w").close()
        return path

    older = spawn_with_pid(300)      # alive, started before its file: its owner
    spare(300)
    spare(400)                       # its process is started below, after the file
    spare(500)                       # nobody will have this pid
    # The sweeper reads a start time rounded down twice (boot time and clock ticks, up to 2 s
    # early) and allows it 2 s more: 5 s keeps the reused pid's start provably later.
    time.sleep(5.0)
    newer = spawn_with_pid(400)      # alive, but started after the file: a reused pid
    stamp = os.path.join(spool, "db", "postern-tidy")
    if os.path.exists(stamp):
        os.utime(stamp, (0, 0))      # a sweep is due
    subprocess.run([postern, "-C", conf, "-q"], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(stamp) as f:           # the detached sweeper holds it until done
        fcntl.flock(f, fcntl.LOCK_EX)
    print("left", sorted(n for n in os.listdir(inp) if n.startswith(".postern-spare.")))
    older.kill(); newer.kill()
""")


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare")
def test_spare_of_reused_pid_removed_of_older_owner_kept(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    conf = tmp_path / "conf"
    conf.write_text(f"spool_directory = {spool}\nprimary_hostname = test.example\n"
                    "queue_only = true\nbegin routers\nbegin transports\n")
    r = subprocess.run([postern_bin, "-C", str(conf), "-odq", "u@p.test"], input=b"Subject: x\n\nhi\n",
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    script = tmp_path / "pidns.py"
    script.write_text(PIDNS_SCRIPT)
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(script),
                        postern_bin, str(conf), str(spool)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "unshare failed" in r.stderr:
        pytest.skip("no pid namespaces here: " + r.stderr)
    assert r.returncode == 0, r.stderr
    assert "left ['.postern-spare.300.H']" in r.stdout, r.stdout
    log = (spool / "log" / "mainlog").read_text()
    assert re.search(r"spool tidy: removed \S+/input/\.postern-spare\.400\.H \(spare file of earlier process 400\)",
                     log), log
    assert re.search(r"spool tidy: removed \S+/input/\.postern-spare\.500\.H \(spare file of dead process 500\)",
                     log), log
    assert ".postern-spare.300" not in log
    assert len(re.findall("spool tidy: removed", log)) == 2, log
