"""A reply or -t message whose recipient list holds addresses that do not parse, beside live
Exim 4.96.

What Exim does, as observed:
  - the reception of a -t message (Exim's autoreply is one) logs "<id> bad addresses found in
    headers" to the main and panic logs and delivers to the other addresses;
  - with a sender, it mails "Mail failure - malformed recipient address" listing each bad item
    from where it starts to the end of its header, in its parser's words, and saying whether
    the others were passed on; with status 1 when none were;
  - with the null sender (an autoreply), "Error while reading message with no usable sender
    address (R=<id>): at least one malformed recipient address: <item> - <why>";
  - an Exim filter's mail item is named after the first address that parses;
  - an autoreply without "from" gets "From: <transport user>@<qualify_domain>".
Main log lines are compared sorted (generated messages are delivered by other processes), with
ids, dates and sizes of messages from <> masked, and the mailboxes as delivered."""
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
domainlist local_domains = test.example
begin routers
userforward:
  driver = redirect
  domains = +local_domains
  local_parts = user1
  allow_filter
  user = Debian-exim
  file = {d}/user1.fwd
  reply_transport = address_reply
local:
  driver = accept
  local_parts = user1 : a : b : f
  transport = local_delivery
begin transports
local_delivery:
  driver = appendfile
  file = {d}/mail/$local_part_data
  user = Debian-exim
address_reply:
  driver = autoreply
  user = Debian-exim
"""

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0,
                                reason="needs Exim 4.96 and root")


def mask(text, d):
    text = text.replace(str(d), "D")
    text = re.sub(r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", text)
    text = re.sub(r"\d+-eximdsn-\d+", "BOUNDARY", text)
    text = re.sub(r"\w\w\w, \d+ \w\w\w \d{4} \d\d:\d\d:\d\d [-+]\d{4}", "DATE", text)
    return re.sub(r"\w\w\w \w\w\w [ \d]\d \d\d:\d\d:\d\d \d{4}", "DATE", text)


def run(binary, args, message, script="# Exim filter\n"):
    d = pathlib.Path(tempfile.mkdtemp(prefix="mailbad_"))
    try:
        os.chmod(d, 0o777)
        for sub in ("mail", "spool"):
            (d / sub).mkdir()
            os.chmod(d / sub, 0o777)
        (d / "user1.fwd").write_text(script)
        os.chmod(d / "user1.fwd", 0o644)
        (d / "conf").write_text(CONF.format(d=d))
        r = subprocess.run([binary, "-C", str(d / "conf"), "-odi", *args], input=message,
                           capture_output=True, text=True, timeout=60)
        log = d / "spool" / "log" / "mainlog"
        deadline = time.time() + 20
        while time.time() < deadline and (list((d / "spool" / "input").glob("*-H"))
                                          or log.read_text().count(" <= ") > log.read_text().count(" Completed")):
            time.sleep(0.1)
        lines = []
        for line in log.read_text().splitlines():
            if "lost privilege" in line:
                continue
            line = mask(re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line), d)
            lines.append(re.sub(r" S=\d+", " S=N", line) if " <= <> " in line else line)
        boxes = {f.name: mask(f.read_text(), d) for f in sorted((d / "mail").iterdir())}
        return r.returncode, sorted(lines), boxes
    finally:
        shutil.rmtree(d, ignore_errors=True)


MSG = "From: a@test.example\nTo: user1@test.example\nSubject: hi\nMessage-Id: <m1@x>\n\nbody\n"

CASES = {
    "filter-mail-bad-last": (["-f", "a@test.example", "user1@test.example"], MSG,
                             '# Exim filter\nmail to "b@test.example, c@@x" subject "re" text "hello"\n'),
    "filter-mail-bad-first": (["-f", "a@test.example", "user1@test.example"], MSG,
                              '# Exim filter\nmail to "c@@x, b@test.example" subject "re" text "hello"\n'),
    "filter-mail-no-from": (["-f", "a@test.example", "user1@test.example"], MSG,
                            '# Exim filter\nmail to b@test.example subject re text hello\n'),
    "t-some-bad": (["-t", "-f", "a@test.example"],
                   "From: a@test.example\nTo: b@test.example, c@@x\nCc: d<e, f@test.example\n"
                   "Subject: hi\n\nbody\n"),
    "t-one-bad": (["-t", "-f", "a@test.example"],
                  "From: a@test.example\nTo: b@test.example, c@@x\nSubject: hi\n\nbody\n"),
    "t-all-bad": (["-t", "-f", "a@test.example"],
                  "From: a@test.example\nTo: c@@x\nSubject: hi\n\nbody\n"),
    "t-null-sender": (["-t", "-f", "<>"],
                      "From: a@test.example\nTo: b@test.example, c@@x\nSubject: hi\n\nbody\n"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_recipient_in_list_like_exim(name):
    exim = run(EXIM, *CASES[name])
    ours = run(os.environ["POSTERN"], *CASES[name])
    assert ours[0] == exim[0]
    assert ours[1] == exim[1]
    assert ours[2] == exim[2]
