"""Bounces for messages with UTF-8 addresses, and the -f argument's refusals, beside live Exim
4.96 (issue 4 §6).

A message comes in by -bs (MAIL FROM with SMTPUTF8), is delivered by -M, and the bounce it
causes stays on the queue (queue_only), so that its -H and -D files can be compared with
Exim's, times, ids and the boundary masked. What Exim does, as observed:
  - the bounce goes to a UTF-8 sender: "To: sénder@sé.test", its own -H marked -smtputf8
    (its recipient is UTF-8), "for sénder@sé.test" in its Received header;
  - X-Failed-Recipients and the human-readable part escape the addresses as the log does
    ("r\\303\\251cip@b\\303\\274cher.test"), the delivery-status part does not
    ("Final-Recipient: rfc822;récip@bücher.test"; "Original-Recipient:" as the ORCPT came);
  - for a message that came with SMTPUTF8: "message/global-delivery-status" and
    "message/global" (headers only: "message/global-headers");
  - a delay warning keeps "message/delivery-status" and "text/rfc822-headers";
  - a redirected address: "(generated from <recipient>)", "(ultimately generated from ...)"
    two levels down;
  - -t takes UTF-8 domains in To:, -f and the command line too, and marks the message -smtputf8;
  - 'exim: bad -f address "<arg>": <reason>' on stderr, status 1, nothing logged, the reasons
    of the address parser."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

EXIM = "/usr/sbin/exim"

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0,
                                reason="needs Exim 4.96 and root")

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
keep_environment =
acl_smtp_rcpt = accept
dsn_advertise_hosts = *
queue_only
{extra}
begin routers
gen:
  driver = redirect
  domains = gen.test
  data = fail@r.test
gen2:
  driver = redirect
  domains = gen2.test
  data = x@gen.test
gen3:
  driver = redirect
  domains = gen3.test
  data = u@fwd.test
hidef:
  driver = redirect
  domains = hidef.test
  allow_filter
  hide_child_in_errmsg
  user = Debian-exim
  data = "# Exim filter\\ndeliver fail@r.test"
hide:
  driver = redirect
  domains = hide.test
  hide_child_in_errmsg
  data = fail@r.test
fwd:
  driver = redirect
  domains = fwd.test
  data = |/bin/false
  pipe_transport = p
failer:
  driver = redirect
  domains = bücher.test : r.test
  local_parts = ! plain
  allow_fail
  data = :fail: nope here
r:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = {d}/box
  user = Debian-exim
p:
  driver = pipe
  user = Debian-exim
"""

ID = re.compile(r"\bE?[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b")


def mask(text, d):
    text = ID.sub("ID", text.replace(str(d), "D"))
    text = re.sub(r"\d+-eximdsn-\d+", "BOUNDARY", text)
    text = re.sub(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "DATE", text)
    return text


def spool_texts(d, ident):
    """The -H and -D files of the messages other than ident, masked (the -H lines that hold
    times and lengths left out, so that only what Exim decides is compared)."""
    out = []
    for h in sorted((d / "spool" / "input").glob("*-H")):
        if h.name.startswith(ident):
            continue
        lines = []
        for i, line in enumerate(h.read_text(errors="surrogateescape").splitlines()):
            # times; the longest line (the boundary's random number has no fixed length);
            # Postern's own checksum line
            if i == 3 or line.startswith(("-received_time", "-max_received_linelength", "-postern_sum")):
                continue
            lines.append(re.sub(r"^\d\d\d(.) ", r"\1 ", line))
        dfile = h.with_name(h.name[:-1] + "D").read_text(errors="surrogateescape")
        out.append((mask("\n".join(lines), d), mask(dfile, d)))
    return out


def make_dir(conf_extra):
    d = pathlib.Path(tempfile.mkdtemp(prefix="bncu8_"))
    os.chmod(d, 0o777)   # the mailbox's lock files, made as Debian-exim
    for sub in ("spool", "log"):
        (d / sub).mkdir()
        shutil.chown(d / sub, "Debian-exim")
    (d / "conf").write_text(CONF.format(d=d, extra=conf_extra))
    return d


def log_lines(d):
    lines = []
    for line in (d / "log" / "mainlog").read_text(errors="surrogateescape").splitlines():
        if "lost privilege" in line:
            continue
        line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
        lines.append(re.sub(r" S=\d+", " S=N", mask(line, d)))
    return lines


