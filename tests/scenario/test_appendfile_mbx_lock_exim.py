"""appendfile's use_mbx_lock (the default with mbx_format), beside live Exim 4.96.

Exim follows c-client's rules (observed with strace): a shared fcntl lock on the mailbox, opened
for reading and writing, and an exclusive one on /tmp/.<device>.<inode> (hex), created with
lockfile_mode; after writing, the mailbox lock is raised to exclusive without waiting and, when
that works (no reader has the mailbox open), the lock file is removed. Cases:
  - nobody else: delivered, no lock file left;
  - another process holds the lock file: "failed to lock mailbox <file> (fcntl/flock)", -9;
  - a reader holds a shared lock on the mailbox: delivered, the lock file stays.
Both MTAs queue the message and deliver it in a -q run as root."""
import fcntl
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pwd
import pytest

EXIM = "/usr/sbin/exim"

CONF = """exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = {d}/spool
log_file_path = {d}/spool/log/%slog
primary_hostname = test.example
begin routers
local:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = {d}/mbox
  mbx_format
  message_prefix =
  message_suffix =
  user = Debian-exim
  lock_retries = 2
  lock_interval = 1s
"""

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0,
                                reason="needs Exim 4.96 and root")


def run(binary, hold):
    d = pathlib.Path(tempfile.mkdtemp(prefix="mbxlock_"))
    exim = pwd.getpwnam("Debian-exim")
    held = []
    try:
        os.chmod(d, 0o777)
        (d / "spool").mkdir()
        os.chmod(d / "spool", 0o777)
        (d / "conf").write_text(CONF.format(d=d))
        mbox = d / "mbox"
        mbox.write_bytes(b"")
        os.chown(mbox, exim.pw_uid, exim.pw_gid)
        os.chmod(mbox, 0o600)
        st = os.stat(mbox)
        lockname = "/tmp/.%x.%x" % (st.st_dev, st.st_ino)
        if hold == "lockfile":
            fd = os.open(lockname, os.O_RDWR | os.O_CREAT, 0o600)
            os.fchown(fd, exim.pw_uid, exim.pw_gid)
            fcntl.lockf(fd, fcntl.LOCK_EX)
            held.append(fd)
        elif hold == "reader":
            fd = os.open(mbox, os.O_RDWR)
            fcntl.lockf(fd, fcntl.LOCK_SH)
            held.append(fd)
        for args in (["-odq", "a@test.example"], ["-q"]):
            r = subprocess.run([binary, "-C", str(d / "conf"), *args], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
        lines = []
        for line in (d / "spool" / "log" / "mainlog").read_text().splitlines():
            if "lost privilege" in line or "environment" in line or "queue run" in line:
                continue
            line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
            line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
            if " <= <> " in line:
                line = re.sub(r" S=\d+", " S=N", line)
            lines.append(line.replace(str(d), "D"))
        left = os.path.exists(lockname)
        delivered = mbox.stat().st_size > 0
        return sorted(lines), left, delivered
    finally:
        for fd in held:
            os.close(fd)
        if held and os.path.exists(lockname):
            os.unlink(lockname)
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("hold", ["none", "lockfile", "reader"])
def test_mbx_locking_like_exim(hold):
    exim = run(EXIM, hold)
    ours = run(os.environ["POSTERN"], hold)
    assert ours == exim
    if hold == "lockfile":
        assert not exim[2] and any("failed to lock mailbox" in l for l in exim[0])
    else:
        assert exim[2]
        assert exim[1] == (hold == "reader")
