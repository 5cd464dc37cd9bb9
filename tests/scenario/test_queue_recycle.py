"""A queue run to a Maildir frees no spool file (src/core/queue_commit.c, core/spool_recycle.h).

Every file of a delivered message (-H, -D, msglog with their content, -J emptied) goes into the
recycled-file pool instead of being unlinked: on a file system mounted with discard each unlink
of a file with a block on disk waited for a discard in the runner's committer, three per
message, and that serial wait capped the run's rate whatever queue_run_parallel said. What must
hold: with deliveries side by side every message is in the Maildir exactly once, the queue is
empty, every inode the queued messages had is in the pool afterwards, and the journals' files
there belong to the Exim user (a root-owned one was refused by the next journal and unlinked).
Kills in the middle of such runs: test_queue_commit_crash.py."""
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import tempfile

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the deliveries run as the mail user")

NMSG = 120


def conf_text(base):
    return f"""spool_directory = {base}/spool
primary_hostname = test.example
qualify_domain = test.example
exim_user = mail
exim_group = mail
queue_run_parallel = 4
begin routers
loc:
  driver = accept
  local_parts = r0
  transport = md
begin transports
md:
  driver = appendfile
  directory = {base}/mail/${{local_part_data}}/Maildir
  maildir_format
  create_directory
  user = mail
"""


@pytest.fixture
def base():
    """A directory the mail user can reach (pytest's tmp is 0700)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-queue-recycle-"))
    os.chmod(d, 0o755)
    (d / "mail").mkdir()
    os.chmod(d / "mail", 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def message_files(spool):
    inp = [f for f in (spool / "input").iterdir() if re.match(r"^\w{6}-\w{6}-\w{2}-[DHJ]$", f.name)]
    return inp + list((spool / "msglog").iterdir())


def test_parallel_run_frees_no_spool_file(postern_bin, base):
    conf = base / "c.conf"
    conf.write_text(conf_text(base))
    for i in range(NMSG):
        r = subprocess.run([postern_bin, "-C", str(conf), "-odq", "-f", "s@x.example", "r0@test.example"],
                           input=f"Subject: m{i}\nX-N: {i}\n\nbody {i}\n", text=True,
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
    spool = base / "spool"
    queued = {f.stat().st_ino for f in message_files(spool)}
    assert len(queued) == 3 * NMSG, sorted(f.name for f in message_files(spool))
    r = subprocess.run([postern_bin, "-C", str(conf), "-q"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr

    seen = {}
    for f in (base / "mail" / "r0" / "Maildir" / "new").iterdir():
        for line in f.read_text().splitlines():
            if line.startswith("X-N: "):
                seen[line[5:]] = seen.get(line[5:], 0) + 1
    assert seen == {str(i): 1 for i in range(NMSG)}, seen
    assert message_files(spool) == [], sorted(f.name for f in message_files(spool))
    assert (spool / "log" / "mainlog").read_text().count(" Completed") == NMSG

    pool = spool / "input" / ".postern-free"
    kept = {f.stat().st_ino: f for f in pool.iterdir()}
    assert queued <= set(kept), f"{len(queued - set(kept))} of {len(queued)} queued files were unlinked"
    # -H, -D and msglog kept their content (a spare overwrites them); the journals were emptied.
    assert all(kept[i].stat().st_size > 0 for i in queued)
    journals = [f for f in pool.iterdir() if f.name.startswith("e")]
    assert journals and all(f.stat().st_size == 0 for f in journals)
    mail = pwd.getpwnam("mail")
    assert all((f.stat().st_uid, f.stat().st_gid) == (mail.pw_uid, mail.pw_gid) for f in journals), [
        (f.name, f.stat().st_uid) for f in journals]