def deliver(binary, smtp, conf_extra=""):
    """-bs reception, -M delivery; the log lines and the queued bounce's files."""
    d = make_dir(conf_extra)
    try:
        r = subprocess.run([binary, "-C", str(d / "conf"), "-bs"], input=smtp, capture_output=True, timeout=60)
        ident = ID.search(r.stdout.decode(errors="replace").split("250 OK id=")[1]).group(0)
        subprocess.run([binary, "-C", str(d / "conf"), "-M", ident], capture_output=True, timeout=60)
        end = time.time() + 10
        while time.time() < end and (d / "spool" / "input" / f"{ident}-H").exists():
            time.sleep(0.05)
        # The arrival line has no protocol difference worth pinning here; the rest must match.
        return [l for l in log_lines(d) if " <= " not in l or "R=ID" in l], spool_texts(d, ident)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def both(smtp, conf_extra=""):
    return deliver(EXIM, smtp, conf_extra), deliver(os.environ["POSTERN"], smtp, conf_extra)


def smtp_input(sender, rcpts, utf8=True):
    cmds = f"EHLO x\r\nMAIL FROM:<{sender}>{' SMTPUTF8' if utf8 else ''}\r\n"
    cmds += "".join(f"RCPT TO:{r}\r\n" for r in rcpts)
    return (cmds + "DATA\r\nSubject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n").encode()


def test_bounce_to_utf8_sender():
    ex, po = both(smtp_input("s\u00e9nder@s\u00e9.test", ["<r\u00e9cip@b\u00fccher.test>", "<plain@r.test>",
                                                          "<fail@r.test>"]))
    (ex_h, ex_d), = ex[1]
    assert "\n-smtputf8\n" in ex_h and "T To: s\u00e9nder@s\u00e9.test" in ex_h
    assert "X-Failed-Recipients: r\\303\\251cip@b\\303\\274cher.test,\n  fail@r.test\n" in ex_h
    assert "  r\\303\\251cip@b\\303\\274cher.test\n    nope here\n" in ex_d
    assert "Content-type: message/global-delivery-status\n" in ex_d
    assert "Final-Recipient: rfc822;r\u00e9cip@b\u00fccher.test\n" in ex_d
    assert "Content-type: message/global\n" in ex_d
    assert po == ex


def test_orcpt_and_headers_only():
    ex, po = both(smtp_input("sender@s.test", ["<r\u00e9cip@b\u00fccher.test> ORCPT=utf-8;r\\x{E9}cip@b\\x{FC}cher.test"
                                               " NOTIFY=FAILURE", "<plain@r.test>"]), "bounce_return_body = false")
    (ex_h, ex_d), = ex[1]
    assert "\n-smtputf8\n" not in ex_h
    assert "Original-Recipient: utf-8;r\\x{E9}cip@b\\x{FC}cher.test\n" in ex_d
    assert "Content-type: message/global-headers\n" in ex_d
    assert po == ex


def test_generated_from():
    ex, po = both(smtp_input("s\u00e9nder@s\u00e9.test", ["<g\u00e9@gen2.test>", "<y@gen.test>"]))
    (ex_h, ex_d), = ex[1]
    assert "  fail@r.test\n    (ultimately generated from g\\303\\251@gen2.test)\n    nope here\n" in ex_d
    assert "  fail@r.test\n    (generated from y@gen.test)\n    nope here\n" in ex_d
    assert po == ex


@pytest.mark.parametrize("rcpts", [["<h@hide.test>"], ["<h@hide.test>", "<y@gen.test>"],
                                   ["<h@hidef.test>", "<y@gen.test>"]])
def test_hide_child_in_errmsg(rcpts):
    """hide_child_in_errmsg: "an undisclosed address (generated from ...)", no reason, left out
    of X-Failed-Recipients (no such header when it is the only one)."""
    ex, po = both(smtp_input("s@s.test", rcpts, utf8=False))
    (ex_h, ex_d), = ex[1]
    top = rcpts[0].strip("<>")
    assert f"  an undisclosed address\n    (generated from {top})\n" in ex_d
    assert f"(generated from {top})\n    " not in ex_d   # no reason
    assert ("X-Failed-Recipients" in ex_h) == (len(rcpts) > 1)
    assert po == ex


