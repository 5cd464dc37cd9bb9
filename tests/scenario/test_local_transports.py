"""The pipe and lmtp transports end to end: local submission with -odi, the delivery process
forks the transport as the router's user, and the main log shows Exim 4.96's lines for the same
configuration (recorded from Debian's exim4 with these transports; ids and times masked)."""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
LMTPD = HERE.parent / "unit" / "transports" / "lmtpd.py"


def masked(log):
    out = []
    for line in log.splitlines():
        line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
        line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
        out.append(line)
    return out


@pytest.fixture
def world_dir():
    """A directory the transports' user (mail) can reach (pytest's tmp_path is private)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run transports as another user")
    d = tempfile.mkdtemp(prefix="localtp_e2e_")
    os.chmod(d, 0o777)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def config(d):
    return f"""spool_directory = {d}/spool
primary_hostname = test.ex
qualify_domain = test.ex
begin routers
r:
  driver = accept
  local_parts = true : false : exit75
  transport = $local_part_data
  user = mail
l:
  driver = accept
  transport = lsock
  user = mail
begin transports
true:
  driver = pipe
  command = /bin/sh -c 'cat > {d}/true.out'
false:
  driver = pipe
  command = /bin/false
exit75:
  driver = pipe
  command = /bin/sh -c "exit 75"
lsock:
  driver = lmtp
  socket = {d}/lmtp.sock
  batch_max = 10
  timeout = 5s
"""


def send(postern, conf, *rcpts):
    r = subprocess.run([postern, "-C", str(conf), "-odi", "-f", "s@x.example", *rcpts],
                       input="Subject: t\n\nbody\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_pipe_lines_match_exim(postern_bin, world_dir):
    conf = world_dir / "c.conf"
    conf.write_text(config(world_dir))
    for lp in ("true", "false", "exit75"):
        send(postern_bin, conf, f"{lp}@test.ex")
    lines = [l for l in masked((world_dir / "spool" / "log" / "mainlog").read_text())
             if " <= " not in l and "Completed" not in l and "s@x.example" not in l
             and "Frozen" not in l]
    assert "ID => true <true@test.ex> R=r T=true" in lines, lines
    assert ("ID ** false@test.ex R=r T=false: Child process of false transport returned 1 "
            "from command: /bin/false") in lines, lines
    assert ("ID == exit75@test.ex R=r T=exit75 defer (0): Child process of exit75 transport "
            "returned 75 (could mean temporary error) from command: /bin/sh") in lines, lines
    out = (world_dir / "true.out").read_text()
    assert out.startswith("From s@x.example ") and "\nSubject: t\n" in out
    assert out.endswith("\n\nbody\n\n")  # the body, then the default message_suffix


def test_lmtp_lines_match_exim(postern_bin, world_dir):
    sock = world_dir / "lmtp.sock"
    log = world_dir / "lmtp.log"
    server = subprocess.Popen([sys.executable, str(LMTPD), str(sock), str(log)])
    try:
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.02)
        conf = world_dir / "c.conf"
        conf.write_text(config(world_dir))
        send(postern_bin, conf, "ok1@test.ex", "rej1@test.ex", "tmp1@test.ex", "dfail1@test.ex")
        lines = masked((world_dir / "spool" / "log" / "mainlog").read_text())
        assert 'ID => ok1 <ok1@test.ex> R=l T=lsock C="250 2.0.0 <ok1@test.ex> Saved"' in lines, lines
        assert ("ID ** rej1@test.ex R=l T=lsock: LMTP error after RCPT TO:<rej1@test.ex>: "
                "550 5.1.1 <rej1@test.ex> User doesn't exist") in lines, lines
        assert ("ID == tmp1@test.ex R=l T=lsock defer (-44): LMTP error after RCPT TO:<tmp1@test.ex>: "
                "451 4.3.0 <tmp1@test.ex> Temporary failure") in lines, lines
        assert ("ID ** dfail1@test.ex R=l T=lsock: LMTP error after end of data: "
                "552 5.2.2 <dfail1@test.ex> Quota exceeded (mailbox for user is full)") in lines, lines
        cmds = log.read_text()
        assert "C: LHLO test.ex\nC: MAIL FROM:<s@x.example>\nC: RCPT TO:<" in cmds
    finally:
        server.terminate()
        server.wait()
