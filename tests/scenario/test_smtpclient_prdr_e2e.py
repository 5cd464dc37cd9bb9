"""PRDR end to end: whole deliveries (-odi) of one message to three recipients through the smtp
transport, by Exim 4.96 and by Postern, to the same scripted PRDR server (one recipient
accepted, one refused, one deferred after the data): the log lines, the bounce's account of the
refused recipient and the retry record of the deferred one must be Exim's."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from smtpclient_helpers import ScriptedServer
from smtp_transport_helpers import log_body, postern_bin

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
{users}
never_users =
trusted_users = root
keep_environment =
begin routers
bounces:
  driver = accept
  domains = s.test
  transport = bounce_file
r:
  driver = manualroute
  route_list = * 127.0.0.1::{port}
  self = send
  transport = t
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
  command_timeout = 2s
{tpuser}
bounce_file:
  driver = appendfile
  file = {d}/bounces/file
  user = {buser}
begin retry
* * F,1h,1h
"""
RCPTS = ["rcpt1@r.test", "rcpt2@r.test", "rcpt3@r.test"]
EHLO = "250-fake hello\r\n250-PIPELINING\r\n250 PRDR\r\n"
SCRIPT = ("220 fake ESMTP\r\n", [
    ("EHLO", EHLO), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
    ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"),
    ("BODY", "353 PRDR content analysis beginning\r\n250 2.0.0 ok for one\r\n"
             "550-5.7.1 not for\r\n550 5.7.1 number two\r\n451 4.2.0 three later\r\n250 OK done\r\n")])


def deliver(who, script):
    srv = ScriptedServer(*script)
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-prdr-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        (d / "bounces").mkdir()
        buser = "Debian-exim" if who == "exim" else "mail"
        shutil.chown(d / "bounces", buser)
        if who == "exim":
            for p in ["spool", "spool/db", "log"]:
                shutil.chown(d / p, "Debian-exim")
            users, tpuser, cmd = "exim_user = Debian-exim\nexim_group = Debian-exim", "  user = Debian-exim", "exim"
        else:
            users, tpuser, cmd = "exim_user = root\nexim_group = root", "", postern_bin()
        conf = d / "c.conf"
        conf.write_text(CONF.format(d=d, users=users, tpuser=tpuser, buser=buser, port=srv.port))
        subprocess.run([cmd, "-C", str(conf), "-odi", "-f", "sender@s.test"] + RCPTS,
                       input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
        srv.wait()
        lines = (d / "log" / "mainlog").read_text().splitlines()
        ident = next(l.split()[2] for l in lines if " <= sender@s.test" in l)
        mine = [log_body(l) for l in lines if l.split()[2] == ident]
        bf = d / "bounces" / "file"
        bounces = bf.read_text() if bf.exists() else ""
        dumpdb = "exim_dumpdb"
        if who == "postern":
            dumpdb = str(d / "exim_dumpdb")
            os.symlink(postern_bin(), dumpdb)
        dump = subprocess.run([dumpdb, str(d / "spool"), "retry"], capture_output=True, text=True, timeout=30)
        return srv, mine, bounces, retry_records(dump.stdout)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def retry_records(dump):
    """exim_dumpdb's retry records as (key, errno, more_errno, text), without the times."""
    out = []
    lines = dump.splitlines()
    for i, l in enumerate(lines):
        m = re.match(r"\s*(\S+) (-?\d+) (-?\d+) (.*)$", l)
        if m and i + 1 < len(lines) and re.match(r"\d\d-\w{3}-\d{4}", lines[i + 1]):
            out.append(m.groups())
    return out


def failure_part(bounce):
    """The bounce's account of the failed recipients (Exim's wording, not its version lines)."""
    m = re.search(r"\n(  rcpt2@r\.test\n.*?)\n\n", bounce, re.S)
    return m.group(1) if m else bounce


def test_prdr_delivery_as_exim():
    ex_srv, ex_lines, ex_bounce, ex_dump = deliver("exim", SCRIPT)
    pr_srv, pr_lines, pr_bounce, pr_dump = deliver("postern", SCRIPT)
    assert pr_srv.lines == ex_srv.lines
    assert "PRDR" in pr_srv.lines[1]
    assert pr_lines == ex_lines
    assert "PRDR error after DATA: 550-5.7.1 not for\n    550 5.7.1 number two" in failure_part(ex_bounce)
    assert failure_part(pr_bounce) == failure_part(ex_bounce)
    diag = re.compile(r"^Diagnostic-Code: .*\n(?: .*\n)*", re.M)
    assert diag.findall(pr_bounce) == diag.findall(ex_bounce) != []
    # The deferred recipient's own retry record (no sender in the key), as Exim's.
    assert ex_dump == [("R:rcpt3@r.test", "0", "13121",
                        "H=127.0.0.1 [127.0.0.1]: PRDR error after DATA: 451 4.2.0 three later")]
    assert pr_dump == ex_dump
