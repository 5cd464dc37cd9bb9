"""Sieve vacation that cannot work, and failures that send no report, beside live Exim 4.96.

Each case runs Exim 4.96 and Postern with the same configuration (a user's Sieve file through a
redirect router, the transports running as Debian-exim so that Exim, which gives up root for
-C, can run them too) and compares the main log lines (ids, times and the directory masked)
and the vacation directory afterwards. What Exim does, as observed:
  - require "vacation" opens the vacation directory: a missing one is fine, one that is not a
    directory is a Sieve error (implicit keep, nothing logged); 32-character entries older
    than 31 days are removed;
  - a vacation reply that fails (here: its once file cannot be created) is deferred, fails by
    retry timeout when no retry rule matches, and is "error ignored": no bounce;
  - a bounce that fails once ignore_bounce_errors_after has passed: "error ignored";
  - an Exim filter's mail to a message without From: (nor Reply-To:), at $reply_address, or
    to an address that does not parse: ">**bad-reply**" fails at routing, error ignored;
  - a vacation :from that is not one address is a Sieve error (implicit keep)."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

EXIM = "/usr/sbin/exim"

CONF = """exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = {d}/spool
log_file_path = {d}/spool/log/%slog
primary_hostname = test.example
qualify_domain = test.example
keep_environment =
{main}
domainlist local_domains = test.example
begin routers
userforward:
  driver = redirect
  domains = +local_domains
  local_parts = user1
  allow_filter
  user = Debian-exim
  file = {d}/user1.fwd
  file_transport = address_file
  reply_transport = address_reply
  sieve_vacation_directory = {d}/mail/vac
local:
  driver = accept
  local_parts = user1 : a
  transport = local_delivery
begin transports
local_delivery:
  driver = appendfile
  file = {d}/mail/$local_part_data
  user = Debian-exim
address_file:
  driver = appendfile
  maildir_format
  directory = {d}/mail/Maildir
  create_directory
  user = Debian-exim
address_reply:
  driver = autoreply
"""

VACATION = '# Sieve filter\nrequire "vacation";\nvacation :days 3 :subject "away" "I am away";\n'
UNUSED = '# Sieve filter\nrequire "vacation";\nif false { vacation "I am away"; }\n'

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0,
                                reason="needs Exim 4.96 and root")


def run(binary, case, script, main="", sender="a@test.example", rcpt="user1@test.example",
        smtp=False):
    d = pathlib.Path(tempfile.mkdtemp(prefix="vacx_"))
    try:
        os.chmod(d, 0o777)
        for sub in ("mail", "spool"):
            (d / sub).mkdir()
            os.chmod(d / sub, 0o777)
        case(d)
        (d / "user1.fwd").write_text(script)
        os.chmod(d / "user1.fwd", 0o644)
        acl = ""
        if smtp:
            main += "\nacl_smtp_rcpt = accept_all"
            acl = "begin acl\naccept_all:\n  accept\n"
        conf = CONF.format(d=d, main=main)
        conf = conf.replace("begin routers", acl + "begin routers")
        (d / "conf").write_text(conf)
        if smtp:
            # As from a remote host (-oMa): no From: is added to a message that has none.
            msg = (f"EHLO h\r\nMAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"
                   "To: user1@test.example\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n")
            args = ["-bs", "-oMa", "192.0.2.1"]
        else:
            msg = f"From: {sender or 'x@y'}\nTo: {rcpt}\nSubject: hi\nMessage-Id: <m1@x>\n\nbody\n"
            args = ["-f", sender, rcpt]
        r = subprocess.run([binary, "-C", str(d / "conf"), "-odi", *args], input=msg,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        log = (d / "spool" / "log" / "mainlog").read_text()
        lines = []
        for line in log.splitlines():
            line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
            line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
            if "lost privilege" in line:
                continue
            lines.append(line.replace(str(d), "D"))
        vac = d / "mail" / "vac"
        listing = sorted(os.listdir(vac)) if vac.is_dir() else vac.exists()
        queued = sorted(p.name[-4:] for p in (d / "spool" / "input").glob("*-D"))
        return lines, listing, queued
    finally:
        shutil.rmtree(d, ignore_errors=True)


def both(case, script, **kw):
    return run(EXIM, case, script, **kw), run(os.environ["POSTERN"], case, script, **kw)


def not_a_directory(d):
    (d / "mail" / "vac").write_text("x")


def unwritable(d):
    (d / "mail" / "vac").mkdir()
    os.chmod(d / "mail" / "vac", 0o555)


def old_once_files(d):
    vac = d / "mail" / "vac"
    vac.mkdir()
    os.chmod(vac, 0o777)
    now = time.time()
    for name, days in (("A" * 32, 30.5), ("B" * 32, 31.5), ("0123456789abcdef0123456789abcdeX", 40),
                       ("not-a-once-file", 40)):
        (vac / name).write_text("x")
        os.utime(vac / name, (now - days * 86400, now - days * 86400))


def nothing(d):
    pass


def test_vacation_directory_not_a_directory_is_a_sieve_error():
    ex, po = both(not_a_directory, VACATION)
    assert ex[0] == ["ID <= a@test.example U=root P=local S=291 id=m1@x",
                     "ID => D/mail/Maildir <user1@test.example> R=userforward T=address_file",
                     "ID Completed"]
    assert po == ex


def test_failed_vacation_reply_is_ignored():
    ex, po = both(unwritable, VACATION)
    assert "ID >a@test.example <user1@test.example>: error ignored" in ex[0], ex
    assert any(l.startswith("ID ** >a@test.example <user1@test.example>: retry timeout") for l in ex[0])
    assert not (ex[2] or po[2])
    # The defer's text names the once file (an MD5 name): the same in both.
    assert po == ex


def test_old_once_files_are_removed():
    ex, po = both(old_once_files, UNUSED)
    assert ex[1] == ["A" * 32, "not-a-once-file"]
    assert po == ex


def test_failed_bounce_past_ignore_bounce_errors_after_is_ignored():
    ex, po = both(nothing, VACATION, main="ignore_bounce_errors_after = 0s", sender="",
                  rcpt="zz@test.example")
    assert ex[0][-2:] == ["ID zz@test.example: error ignored", "ID Completed"]
    assert po == ex


def test_filter_reply_to_no_address_is_a_bad_reply():
    ex, po = both(nothing, "# Exim filter\nmail to $reply_address subject away text hi\n", smtp=True)
    assert ex[0][1:] == [
        "ID ** >**bad-reply** <user1@test.example> R=userforward T=address_reply: "
        "filter autoreply generated syntactically invalid recipient",
        "ID => user1 <user1@test.example> R=local T=local_delivery",
        "ID >**bad-reply** <user1@test.example>: error ignored",
        "ID Completed"]
    assert po == ex


def test_filter_reply_to_malformed_address_is_a_bad_reply():
    ex, po = both(nothing, '# Exim filter\nmail to "x@@y" subject away text hi\n')
    assert "ID >**bad-reply** <user1@test.example>: error ignored" in ex[0]
    assert po == ex


def test_vacation_from_not_an_address_is_a_sieve_error():
    ex, po = both(nothing, '# Sieve filter\nrequire "vacation";\n'
                           'vacation :from "a@b, c@d" :subject "away" "I am away";\n')
    assert ex[0][1:] == ["ID => D/mail/Maildir <user1@test.example> R=userforward T=address_file",
                         "ID Completed"]
    assert po == ex
