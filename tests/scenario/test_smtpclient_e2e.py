"""The smtp client's features end to end: whole deliveries (-odi) through the smtp transport, by
Exim 4.96 and by Postern, to the same scripted server; the log lines, the bounce and the retry
records must be Exim's.

- PRDR: three recipients, one accepted, one refused, one deferred after the data.
- message_linelength_limit: a message with a longer line fails before any connection.
- utf8_downconvert: a message that needs SMTPUTF8 to a server that does not offer it (or with
  utf8_downconvert = 1 to one that does) goes with A-labels in the envelope; with 0 it fails."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

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
acl_smtp_rcpt = accept
begin routers
bounces:
  driver = accept
  domains = s.test : sé.test
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
{extra}
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


def deliver(who, script, rcpts=RCPTS, message=b"Subject: t\n\nbody\n", extra="", smtp_input=None):
    """One -odi delivery by Exim or Postern to a scripted server; returns the server, the log
    lines of the message (without times and ids), the bounce file's text and the retry records.
    smtp_input: submit with -bs instead (an SMTP conversation, bytes)."""
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
        conf.write_text(CONF.format(d=d, users=users, tpuser=tpuser, buser=buser, port=srv.port, extra=extra))
        if smtp_input is not None:
            subprocess.run([cmd, "-C", str(conf), "-odi", "-bs"], input=smtp_input, capture_output=True, timeout=60)
        else:
            subprocess.run([cmd, "-C", str(conf), "-odi", "-f", "sender@s.test"] + rcpts,
                           input=message, capture_output=True, timeout=60)
        if script[1]:
            srv.wait()
        else:
            srv.abandon()
        lines = (d / "log" / "mainlog").read_text().splitlines()
        ident = next(l.split()[2] for l in lines if re.search(r" <= s\S*@s\S*\.test ", l))
        mine = [log_body(l) for l in lines if l.split()[2] == ident]
        bf = d / "bounces" / "file"
        # The bounce may be delivered by a process of its own, after -odi returned.
        deadline = time.time() + 10
        while any(l.startswith("** ") for l in mine) and time.time() < deadline and \
                not (bf.exists() and bf.read_text().rstrip().endswith("--")):
            time.sleep(0.05)
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
    m = re.search(r"The following address\(es\) failed:\n\n(.*?)\n\n", bounce, re.S)
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


LONG_LINE_SCRIPT = ("220 fake ESMTP\r\n", [])


@pytest.mark.parametrize("length,limit", [(999, None), (998, None), (11, "10"), (10, "10"), (5, "0")])
def test_message_linelength_limit_as_exim(length, limit):
    """A message whose longest line (without its newline) exceeds message_linelength_limit
    (default 998; 0 is no exception) fails at once: no connection, no host in the lines, and a
    bounce that returns only the headers."""
    extra = f"  message_linelength_limit = {limit}" if limit is not None else ""
    message = b"Subject: t\n\n" + b"x" * length + b"\n"
    too_long = length > int(limit or 998)
    script = LONG_LINE_SCRIPT if too_long else ("220 fake ESMTP\r\n", [
        ("EHLO", "250 fake\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("DATA", "354 go\r\n"), ("BODY", "250 OK\r\n")])
    rcpts = ["r1@r.test", "r2@r.test"]
    ex_srv, ex_lines, ex_bounce, ex_dump = deliver("exim", script, rcpts, message, extra)
    pr_srv, pr_lines, pr_bounce, pr_dump = deliver("postern", script, rcpts, message, extra)
    assert pr_lines == ex_lines
    assert pr_srv.lines == ex_srv.lines
    if too_long:
        assert ex_srv.lines == []
        assert ex_lines[1] == "** r1@r.test R=r T=t: message has lines too long for transport"
        if length > 998:
            assert "only headers are returned" in ex_bounce
        assert failure_part(pr_bounce) == failure_part(ex_bounce)
        assert re.findall(r"^X-Exim-DSN-Information: .*", pr_bounce, re.M) == \
            re.findall(r"^X-Exim-DSN-Information: .*", ex_bounce, re.M)
    else:
        assert ex_lines[1].startswith("=> r1@r.test R=r T=t H=127.0.0.1")
    assert pr_dump == ex_dump


UTF8_SMTP = ("EHLO x\r\nMAIL FROM:<s\u00e9nder@s\u00e9.test> SMTPUTF8\r\nRCPT TO:<r\u00e9cip@b\u00fccher.test>\r\n"
             "RCPT TO:<plain@r.test>\r\nDATA\r\nSubject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n").encode()
EHLO_UTF8 = "250-fake\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n"
EHLO_PLAIN = "250-fake\r\n250 PIPELINING\r\n"


@pytest.mark.parametrize("setting,ehlo", [(None, EHLO_PLAIN), ("1", EHLO_PLAIN), ("-1", EHLO_PLAIN),
                                          ("1", EHLO_UTF8), (None, EHLO_UTF8), ("0", EHLO_PLAIN)])
def test_utf8_downconvert_as_exim(setting, ehlo):
    extra = f"  utf8_downconvert = {setting}" if setting is not None else ""
    if setting == "0":
        script = ("220 fake ESMTP\r\n", [("EHLO", ehlo)])
    else:
        script = ("220 fake ESMTP\r\n", [("EHLO", ehlo), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
                                          ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"), ("BODY", "250 OK\r\n")])
    smtp = UTF8_SMTP
    ex_srv, ex_lines, ex_bounce, ex_dump = deliver("exim", script, extra=extra, smtp_input=smtp)
    pr_srv, pr_lines, pr_bounce, pr_dump = deliver("postern", script, extra=extra, smtp_input=smtp)
    assert pr_srv.lines == ex_srv.lines
    assert pr_srv.body.replace(b"\r\n", b"\n").count(b"\n") == ex_srv.body.replace(b"\r\n", b"\n").count(b"\n")
    # the <= line differs (Postern's P= for -bs is its own); the delivery lines must not
    assert pr_lines[1:] == ex_lines[1:]
    converted = setting in ("1", "-1") and (setting == "1" or ehlo == EHLO_PLAIN) or (setting is None and ehlo == EHLO_PLAIN)
    if converted:
        assert ex_srv.lines[1] == "MAIL FROM:<xn--snder-bsa@xn--s-bga.test>"
        assert ex_lines[1].startswith("=> xn--rcip-bpa@xn--bcher.test-9db <r\u00e9cip@b\u00fccher.test> R=r")
    if setting == "0":
        # the bounce to the UTF-8 sender arrives, naming the addresses as Exim's does
        assert "To: s\u00e9nder@s\u00e9.test\n" in ex_bounce and "To: s\u00e9nder@s\u00e9.test\n" in pr_bounce
        assert failure_part(pr_bounce) == failure_part(ex_bounce)


def test_utf8_downconvert_error_texts_as_exim():
    """A refused downconverted recipient: the "**" line shows the A-label form for the batch's
    first address, and the error names the recipient as it is (escaped), as Exim 4.96."""
    script = ("220 fake ESMTP\r\n", [("EHLO", EHLO_PLAIN), ("MAIL", "250 ok\r\n"), ("RCPT", "550 no\r\n"),
                                      ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"), ("BODY", "250 OK\r\n")])
    smtp = ("EHLO x\r\nMAIL FROM:<sender@s.test> SMTPUTF8\r\nRCPT TO:<r\u00e9cip@r.test>\r\n"
            "RCPT TO:<b\u00e9@r.test>\r\nDATA\r\nSubject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n").encode()
    ex_srv, ex_lines, ex_bounce, _ = deliver("exim", script, smtp_input=smtp)
    pr_srv, pr_lines, pr_bounce, _ = deliver("postern", script, smtp_input=smtp)
    assert ex_srv.lines[2] == "RCPT TO:<xn--rcip-bpa@r.test>"
    assert pr_srv.lines == ex_srv.lines
    assert pr_lines[1:] == ex_lines[1:]
    # The bounce names the address escaped, as Exim's log lines do.
    assert failure_part(ex_bounce).startswith("  r\\303\\251cip@r.test\n")
    assert failure_part(pr_bounce) == failure_part(ex_bounce)