def test_pipe_generated_by_parent():
    """A pipe from a redirection of a redirection: its parent, then the recipient. Only the
    bounce is compared: Exim's "**" line also names the parent ("|/bin/false (u@fwd.test)
    <g@gen3.test>"), Postern's does not yet (the delivery log's code)."""
    ex, po = both(smtp_input("s@s.test", ["<g@gen3.test>"]))
    (ex_h, ex_d), = ex[1]
    assert ("  pipe to |/bin/false\n    generated by u@fwd.test\n    (ultimately generated from g@gen3.test)\n"
            "    local delivery failed\n") in ex_d
    assert po[1] == ex[1]


def test_ascii_message_keeps_the_usual_types():
    ex, po = both(smtp_input("sender@s.test", ["<fail@r.test>"], utf8=False))
    (ex_h, ex_d), = ex[1]
    assert "Content-type: message/delivery-status\n" in ex_d and "Content-type: message/rfc822\n" in ex_d
    assert po == ex


def submit(binary, args, message=b"Subject: s\n\nbody\n"):
    """A -odq submission: status, stderr, the log lines, the queued -H files (masked)."""
    d = make_dir("")
    try:
        r = subprocess.run([binary, "-C", str(d / "conf"), "-odq"] + args, input=message,
                           capture_output=True, timeout=60)
        log = log_lines(d) if (d / "log" / "mainlog").exists() else []
        heads = [h.read_text(errors="surrogateescape") for h in (d / "spool" / "input").glob("*-H")] \
            if (d / "spool" / "input").exists() else []
        return r.returncode, r.stderr.decode(errors="surrogateescape"), log, heads
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_t_takes_utf8_domains():
    msg = "To: r\u00e9cip@b\u00fccher.test, x@y.test\nSubject: s\n\nbody\n".encode()
    ex = submit(EXIM, ["-t"], msg)
    po = submit(os.environ["POSTERN"], ["-t"], msg)
    assert ex[0] == po[0] == 0
    for res in (ex, po):
        (head,) = res[3]
        assert "\n-smtputf8\n" in head and "\nr\u00e9cip@b\u00fccher.test\nx@y.test\n" in head


@pytest.mark.parametrize("args", [["-f", "s\u00e9nder@s\u00e9.test", "x@y.test"],
                                  ["-f", "\u00e9@s.test", "x@y.test"],
                                  ["r\u00e9cip@b\u00fccher.test"],
                                  ["-f", "a@b", "x@y.test"]])
def test_utf8_addresses_mark_the_message(args):
    ex = submit(EXIM, args)
    po = submit(os.environ["POSTERN"], args)
    assert ex[:3] == po[:3]
    assert ("\n-smtputf8\n" in ex[3][0]) == ("\n-smtputf8\n" in po[3][0]) == ("a@b" not in args)


BAD_F = ["a b@c", "@c", "a@", "<a@b", "a@b>", "a@b c", '"a@b', "a@[1.2.3", "a@-b", "a@b..c", " ",
         "a@b,c@d", "a@b;", "a@[1.2.3.4]", "<a@[1.2.3.4]>", "a@b.", "a.", "a.b.", " a@b.c.", "(x)a@b.",
         "a@b.(c).", "<a@b>.", "a@s\udce9.test", "@", "a@b. ", "a@b .", "a@b.\t"]
GOOD_F = ["x<a@b>", "Name <a@b>", "a(b", "<>", "", "<> ", "a.@b", "<a@b.>", "a@b.(c)", "user"]


@pytest.mark.parametrize("sender", BAD_F + GOOD_F)
def test_bad_sender_wording(sender):
    arg = os.fsencode(sender)
    ex = submit(EXIM, ["-f", arg, "x@y.test"])
    po = submit(os.environ["POSTERN"], ["-f", arg, "x@y.test"])
    assert ex[:3] == po[:3]
    if sender in BAD_F:
        assert ex[0] == 1 and ex[1].startswith(f'exim: bad -f address "') and ex[2] == []
    else:
        assert ex[0] == 0


@pytest.mark.parametrize("extra,sender,ok", [("allow_domain_literals", "a@[1.2.3.4]", True),
                                             ("strip_trailing_dot", "a@b.", True)])
