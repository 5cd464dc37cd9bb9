"""Recycled spool files (src/core/spool_recycle.c): the files of delivered messages go into
<spool>/input/.postern-free/ and become later messages' files. What must hold: the pool fills
as messages end, new messages really take their inodes from it, nothing of an old message's
content survives into a new one (spool files and delivered mail are exact), and Exim 4.96 reading
the spool is not confused by the pool."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from daemon_helpers import start_mailbox_daemon, wait_for
from test_spool_recycle_stale import renew_spares_from_pool
from test_spool_spares import Client

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")

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


def pool_inodes(spool):
    p = spool / "input" / ".postern-free"
    return {f.stat().st_ino for f in p.iterdir()} if p.exists() else set()


@pytest.fixture
def daemon(postern_bin, tmp_path):
    d = start_mailbox_daemon(postern_bin, tmp_path, CONF)
    yield d
    d.stop()


def completed(d, n):
    return wait_for(lambda: d.mainlog.count(" Completed") >= n, timeout=20)


def test_ended_messages_feed_new_ones_exactly(daemon):
    d = daemon
    c = Client(d.port)
    c.cmd("EHLO client.test")
    big = ["".join(f"big {i} line {k:05d} " + "x" * 60 + "\r\n" for k in range(300)) for i in range(6)]
    for i, body in enumerate(big):
        mid = c.message(f"Subject: big {i}\r\n\r\n{body}".replace("<b@example.com>", "<box@x.test>"))
        assert mid
    assert completed(d, 6), d.mainlog
    # Every ended message left its -H, -D, -J and msglog; the pool holds some of them.
    assert wait_for(lambda: len(pool_inodes(d.spool)) >= 4, timeout=10), sorted(
        (d.spool / "input").iterdir())
    before = pool_inodes(d.spool)
    # The session's ready set was made after the last message's 250, before the deliveries
    # filled the pool: held messages use it up until the set made after one's 250 comes from it.
    renew_spares_from_pool(d, c, before)
    # A held message: its files come from the pool and hold only what is new.
    small = "Subject: small\r\n\r\nshort body\r\n"
    c.s.sendall(b"MAIL FROM:<a@example.com>\r\n")
    assert c.reply().startswith("250")
    assert c.cmd("RCPT TO:<hold@x.test>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    r = c.cmd(small + ".")
    held = r.split("id=")[1].strip()
    dfile = d.spool / "input" / f"{held}-D"
    hfile = d.spool / "input" / f"{held}-H"
    assert dfile.read_bytes() == f"{held}-D\nshort body\n".encode()
    h = hfile.read_text()
    assert h.startswith(f"{held}-H\n") and "big" not in h and "Subject: small" in h
    log = (d.spool / "msglog" / held).read_text()
    assert log.count("\n") == 1 and "Received from a@example.com" in log, log
    used = {dfile.stat().st_ino, hfile.stat().st_ino, (d.spool / "msglog" / held).stat().st_ino}
    assert used & before, (used, before)
    # Two more deliveries through recycled files: the mailbox has every message exactly once.
    done = d.mainlog.count(" Completed")
    for i in range(2):
        c.message(f"Subject: after {i}\r\n\r\nafter body {i}\r\n")
    assert completed(d, done + 2), d.mainlog
    c.cmd("QUIT")
    mbox = d.box.read_text()
    for i in range(6):
        assert mbox.count(f"big {i} line 00299 ") == 1
        assert mbox.count(f"Subject: big {i}\n") == 1
    for i in range(2):
        assert mbox.count(f"\nafter body {i}\n") == 1
    assert mbox.count("\nFrom a@example.com ") + mbox.startswith("From a@example.com ") == 8
    # No message file is left but the held one's.
    names = [n for n in os.listdir(d.spool / "input") if re.match(r"^\w{6}-\w{6}-\w{2}-[HDJ]$", n)]
    assert sorted(names) == sorted([f"{held}-D", f"{held}-H"]), names


@pytest.mark.skipif(shutil.which("exim") is None, reason="needs Debian's exim")
def test_exim_lists_a_spool_with_a_pool(daemon, tmp_path):
    d = daemon
    c = Client(d.port)
    c.cmd("EHLO client.test")
    for i in range(3):
        c.message(f"Subject: m{i}\r\n\r\nbody {i}\r\n")
    assert completed(d, 3), d.mainlog
    assert wait_for(lambda: len(pool_inodes(d.spool)) >= 1, timeout=10)
    assert c.cmd("MAIL FROM:<a@example.com>").startswith("250")
    assert c.cmd("RCPT TO:<hold@x.test>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    held = c.cmd("Subject: held\r\n\r\nkept\r\n.").split("id=")[1].strip()
    c.cmd("QUIT")
    logs = tmp_path / "eximlog"
    logs.mkdir()
    os.chmod(logs, 0o777)
    conf = tmp_path / "exim.conf"
    conf.write_text(f"spool_directory = {d.spool}\nexim_user = mail\nexim_group = mail\n"
                    f"log_file_path = {logs}/%slog\nkeep_environment =\n")
    out = subprocess.run(["exim", "-C", str(conf), "-bp"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert held in out.stdout and "<a@example.com>" in out.stdout, out.stdout
    assert out.stdout.count("<a@example.com>") == 1, out.stdout
    count = subprocess.run(["exim", "-C", str(conf), "-bpc"], capture_output=True, text=True, timeout=30)
    assert count.stdout.strip() == "1", (count.stdout, count.stderr)


def test_ended_msglog_goes_in_with_its_content_journal_emptied(daemon):
    """The msglog of an ended message goes into the pool as it is (emptying it freed its block,
    a discard of 1-14 ms on a discard-mounted file system, in the delivery worker); only the
    journal is emptied, into an e<n> slot, for the next journal."""
    d = daemon
    c = Client(d.port)
    c.cmd("EHLO client.test")
    ids = [c.message(f"Subject: m{i}\r\n\r\nbody {i}\r\n") for i in range(3)]
    c.cmd("QUIT")
    assert all(ids) and completed(d, 3), d.mainlog
    pool = d.spool / "input" / ".postern-free"

    def content(f):
        try:
            return f.read_bytes()
        except FileNotFoundError:   # taken meanwhile
            return b""

    def msglogs_in_pool():
        return [f.name for f in (pool.iterdir() if pool.exists() else [])
                if not f.name.startswith("e") and re.search(rb"^\S+ \S+ Received from .*\n\S+ \S+ \S+: box transport succeeded\n",
                                                           content(f))]
    assert wait_for(lambda: len(msglogs_in_pool()) >= 1, timeout=10), sorted(
        (f.name, content(f)[:300]) for f in pool.iterdir())
    emptied = [f for f in pool.iterdir() if f.name.startswith("e")]
    assert emptied and all(f.stat().st_size == 0 for f in emptied), [(f.name, f.stat().st_size) for f in emptied]
