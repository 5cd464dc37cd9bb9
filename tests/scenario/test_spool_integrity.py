"""The spool's one-flush commit (docs/spool.md, "The integrity line"): -H is named before its files
are durable, and a delivery after a restart checks the -postern_sum line. A restart cannot be
made in a test; what a reader after one sees can: the same files with another boot id in the
line. What must hold:
- every message received by the daemon carries the line, as the fifth line of -H;
- after a "restart" a message whose files are as written is delivered normally;
- one whose -D or -H is not as written (the crash came before its 250) is not delivered: it is
  moved to <spool>/unacked/ and main and panic log say why; nothing is left in the queue;
- Exim 4.96 lists and delivers a -H with the line (it ignores option lines it does not know);
- one connection may carry many messages: all ids differ and name the session's pid (modulo
  2^22). That a process does not wait for the id clock (ids pid + n*2^22 within one 5 ms unit)
  is checked by the unit test (tests/unit/spool/test_spool.c, test_ids), which is not timing-bound."""
import os
import re
import subprocess

import pytest

from daemon_helpers import start_mailbox_daemon, wait_for
from test_spool_spares import Client

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")

OTHER_BOOT = "00000000-1111-2222-3333-444444444444"

CONF = """local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
host_lookup =
acl_smtp_rcpt = accept
queue_only
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


@pytest.fixture
def daemon(postern_bin, tmp_path):
    d = start_mailbox_daemon(postern_bin, tmp_path, CONF)
    yield d
    d.stop()


def receive(d, bodies):
    c = Client(d.port)
    c.cmd("EHLO client.test")
    ids = [c.message(b) for b in bodies]
    c.cmd("QUIT")
    return ids


def hfile(d, mid):
    return d.spool / "input" / f"{mid}-H"


def as_if_restarted(d, mid):
    """Put another boot id into the message's integrity line."""
    p = hfile(d, mid)
    text = p.read_bytes()
    new = re.sub(rb"^-postern_sum [0-9a-f-]{36} ", b"-postern_sum " + OTHER_BOOT.encode() + b" ",
                 text, count=1, flags=re.M)
    assert new != text
    p.write_bytes(new)


def queue_run(d, postern_bin):
    r = subprocess.run([postern_bin, "-C", str(d.conf), "-q"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_line_is_fifth_and_exim_reads_it(daemon, tmp_path):
    d = daemon
    (mid,) = receive(d, ["Subject: one\r\n\r\nbody one\r\n"])
    lines = hfile(d, mid).read_text().split("\n")
    assert lines[0] == f"{mid}-H"
    m = re.fullmatch(r"-postern_sum ([0-9a-f-]{36}) (\d+) ([0-9a-f]{16}) ([0-9a-f]{16})", lines[4])
    assert m, lines[:6]
    assert m.group(1) == open("/proc/sys/kernel/random/boot_id").read().strip()
    assert int(m.group(2)) == (d.spool / "input" / f"{mid}-D").stat().st_size
    # Exim 4.96 lists the message and delivers it (it ignores the line).
    logs = tmp_path / "eximlog"
    logs.mkdir()
    os.chmod(logs, 0o777)
    conf = tmp_path / "exim.conf"
    conf.write_text(f"spool_directory = {d.spool}\nexim_user = mail\nexim_group = mail\n"
                    f"log_file_path = {logs}/%slog\nkeep_environment =\n"
                    "begin routers\nbox:\n  driver = accept\n  transport = box\n"
                    f"begin transports\nbox:\n  driver = appendfile\n  file = {d.box}\n"
                    "  user = mail\n  group = mail\n")
    out = subprocess.run(["exim", "-C", str(conf), "-bp"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and mid in out.stdout and "b@example.com" in out.stdout, (out.stdout, out.stderr)
    out = subprocess.run(["exim", "-C", str(conf), "-M", mid], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "body one" in d.box.read_text()
    assert not hfile(d, mid).exists()


def test_after_restart_intact_message_is_delivered(daemon, postern_bin):
    d = daemon
    (mid,) = receive(d, ["Subject: two\r\n\r\nbody two\r\n"])
    as_if_restarted(d, mid)
    queue_run(d, postern_bin)
    assert wait_for(lambda: f"{mid} Completed" in d.mainlog, timeout=20), d.mainlog
    assert "body two" in d.box.read_text()
    assert "integrity" not in d.mainlog
    assert not (d.spool / "unacked").exists()


@pytest.mark.parametrize("damage", ["d_content", "d_short", "d_zeros", "h_content"])
def test_after_restart_damaged_message_is_moved_out(daemon, postern_bin, damage):
    d = daemon
    good, bad = receive(d, ["Subject: good\r\n\r\ngood body\r\n", "Subject: bad\r\n\r\nbad body\r\n"])
    for mid in (good, bad):
        as_if_restarted(d, mid)
    dpath = d.spool / "input" / f"{bad}-D"
    data = dpath.read_bytes()
    if damage == "d_content":      # the size reached the disk, the data did not: older bytes
        dpath.write_bytes(data.replace(b"bad body", b"old byte"))
    elif damage == "d_short":      # neither did
        dpath.write_bytes(data[: len(data) - 5])
    elif damage == "d_zeros":      # blocks allocated, never written
        dpath.write_bytes(data[:19] + b"\0" * (len(data) - 19))
    else:                          # -H itself not as written: a recipient differs
        h = hfile(d, bad)
        h.write_bytes(h.read_bytes().replace(b"b@example.com", b"c@example.com"))
    queue_run(d, postern_bin)
    assert wait_for(lambda: f"{good} Completed" in d.mainlog, timeout=20), d.mainlog
    box = d.box.read_text()
    assert "good body" in box and "bad body" not in box and "old byte" not in box
    why = {"d_content": "-D content differs from what was written",
           "d_short": "-D size", "d_zeros": "-D content differs from what was written",
           "h_content": "-H content differs from what was written"}[damage]
    line = [l for l in d.mainlog.splitlines() if "integrity check" in l]
    assert len(line) == 1, d.mainlog
    assert f"{bad} Spool error: {bad}-H failed its integrity check after a restart ({why}" in line[0]
    assert "the message was never acknowledged; moved to " + str(d.spool / "unacked" / f"{bad}-H") in line[0]
    assert "integrity check" in d.paniclog
    unacked = sorted(os.listdir(d.spool / "unacked"))
    assert unacked == sorted([f"{bad}-H", f"{bad}-D", f"{bad}-msglog"]), unacked
    assert not hfile(d, bad).exists() and not dpath.exists()
    # Nothing of it is left in the queue: a second run neither delivers nor logs it again.
    queue_run(d, postern_bin)
    assert d.mainlog.count("integrity check") == 1


def test_many_messages_on_one_connection_get_distinct_ids(daemon):
    d = daemon
    ids = receive(d, [f"Subject: n{i}\r\n\r\nbody {i}\r\n" for i in range(60)])
    assert len(set(ids)) == 60
    b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    pids = set()
    for mid in ids:
        v = 0
        for ch in mid[7:13]:
            v = v * 62 + b62.index(ch)
        pids.add(v % (1 << 22))
    # One session process received them all.
    assert len(pids) == 1, pids