def test_sender_options(extra, sender, ok):
    for binary in (EXIM, os.environ["POSTERN"]):
        d = make_dir(extra)
        try:
            r = subprocess.run([binary, "-C", str(d / "conf"), "-f", sender, "-bt", "x@y.test"],
                               capture_output=True, text=True, timeout=60)
            assert (r.returncode == 0) == ok, (binary, r.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


BAD_RCPT = ["bad address<", "a@", "@c", "a@b>", '"a', "a@-b", "a b", "x@y, a@", "a@s\udce9.test",
            "x@y,a@,b@c", " a@ ", "<>"]


@pytest.mark.parametrize("rcpt", BAD_RCPT)
def test_bad_recipient_wording(rcpt):
    """-oep: 'exim: bad recipient address "<the whole argument, escaped>": <reason>'."""
    arg = os.fsencode(rcpt)
    ex = submit(EXIM, ["-oep", arg])
    po = submit(os.environ["POSTERN"], ["-oep", arg])
    assert ex[0] == 1 and ex[1].startswith("exim: bad recipient address")
    assert po[:3] == ex[:3]


def test_bad_recipient_mail_escapes_the_argument():
    """-oem: the mail to the sender shows the argument as stderr would."""
    arg = os.fsencode("x@y,a@s\udce9.test")
    texts = []
    for binary in (EXIM, os.environ["POSTERN"]):
        d = make_dir("")
        try:
            subprocess.run([binary, "-C", str(d / "conf"), "-odq", "-oem", "-f", "s@s.test", arg],
                           input=b"Subject: x\n\nbody\n", capture_output=True, timeout=60)
            (dfile,) = (d / "spool" / "input").glob("*-D")
            texts.append(re.search(r"constructed:\n\n(.*)\n", dfile.read_text(errors="surrogateescape")).group(1))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    assert texts[0] == "  x@y,a@s\\351.test  invalid UTF-8 byte sequence"
    assert texts[1] == texts[0]


@pytest.mark.parametrize("sender", ["s@x.test", "<>", "user", "a b@c", "Name <x@y.test>", "a@b."])
def test_be_takes_f(sender):
    """-be checks -f as reception does, and shows it as $sender_address (the caller is then not
    the authenticated sender)."""
    expr = "[$sender_address] [$sender_address_domain] [$sender_address_local_part] [$authenticated_sender]"
    out = []
    for binary in (EXIM, os.environ["POSTERN"]):
        d = make_dir("")
        try:
            r = subprocess.run([binary, "-C", str(d / "conf"), "-f", sender, "-be", expr],
                               capture_output=True, text=True, timeout=60)
            out.append((r.returncode, r.stdout, r.stderr))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    assert out[1] == out[0]


def test_delay_warning_to_utf8_sender():
    """A delay warning for a message from a UTF-8 sender: sent to it, the address escaped in the
    text part, and (unlike a bounce) the usual delivery-status and rfc822-headers types."""
    global CONF
    saved = CONF
    CONF = CONF.replace("  allow_fail\n  data = :fail: nope here", "  allow_defer\n  data = :defer: later please") \
        + "begin retry\n* * F,1d,1m\n"
    smtp = smtp_input("s\u00e9nder@s\u00e9.test", ["<r\u00e9cip@b\u00fccher.test>", "<plain@r.test>"])
    res = []
    try:
        for binary in (EXIM, os.environ["POSTERN"]):
            d = make_dir("delay_warning = 1s:1h")
            try:
                r = subprocess.run([binary, "-C", str(d / "conf"), "-bs"], input=smtp, capture_output=True, timeout=60)
                ident = ID.search(r.stdout.decode(errors="replace").split("250 OK id=")[1]).group(0)
                time.sleep(2.1)   # older than the first delay_warning time
                subprocess.run([binary, "-C", str(d / "conf"), "-M", ident], capture_output=True, timeout=60)
                end = time.time() + 10
                while time.time() < end and len(list((d / "spool" / "input").glob("*-H"))) < 2:
                    time.sleep(0.05)
                res.append((log_lines(d), spool_texts(d, ident)))
            finally:
                shutil.rmtree(d, ignore_errors=True)
    finally:
        CONF = saved
    (ex_h, ex_d), = res[0][1]
    assert "T To: s\u00e9nder@s\u00e9.test" in ex_h and "\n-smtputf8\n" in ex_h
    assert "  r\\303\\251cip@b\\303\\274cher.test\n    Delay reason: later please\n" in ex_d
    assert "Content-type: message/delivery-status\n" in ex_d and "Content-type: text/rfc822-headers\n" in ex_d
    assert res[1] == res[0]
