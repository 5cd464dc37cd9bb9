"""-bs by an untrusted caller: the MAIL FROM sender is replaced by the caller's own address only
when the message is received, beside live Exim 4.96.

Observed (nobody with an untrusted -C, so every log line is on stderr): the MAIL, RCPT and
predata ACLs see $sender_address as given, and a refused RCPT is logged with F=<given sender>.
Postern replaced the sender at MAIL (F=<nobody@...>). Exim then cannot make its spool file as
nobody; what the received message looks like is checked with Postern alone, with the test suite's
trust aid (conftest.py), which lets nobody's reception go through: its envelope sender is the
caller's address."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from daemon_helpers import reachable_by_exim_user

EXIM = "/usr/sbin/exim"

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0 or not shutil.which("runuser"),
                                reason="needs Exim 4.96, root and runuser")

CONF = """spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
primary_hostname = client.test
acl_smtp_mail = m
acl_smtp_rcpt = r
acl_smtp_predata = p
begin acl
m:
  warn logwrite = mail sender=$sender_address
  accept
r:
  warn logwrite = rcpt sender=$sender_address
  deny local_parts = no
  accept
p:
  warn logwrite = predata sender=$sender_address
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

SMTP = ("HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<no@r.test>\r\nRCPT TO:<yes@r.test>\r\n"
        "DATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n")


def make_run_dir(d):
    os.chmod(d, 0o755)
    (d / "spool").mkdir()
    (d / "log").mkdir()
    (d / "conf").write_text(CONF.format(d=d))
    os.chmod(d / "conf", 0o644)


def run(binary, d, env):
    p = subprocess.run(["runuser", "-u", "nobody", "--", binary, "-C", str(d / "conf"), "-odq", "-bs"],
                       input=SMTP.encode(), capture_output=True, timeout=60, env=env)
    err = re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", p.stderr.decode())
    return [x for x in err.splitlines() if "sender=" in x or "rejected RCPT" in x]


def test_untrusted_bs_acls_see_the_given_sender_like_exim(tmp_path):
    reachable_by_exim_user(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "POSTERN_TEST_TRUST_CONFIG"}
    got = {}
    for who, binary in (("exim", EXIM), ("postern", os.environ["POSTERN"])):
        d = tmp_path / who
        d.mkdir()
        make_run_dir(d)
        os.chmod(d / "spool", 0o777)   # so that nobody reaches DATA and the predata ACL
        got[who] = run(binary, d, env)
    assert got["exim"] == ["mail sender=a@b.example", "rcpt sender=a@b.example",
                           "U=nobody F=<a@b.example> rejected RCPT <no@r.test>", "rcpt sender=a@b.example",
                           "predata sender=a@b.example"]
    assert got["postern"] == got["exim"]


def test_untrusted_bs_message_has_the_callers_sender(tmp_path):
    reachable_by_exim_user(tmp_path)
    d = tmp_path / "p"
    d.mkdir()
    make_run_dir(d)
    os.chmod(d / "spool", 0o777)
    os.chmod(d / "log", 0o777)
    env = dict(os.environ, POSTERN_TEST_TRUST_CONFIG="1")
    run(os.environ["POSTERN"], d, env)
    heads = list((d / "spool").rglob("*-H"))
    assert len(heads) == 1
    assert heads[0].read_text().splitlines()[2] == "<nobody@client.test>"
