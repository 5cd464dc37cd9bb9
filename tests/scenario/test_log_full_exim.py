"""A main log that was opened but cannot be written (a full file system), compared with live
Exim 4.96 (docs/logging.md, "When a log cannot be written").

The logs live on a tiny tmpfs that is filled up: the main log is empty, so its first line needs a
page the file system no longer has, while the panic log already has a page (one byte in it) and
takes a few lines. The "<=" line of a message received with -bs is the first main log line; it
fails after the message is on the spool. Exim then writes "failed to write to main log:
length=N result=-1 errno=28 (No space left on device)" to stderr and the panic log, answers
"421 <host> Unexpected failure, please try later - closing connection.", removes the message's
spool files (the client got no 250 and keeps the message) and exits with status 1.
"""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

EXIM = shutil.which("exim")
pytestmark = pytest.mark.skipif(EXIM is None or os.geteuid() != 0,
                                reason="needs root (tmpfs) and Exim 4.96 for the comparison")

CONF = """primary_hostname = full.test
spool_directory = {spool}
log_file_path = {logs}/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
keep_environment =
tls_advertise_hosts =
acl_smtp_rcpt = accept
queue_only = true
check_log_space = 0
check_spool_space = 0
"""

SMTP = (b"HELO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: t\r\n\r\nbody\r\n"
        b".\r\nQUIT\r\n")


@pytest.fixture
def tiny_fs():
    mnt = pathlib.Path(tempfile.mkdtemp(prefix="postern-logfull-"))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        pytest.skip("cannot mount a tmpfs: " + r.stderr.decode())
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)])
        os.rmdir(mnt)


def fill(mnt, logs):
    """logs/ with an empty main log and a panic log holding one page, then the rest filled."""
    logs.mkdir()
    (logs / "mainlog").write_text("")
    (logs / "paniclog").write_text("#\n")
    for p in (logs, logs / "mainlog", logs / "paniclog"):
        shutil.chown(p, "Debian-exim", "Debian-exim")
    os.chmod(logs / "mainlog", 0o640)
    os.chmod(logs / "paniclog", 0o640)
    fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def masked(text):
    text = re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", text)
    text = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", text)
    text = re.sub(r"euid=\d+ egid=\d+", "euid=N egid=N", text)
    return re.sub(r"Exim 4\.96 .*\r", "Exim 4.96 DATE\r", text)


def run(binary, mnt, work):
    logs = mnt / work.name
    fill(mnt, logs)
    spool = work / "spool"
    spool.mkdir(parents=True)
    shutil.chown(spool, "Debian-exim", "Debian-exim")
    conf = work / "conf"
    conf.write_text(CONF.format(spool=spool, logs=logs))
    r = subprocess.run([binary, "-C", str(conf), "-bs"], input=SMTP, capture_output=True, timeout=60)
    inp = spool / "input"
    kept = sorted(n for n in os.listdir(inp) if n.endswith(("-H", "-D"))) if inp.exists() else []
    out = {"rc": r.returncode, "stdout": masked(r.stdout.decode()), "stderr": masked(r.stderr.decode()),
           "paniclog": masked((logs / "paniclog").read_text()), "mainlog": (logs / "mainlog").read_text(),
           "spool files": kept}
    os.unlink(mnt / "filler")
    return out


def test_bs_arrival_line_on_a_full_disk(postern_bin, tiny_fs, tmp_path):
    os.chmod(tmp_path, 0o755)
    p = tmp_path
    while str(p).startswith("/tmp/pytest-of-") and p != p.parent:
        p = p.parent
        os.chmod(p, os.stat(p).st_mode | 0o005)
    exim = run(EXIM, tiny_fs, tmp_path / "exim")
    ours = run(postern_bin, tiny_fs, tmp_path / "postern")
    assert ours == exim
    # What the case is about, so that a change in both cannot pass unseen.
    assert exim["rc"] == 1
    assert exim["stdout"].endswith("\r\n421 full.test Unexpected failure, please try later - closing connection.\r\n")
    assert exim["stderr"] == ("ID failed to write to main log: length=75 result=-1 errno=28 "
                              "(No space left on device)\n")
    assert exim["paniclog"].splitlines()[1:] == [
        "ID <= a@b.test U=root P=local-smtp S=280", exim["stderr"].rstrip("\n")]
    assert exim["spool files"] == [] and exim["mainlog"] == ""
