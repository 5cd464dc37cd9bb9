"""Recycled files that keep their old bytes (src/core/spool_recycle.c, spool_recycle_take_stale):
a pool file of at most one block is not emptied when a session takes it as a spare; the session
writes the new -D, -H temporary and msglog from offset 0 and cuts each to its final length
before any reader can see it. Checked here with a pool filled by the test with files of old
"STALE" bytes, longer than everything the new message writes (and, for comparison, longer than
a block, which the take empties): every new file holds exactly the new content, the delivered
mail is exact, and a session killed at each cut leaves no message that is delivered with old
bytes: killed at the -D or -H cut, nothing was acknowledged and nothing is delivered; killed at
the msglog cut (after the commit, before the 250), the message is delivered intact."""
import os
import re
import shutil
import subprocess
import time

import pytest

from daemon_helpers import children_of, mail_ids, start_mailbox_daemon, wait_for
from test_spool_spares import Client
from test_spool_spares import session_pid as the_session   # waits until no new process is unnamed

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user"),
              pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (the kill point)")]

CONF = """local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
host_lookup =
acl_smtp_rcpt = rcpt
begin acl
rcpt:
  accept local_parts = hold
         control = queue_only
  accept
begin routers
box:
  driver = accept
  transport = box
begin transports
box:
  driver = appendfile
  file = {box}/mbox
  user = mail
  group = mail
"""

SLOTS = 64  # SPOOL_RECYCLE_SLOTS


@pytest.fixture
def daemon(postern_bin, tmp_path):
    d = start_mailbox_daemon(postern_bin, tmp_path, CONF)
    yield d
    d.stop()


