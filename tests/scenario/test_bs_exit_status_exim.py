"""The exit status of -bs (local SMTP on stdin/stdout) beside live Exim 4.96.

Observed: the session ends with status 1 when it is lost (the input ends without QUIT, also in
the middle of a message or a BDAT chunk) or dropped for too many syntax/protocol errors or too
many nonmail commands; with 0 after QUIT, after an ACL's drop and after too many unrecognized
commands. Postern ended every -bs session with 0. Compared: the status and the replies."""
import os
import re
import shutil
import subprocess

import pytest

EXIM = "/usr/sbin/exim"

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0,
                                reason="needs Exim 4.96 and root")

CONF = """spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
primary_hostname = client.test
smtp_accept_max_nonmail = 1
smtp_accept_max_nonmail_hosts = *
acl_smtp_helo = h
acl_smtp_rcpt = r
begin acl
h:
  drop condition = ${{if eq{{$sender_helo_name}}{{drop}}}}
  accept
r:
  drop local_parts = drop
  accept
begin routers
r:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = /dev/null
"""

MSG = "MAIL FROM:<a@b.example>\r\nRCPT TO:<ok@x.example>\r\n"
CASES = {
    "quit": ("HELO x\r\nQUIT\r\n", 0),
    "message-quit": ("HELO x\r\n" + MSG + "DATA\r\nSubject: s\r\n\r\nb\r\n.\r\nQUIT\r\n", 0),
    "acl-drop-helo": ("HELO drop\r\nQUIT\r\n", 0),
    "acl-drop-rcpt": ("HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<drop@x.example>\r\nQUIT\r\n", 0),
    "unknown-commands": ("HELO x\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\n", 0),
    "nonmail": ("HELO x\r\nNOOP\r\nNOOP\r\nNOOP\r\nQUIT\r\n", 1),
    "synprot": ("HELO x\r\n" + "MAIL FROM:<a@b.example>\r\n" * 4, 1),
    "eof": ("HELO x\r\n", 1),
    "empty": ("", 1),
    "eof-after-message": ("HELO x\r\n" + MSG + "DATA\r\nSubject: s\r\n\r\nb\r\n.\r\n", 1),
    "eof-in-data": ("HELO x\r\n" + MSG + "DATA\r\nSubject: s\r\n\r\nb\r\n", 1),
    "eof-in-bdat": ("EHLO x\r\n" + MSG + "BDAT 100\r\nabc", 1),
}


def run(binary, d, text):
    p = subprocess.run([binary, "-C", str(d / "conf"), "-odq", "-bs"], input=text.encode(),
                       capture_output=True, timeout=60)
    out = p.stdout.decode(errors="replace")
    out = re.sub(r"ESMTP Exim 4\.96 .*", "ESMTP", out)
    out = re.sub(r"id=\S+", "id=ID", out)
    return p.returncode, out


@pytest.mark.parametrize("name", sorted(CASES))
def test_bs_exit_status_like_exim(tmp_path, name):
    text, want = CASES[name]
    got = {}
    for who, binary in (("exim", EXIM), ("postern", os.environ["POSTERN"])):
        d = tmp_path / who
        (d / "spool").mkdir(parents=True)
        (d / "log").mkdir()
        (d / "conf").write_text(CONF.format(d=d))
        got[who] = run(binary, d, text)
        shutil.rmtree(d / "spool", ignore_errors=True)
    assert got["exim"][0] == want
    assert got["postern"] == got["exim"]
