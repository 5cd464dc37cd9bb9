"""The orphan sweep (src/core/spool_tidy.c): files that killed processes leave in the spool and
that belong to no message (-D, -J, msglog without -H) or to no live process (spare files,
-H temporaries) are removed at daemon start and at queue-run start, and nothing else is.

POSTERN_TIDY_MARGIN (honoured for root only) sets the age margin to 0 so that files just left
by a kill are old enough; without it a fresh -D is kept."""
import fcntl
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from daemon_helpers import wait_for
from test_queue_commit_crash import NMSG, RCPTS, children, conf_text
from test_spool_spares import Client, daemon, session_pid, spares  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")


def sweep_done(spool, timeout=20):
    """Wait until no sweeper holds the stamp's lock (it holds it while it works)."""
    stamp = pathlib.Path(spool) / "db" / "postern-tidy"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if stamp.exists():
            with open(stamp) as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    pass
        time.sleep(0.05)
    raise AssertionError("the sweep did not finish")


def force_sweep_by_queue_run(postern_bin, conf, spool, env=None):
    """Make a sweep due (as spool_tidy_request does) and start a queue run, which starts it."""
    stamp = pathlib.Path(spool) / "db" / "postern-tidy"
    if stamp.exists():
        os.utime(stamp, (0, 0))
    subprocess.run([postern_bin, "-C", str(conf), "-q"], timeout=120, check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sweep_done(spool)


def restart(d):
    n = d.mainlog.count("daemon started")
    d.start()
    assert wait_for(lambda: d.mainlog.count("daemon started") > n, timeout=15), d.mainlog
    sweep_done(d.spool)


def test_session_and_daemon_killed_mid_data(daemon, monkeypatch):
    """A session killed in the middle of DATA together with its daemon leaves the unacknowledged
    -D and the session's spare files. The next daemon removes the spares at once (their process
    is dead) and the -D once it is older than the margin; never a message with -H."""
    d = daemon()
    c = Client(d.port)
    c.cmd("EHLO client.test")
    kept_id = c.message()                    # an acknowledged message: must survive
    assert c.cmd("MAIL FROM:<a@example.com>").startswith("250")
    assert c.cmd("RCPT TO:<b@example.com>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.s.sendall(b"Subject: half\r\n\r\nnever finished\r\n")
    inp = d.spool / "input"
    half = lambda: [n for n in os.listdir(inp) if n.endswith("-D") and not n.startswith(kept_id)]  # noqa: E731
    assert wait_for(lambda: half(), timeout=10)
    (dname,) = half()
    sess = session_pid(d)
    wait_for(lambda: len(spares(d, sess)) == 2, timeout=5)   # the -H temporary's and msglog's
    os.kill(sess, signal.SIGKILL)
    d.proc.kill()
    d.proc.wait()
    # Whatever the session had made (normally both); one of each kind for certain.
    for s in ("input/.postern-spare.%d.H", "msglog/.postern-spare.%d.M"):
        (d.spool / (s % sess)).touch()

    # Default margin: the spares go, the fresh -D stays.
    monkeypatch.delenv("POSTERN_TIDY_MARGIN", raising=False)
    restart(d)
    assert not spares(d, sess), spares(d, sess)
    for s in ("input", "msglog"):
        assert re.search(rf"spool tidy: removed \S+/{s}/\.postern-spare\.{sess}\.\w \(spare file of dead process {sess}\)",
                         d.mainlog), d.mainlog
    assert (inp / dname).exists()
    d.stop()

    # Margin 0: the -D goes too; the acknowledged message is untouched.
    monkeypatch.setenv("POSTERN_TIDY_MARGIN", "0")
    restart(d)
    assert not (inp / dname).exists()
    assert f"spool tidy: removed {inp}/{dname} (no -H file)" in d.mainlog, d.mainlog
    # (the new daemon's idle processes have spares of their own)
    assert sorted(n for n in os.listdir(inp) if not n.startswith(".")) == [f"{kept_id}-D", f"{kept_id}-H"]
    assert "spool tidy" not in d.paniclog


def test_live_session_and_message_files_are_kept(daemon, monkeypatch, postern_bin):
    """A sweep with margin 0 while a session is in the middle of DATA keeps its locked -D and its
    spares; pid 1's spare-like file is kept (alive, older than the file); the message then
    completes normally."""
    monkeypatch.setenv("POSTERN_TIDY_MARGIN", "0")
    d = daemon()
    c = Client(d.port)
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@example.com>").startswith("250")
    assert c.cmd("RCPT TO:<b@example.com>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.s.sendall(b"Subject: slow\r\n\r\nfirst part\r\n")
    inp = d.spool / "input"
    assert wait_for(lambda: [n for n in os.listdir(inp) if n.endswith("-D")], timeout=10)
    (inp / ".postern-spare.1.H").write_text("")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (inp / f".postern-spare.{dead.pid}.H").write_text("")
    sess = session_pid(d)
    mine = lambda: sorted(n for n in os.listdir(inp)  # noqa: E731
                          if not n.startswith(".") or n.startswith(f".postern-spare.{sess}."))
    before = mine()
    force_sweep_by_queue_run(postern_bin, d.conf, d.spool)
    # The session's -D (locked) and spares stay, and so does pid 1's file; the dead one's goes.
    # (The daemon's idle processes come and go with spares of their own meanwhile.)
    assert mine() == before, (before, mine())
    assert (inp / ".postern-spare.1.H").exists()
    assert not (inp / f".postern-spare.{dead.pid}.H").exists()
    assert f"(spare file of dead process {dead.pid})" in d.mainlog
    r = c.cmd("second part\r\n.")
    assert r.startswith("250 OK id="), r
    mid = r.split("id=")[1].strip()
    assert (inp / f"{mid}-H").exists() and (inp / f"{mid}-D").exists()
    out = subprocess.run([postern_bin, "-C", str(d.conf), "-bpc"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "1", out


def delivered(base):
    """Messages in the recipients' Maildirs so far."""
    return sum(len(os.listdir(d)) for d in base.glob("mail/*/Maildir/new"))


def test_kill_runners_workers_committers_then_sweep(postern_bin):
    """test_queue_commit_crash's kills (runner, workers and committer, SIGKILL at random moments),
    then queue runs until nothing is left, and a final sweep: every recipient has every message
    exactly once, and the spool has no file of any message left (no -D, -J or msglog without
    -H), no spare and no commit directory entry."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="postern-tidy-crash-"))
    env = dict(os.environ, POSTERN_TIDY_MARGIN="0")
    try:
        os.chmod(base, 0o755)
        (base / "mail").mkdir()
        os.chmod(base / "mail", 0o777)
        conf = base / "c.conf"
        conf.write_text(conf_text(base))
        spool = base / "spool"
        for i in range(NMSG):
            r = subprocess.run([postern_bin, "-C", str(conf), "-odq", "-f", "s@x.example",
                                *[f"{x}@test.example" for x in RCPTS]],
                               input=f"Subject: m{i}\nX-N: {i}\n\nbody {i}\n", text=True,
                               capture_output=True, timeout=60)
            assert r.returncode == 0, r.stderr
        rng = random.Random(11)
        kills = 0
        inp = spool / "input"
        for _ in range(40):
            if not list(inp.glob("*-H")):
                break
            p = subprocess.Popen([postern_bin, "-C", str(conf), "-q"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # The kill comes after a random delay or a random number of deliveries, whichever is
            # first: on a loaded machine one oversleep could otherwise let a run deliver the whole
            # queue before any kill (kills stayed 0).
            until, more = time.monotonic() + rng.uniform(0.005, 0.08), rng.randint(1, 8)
            goal = delivered(base) + more
            while p.poll() is None and time.monotonic() < until and delivered(base) < goal:
                time.sleep(0.001)
            if p.poll() is None:
                for v in [p.pid] + children(p.pid):
                    try:
                        os.kill(v, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                kills += 1
            p.wait()
        deadline = time.time() + 60
        while time.time() < deadline:
            subprocess.run([postern_bin, "-C", str(conf), "-q"], timeout=120, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not list(inp.glob("*-H")) and not list((spool / "commit").glob("*/*-H")):
                break
            time.sleep(0.2)
        assert kills > 0
        # Transport children of killed workers may still hold a -D lock for a moment.
        deadline = time.time() + 30
        while True:
            force_sweep_by_queue_run(postern_bin, conf, spool, env=env)
            # (the pool of recycled files is no message's: docs/spool.md)
            left = sorted(n for n in os.listdir(inp) if n != ".postern-free") + sorted(os.listdir(spool / "msglog"))
            if not left or time.time() > deadline:
                break
            time.sleep(0.5)
        assert left == [], left
        assert not list((spool / "commit").glob("*/*"))
        for rc in RCPTS:
            seen = {}
            for f in (base / "mail" / rc / "Maildir" / "new").iterdir():
                for line in f.read_text().splitlines():
                    if line.startswith("X-N: "):
                        seen[line[5:]] = seen.get(line[5:], 0) + 1
            assert seen == {str(i): 1 for i in range(NMSG)}, (rc, kills, seen)
        # (A removed -D may belong to a message without a "Completed" line: a worker killed
        # between removing -H and logging it. That every message reached every recipient once,
        # checked above, is what shows nothing acknowledged was removed.)
        panic = spool / "log" / "paniclog"
        assert not panic.exists() or "spool tidy" not in panic.read_text()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def fnv1a(h, data):
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def pending_seal(mid, batch):
    """A pending seal as src/core/journal_seal.c writes it (this boot's id)."""
    boot = open("/proc/sys/kernel/random/boot_id").read().strip()
    h = fnv1a(0xcbf29ce484222325, mid.encode() + b"\n")
    h = fnv1a(fnv1a(h, batch), boot.encode())
    return batch + f"#J {h:016x} {boot}\n".encode()


@pytest.mark.skipif(not shutil.which("strace"), reason="needs strace")
def test_reading_a_pending_journal_syncs_its_directories_not_everything(postern_bin, tmp_path):
    """-bp reading a -J whose pending batch names its Maildir directory fsyncs that directory and
    does not call sync(); a pending batch naming none (an older writer) still gets sync()."""
    spool = tmp_path / "spool"
    conf = tmp_path / "conf"
    conf.write_text(f"spool_directory = {spool}\nprimary_hostname = test.example\n"
                    "queue_only = true\nbegin routers\nbegin transports\n")
    r = subprocess.run([postern_bin, "-C", str(conf), "-odq", "u@p.test", "v@p.test"],
                       input=b"Subject: x\n\nhi\n", capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    (hname,) = [n for n in os.listdir(spool / "input") if n.endswith("-H")]
    mid = hname[:-2]
    newdir = tmp_path / "Maildir" / "new"
    newdir.mkdir(parents=True)
    journal = spool / "input" / f"{mid}-J"

    def bp():
        t = subprocess.run(["strace", "-f", "-e", "trace=sync,syncfs,fsync,fdatasync", postern_bin,
                            "-C", str(conf), "-bp"], capture_output=True, text=True, timeout=60)
        return t.stdout, t.stderr

    journal.write_bytes(pending_seal(mid, f"u@p.test\n#D {newdir}\n".encode()))
    out, trace = bp()
    assert re.search(r"(?m)^ +D u@p\.test$", out), out
    assert "v@p.test" in out and "D v@p.test" not in out and "#D" not in out, out
    assert not re.search(r"(^|\s)sync\(\)", trace), trace
    assert len(re.findall(r"fsync\(\d+\)\s+= 0", trace)) == 1, trace

    journal.write_bytes(pending_seal(mid, b"u@p.test\n"))
    out, trace = bp()
    assert re.search(r"(?m)^ +D u@p\.test$", out), out
    assert re.search(r"(^|\s)sync\(\)", trace), trace