def fill_pool(spool, size):
    """Every slot of the pool holds a file of `size` old bytes, as an ended message leaves it,
    and nothing else is in it: the files of messages that ended before (-H, -D and msglog go in
    with their content, into any of the many one-block slots) would be taken first otherwise.
    Waits until no ended message's files are left to be put."""
    pool = spool / "input" / ".postern-free"
    def ended_files():
        return [f for f in os.listdir(spool / "input") + os.listdir(spool / "msglog")
                if re.match(r"^\w{6}-\w{6}-\w{2}(-[DJ])?$", f)
                and not (spool / "input" / (f[:16] + "-H")).exists()]
    assert wait_for(lambda: not ended_files(), timeout=20), ended_files()
    pool.mkdir(mode=0o750, exist_ok=True)
    for f in pool.iterdir():
        f.unlink()
    uid, gid = mail_ids()
    os.chown(pool, uid, gid)
    inodes = set()
    for n in range(SLOTS):
        # Made under another name and renamed in: a process may take it the moment it is there.
        tmp = spool / "input" / f".fill-{n}"
        tmp.write_bytes(((b"STALE %02d " % n + b"s" * 70 + b"\n") * (size // 80 + 1))[:size])
        os.chown(tmp, uid, gid)
        os.chmod(tmp, 0o640)
        inodes.add(tmp.stat().st_ino)
        os.replace(tmp, pool / str(n))
    return inodes


def held_message(c, subject):
    """A message to the held recipient (queued, not delivered): it uses up the session's ready
    spares, and the set made after its 250 (src/smtp/session_data.c) is the next message's."""
    assert c.cmd("MAIL FROM:<a@example.com>").startswith("250")
    assert c.cmd("RCPT TO:<hold@x.test>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    return c.cmd(f"Subject: {subject}\r\n\r\n{subject} body\r\n.").split("id=")[1].strip()


def remove_message(d, mid):
    subprocess.run([d.postern, "-C", str(d.conf), "-Mrm", mid], capture_output=True, timeout=30, check=True)


def ready_spares(d, pid):
    return [d.spool / "input" / f".postern-spare.{pid}.D", d.spool / "input" / f".postern-spare.{pid}.H",
            d.spool / "msglog" / f".postern-spare.{pid}.M"]


def renew_spares_from_pool(d, c, pool):
    """After fill_pool: the session's ready set was made after its last message's 250, before
    the pool was filled. A held message uses it up; the set made after that one's 250 comes
    from the pool (no delivery runs meanwhile to put other files there); the held message is
    then removed. Other files may be taken first: an idle pre-forked process that retires puts
    its unused spares into the pool, and so do the last delivered message's files when they
    arrive just after fill_pool cleared it; then once more (the held messages are removed only
    at the end: their files would go into the pool too)."""
    fillers = []
    try:
        for _ in range(20):
            fillers.append(held_message(c, "filler"))
            pid = the_session(d)
            spares_ready(d, pid)
            if all(f.stat().st_ino in pool for f in ready_spares(d, pid)):
                return
        raise AssertionError(f"the spares made after a message do not come from the pool: {pool}")
    finally:
        for mid in fillers:
            remove_message(d, mid)

def check_h_file(path, mid):
    """The -H file ends exactly after its last header line: each header's length prefix, summed,
    covers every byte after the blank line, and nothing old is in it."""
    data = path.read_bytes()
    assert b"STALE" not in data and b"sssss" not in data, data
    assert data.startswith(f"{mid}-H\n".encode())
    head, sep, hdrs = data.partition(b"\n\n")
    assert sep, data
    off = 0
    while off < len(hdrs):
        m = re.match(rb"(\d{3})[A-Z* ] ", hdrs[off:])
        assert m, (off, hdrs[off:off + 60])
        off += m.end() + int(m.group(1))
    assert off == len(hdrs), (off, len(hdrs), data)


def spares_ready(d, pid):
    """After MAIL: wait until the helper thread has made (taken) all three spares, so that the
    message uses them rather than files the session makes itself when the thread is late."""
    names = [d.spool / "input" / f".postern-spare.{pid}.D", d.spool / "input" / f".postern-spare.{pid}.H",
             d.spool / "msglog" / f".postern-spare.{pid}.M"]
    assert wait_for(lambda: all(n.exists() for n in names), timeout=10), names
    time.sleep(0.1)


def session_pid(d):
    ids = wait_for(lambda: children_of(d.proc.pid), timeout=20)
    assert ids, "no session process"
    return children_of(d.proc.pid)[0][0]


@pytest.mark.parametrize("old", [3500, 100000], ids=["one-block-kept", "longer-emptied"])
def test_long_old_files_short_new_message(daemon, old):
    d = daemon
    c = Client(d.port)
    c.cmd("EHLO client.test")
    # The first transaction's spares may be made already (a pre-forked process makes its first
    # set while it waits); the second's are taken from the pool filled now.
    first = c.message("Subject: first\r\n\r\nfirst body\r\n")
    assert wait_for(lambda: d.mainlog.count(" Completed") >= 1, timeout=20), d.mainlog
    pool = fill_pool(d.spool, old)
    renew_spares_from_pool(d, c, pool)
    assert c.cmd("MAIL FROM:<a@example.com>").startswith("250")
    spares_ready(d, session_pid(d))
    assert c.cmd("RCPT TO:<hold@x.test>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    held = c.cmd("Subject: small\r\n\r\nshort body\r\n.").split("id=")[1].strip()
    dfile = d.spool / "input" / f"{held}-D"
    hfile = d.spool / "input" / f"{held}-H"
    lfile = d.spool / "msglog" / held
    assert dfile.read_bytes() == f"{held}-D\nshort body\n".encode()
    check_h_file(hfile, held)
    log = lfile.read_bytes()
    assert log.count(b"\n") == 1 and b"Received from a@example.com" in log and b"STALE" not in log, log
    # All three came from the pool (so the case above really had old bytes to overwrite).
    used = {dfile.stat().st_ino, hfile.stat().st_ino, lfile.stat().st_ino}
    assert used <= pool, (used, pool)
    # The integrity line describes the cut -D.
    sums = [ln for ln in hfile.read_text().splitlines() if ln.startswith("-postern_sum ")]
    if sums:
        assert int(sums[0].split()[2]) == dfile.stat().st_size
    # Delivered messages through stale files (and their -J, emptied at the take): exact mail.
    done = d.mainlog.count(" Completed")
    for i in range(3):
        c.message(f"Subject: after {i}\r\n\r\nafter body {i}\r\n")
    assert wait_for(lambda: d.mainlog.count(" Completed") >= done + 3, timeout=20), d.mainlog
    c.cmd("QUIT")
    mbox = d.box.read_bytes()
    assert b"STALE" not in mbox and b"sssss" not in mbox, mbox
    assert mbox.count(b"\nfirst body\n") == 1
    for i in range(3):
        assert mbox.count(f"\nafter body {i}\n".encode()) == 1
    assert first
    # Postern and Exim list the held message alone, and Exim reads exactly its body and header.
    out = subprocess.run([d.postern, "-C", str(d.conf), "-bp"], capture_output=True, text=True, timeout=30)
    assert held in out.stdout and out.stdout.count("<a@example.com>") == 1, out.stdout
    if shutil.which("exim"):
        logs = d.dir / "eximlog"
        logs.mkdir()
        os.chmod(logs, 0o777)
        conf = d.dir / "exim.conf"
        conf.write_text(f"spool_directory = {d.spool}\nexim_user = mail\nexim_group = mail\n"
                        f"log_file_path = {logs}/%slog\nkeep_environment =\n")
        ex = lambda *args: subprocess.run(["exim", "-C", str(conf), *args], capture_output=True, timeout=30)
        lst = ex("-bp")
        assert held.encode() in lst.stdout and lst.stdout.count(b"<a@example.com>") == 1, lst
        assert ex("-Mvb", held).stdout == f"{held}-D\nshort body\n".encode()
        hdr = ex("-Mvh", held).stdout
        assert b"Subject: small" in hdr and b"STALE" not in hdr and b"sssss" not in hdr, hdr


def run_queue(d):
    subprocess.run([d.postern, "-C", str(d.conf), "-qff"], timeout=120, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("cut", [1, 2, 3], ids=["D-cut", "H-cut", "msglog-cut"])
def test_session_killed_at_a_cut(daemon, cut):
    """strace kills the session (SIGKILL injected at the entry of its n-th ftruncate: with
    one-block stale spares these are the -D, -H and msglog cuts, in that order)."""
    d = daemon
    c = Client(d.port)
    c.cmd("EHLO client.test")
    c.message("Subject: first\r\n\r\nfirst body\r\n")
    assert wait_for(lambda: d.mainlog.count(" Completed") >= 1, timeout=20), d.mainlog
    renew_spares_from_pool(d, c, fill_pool(d.spool, 3500))
    pid = session_pid(d)
    trace = d.dir / "strace.out"
    st = subprocess.Popen(["strace", "-f", "-y", "-o", str(trace), "-e", "trace=ftruncate",
                           "-e", f"inject=ftruncate:signal=SIGKILL:when={cut}", "-p", str(pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: "TracerPid:\t0" not in open(f"/proc/{pid}/status").read(), timeout=10)
    assert c.cmd("MAIL FROM:<a@example.com>").startswith("250")
    spares_ready(d, pid)
    assert c.cmd("RCPT TO:<b@example.com>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    with pytest.raises((ConnectionError, OSError)):
        r = c.cmd("Subject: killed\r\n\r\nkilled body\r\n.")
        raise AssertionError(f"acknowledged: {r}")
    st.wait(timeout=10)
    killed = [ln for ln in trace.read_text().splitlines() if "ftruncate(" in ln]
    want = {1: r"-D>", 2: r"\.postern-spare\.\d+\.H>", 3: r"\.postern-spare\.\d+\.M>"}[cut]
    assert len(killed) >= cut and re.search(want, killed[cut - 1]), killed
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=10)
    time.sleep(0.5)
    named = [n for n in os.listdir(d.spool / "input") if n.endswith("-H")]
    run_queue(d)
    mbox = d.box.read_bytes()
    assert b"STALE" not in mbox and b"sssss" not in mbox
    if cut < 3:
        # Nothing committed: no -H, nothing delivered, nothing queued.
        assert named == [], named
        assert b"killed body" not in mbox
    else:
        # Committed but not acknowledged: delivered intact by the queue run, once.
        assert len(named) == 1, named
        assert wait_for(lambda: d.box.read_bytes().count(b"\nkilled body\n") == 1, timeout=20), d.mainlog
    out = subprocess.run([d.postern, "-C", str(d.conf), "-bpc"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "0", out.stdout
    # Every leftover is a file of no message: no -H; spare and -D files hold no new message.
    for n in os.listdir(d.spool / "input"):
        assert not n.endswith("-H"), n
    assert d.proc.poll() is None  # the daemon survived its session


def test_fault_load_over_a_stale_pool(postern_bin, tmp_path):
    """The fault load (tests/load/faultload.py) with the pool kept full of old-byte files: sessions
    killed at random points while they overwrite and cut recycled spares; every acknowledged
    message is intact and no message file (-H, -D, msglog) holds an old byte."""
    import pathlib
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "load"))
    import faultload
    from daemon_helpers import reachable_by_exim_user
    reachable_by_exim_user(tmp_path)
    probs, stats, acked, spool = faultload.run(postern_bin, tmp_path / "load", messages=150, concurrency=6,
                                               interval=0.05, daemon_prob=0.0, seed=5, stale_pool=True)
    assert probs == [], probs[:10]
    assert stats["acked"] == 150 and stats["child_kills"] > 0, stats
