"""The RFC 1413 ident in the spool: Exim 4.96 stores it in the -H file as an untainted "-ident"
line (it reads "--ident" too) and gives it back as $sender_ident at delivery. A message
received by the daemon from a client whose identd answers "fred" is spooled, its -H line is
compared with the one Exim writes for the same conversation, and a delivery from the spool
(-M) writes $sender_ident into the delivered message.

Uses the stand-in identd of test_rfc1413.py (port 113 of the client's own loopback address)."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from test_rfc1413 import EXIM, StandIn, client_address, converse, free_port

CONFIG = """primary_hostname = mx.test
spool_directory = {d}/spool
tls_advertise_hosts =
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
host_lookup =
queue_only
rfc1413_hosts = *
rfc1413_query_timeout = 5s
acl_smtp_rcpt = accept
begin routers
all:
  driver = accept
  transport = box
begin transports
box:
  driver = appendfile
  file = {box}/mbox
  user = nobody
  headers_add = X-Ident: <$sender_ident>
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="an identd needs port 113 (root)")


def mailbox_dir():
    # Deliveries run as nobody (root is a never_user): the mailbox is outside pytest's 0700 tree.
    box = tempfile.mkdtemp(prefix="postern-ident-")
    os.chmod(box, 0o1777)
    return box


def receive_and_deliver(binary, tmp_path, box):
    d = tmp_path / os.path.basename(binary)
    d.mkdir()
    conf = d / "conf"
    conf.write_text(CONFIG.format(d=d, box=box))
    port = free_port()
    proc = subprocess.Popen([binary, "-C", str(conf), "-bdf", "-oX", str(port), "-oP", str(d / "pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            log = d / "log" / "mainlog"
            if log.exists() and "daemon started" in log.read_text():
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"{binary} daemon did not start")
        src = client_address()
        ident = StandIn(src, b"%P , {sp} : USERID : UNIX : fred\r\n".replace(b"{sp}", str(port).encode()))
        _, sent = converse(port, src, message=True)
        ident.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    msgid = re.search(r"id=(\S+)", sent).group(1)
    header = (d / "spool" / "input" / (msgid + "-H")).read_bytes()
    r = subprocess.run([binary, "-C", str(conf), "-M", msgid], capture_output=True, timeout=60)
    assert r.returncode == 0, r
    mbox = open(os.path.join(box, "mbox")).read()
    os.unlink(os.path.join(box, "mbox"))
    return header, mbox


def ident_lines(header):
    return [l for l in header.split(b"\n") if re.match(rb"^-+(\(\w+\))?ident ", l)]


@pytest.fixture
def box():
    b = mailbox_dir()
    yield b
    shutil.rmtree(b, ignore_errors=True)


def test_ident_spooled_and_read_back(postern_bin, tmp_path, box):
    header, mbox = receive_and_deliver(postern_bin, tmp_path, box)
    assert ident_lines(header) == [b"-ident fred"], header
    assert "X-Ident: <fred>" in mbox, mbox
    if os.path.exists(EXIM):
        ex_header, ex_mbox = receive_and_deliver(EXIM, tmp_path, box)
        assert ident_lines(ex_header) == ident_lines(header)
        assert "X-Ident: <fred>" in ex_mbox


def test_tainted_ident_line_read(postern_bin, tmp_path, box):
    """A -H file with Postern's old "--ident" form (tainted) still gives $sender_ident."""
    header, _ = receive_and_deliver(postern_bin, tmp_path, box)
    d = tmp_path / os.path.basename(postern_bin)
    msgid = header.split(b"\n")[0][:-2].decode()
    # A second message: copy the first's spool files under a new id with the tainted form.
    spool = d / "spool" / "input"
    new_id = msgid[:-2] + ("AA" if msgid[-2:] != "AA" else "AB")
    hdr = header.replace(b"\n-ident fred\n", b"\n--ident fred\n").replace(msgid.encode() + b"-H",
                                                                          new_id.encode() + b"-H")
    data = f"{new_id}-D\nbody\n".encode()
    (spool / (new_id + "-D")).write_bytes(data)
    (spool / (new_id + "-H")).write_bytes(hdr)
    r = subprocess.run([postern_bin, "-C", str(d / "conf"), "-M", new_id], capture_output=True, timeout=60)
    assert r.returncode == 0, r
    assert "X-Ident: <fred>" in open(os.path.join(box, "mbox")).read()
