"""Bounces, delay warnings and success DSNs against Exim 4.96's own (tests/golden/bounce/, made by
record.sh there): the same original message (Exim's -H and -D) and the same failures go through
bounce_tool (tests/unit/bounce), which formats the report and submits it into a spool as the
delivery process does; the -H and -D files must equal Exim's after masking ids, times, dates,
boundaries, the submitting user and header length prefixes (which follow from those). The reports
are also parsed with Python's email package as RFC 3464 DSNs, field by field, with the DSN extra
information that Debian's Exim is not built with."""
import email
import email.policy
import os
import pathlib
import re
import shutil
import subprocess

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "bounce"

# The smtp client keeps a multi-line reply escaped as the log shows it (a backslash and "n"
# between the lines), as Exim does; "\\\\n" here is that backslash-n for bounce_tool.
SMTP550 = "SMTP error from remote mail server after RCPT TO:<{0}>: 550-5.1.1 no such user here\\\\n550 5.1.1 really"
REMOTE = "host=127.0.0.1\tip=127.0.0.1\tport=2526\treply=550-5.1.1 no such user here\\\\n550 5.1.1 really" \
    "\tgreeting=220 sink.example ESMTP scripted\thelo=250-sink.example hello there\ttransport=smtp"
LONG = ("local part bob: is not known here: a long explanation that goes on and on past the "
        "seventy-five character mark to see wrapping")


def remote(addr):
    return f"address={addr}\tmessage={SMTP550.format(addr)}\t{REMOTE}"


def short(addr="bob@short.example"):
    return f"address={addr}\tmessage=no such user here"


# case: (mode, extra main options, address lines in the order the failures happened)
CASES = {
    "short": ("fail", "", [short()]),
    "multi": ("fail", "", ["address=dan@unknown.example\tmessage=Unrouteable address",
                           "address=carol@nomsg.example\tmessage=",
                           f"address=bob@fail.example\tmessage={LONG}", remote("erin@remote.example")]),
    "errto": ("fail", "errors_reply_to = help@example.org\ndsn_from = Bounce Bot <bb@$primary_hostname>\n"
                      "bounce_message_text = Custom text line one.\n", [remote("bob@errto.example")]),
    "big": ("fail", "bounce_return_size_limit = 10K\n", [short()]),
    "nobody": ("fail", "bounce_return_body = false\n", [short()]),
    "nomessage": ("fail", "bounce_return_message = false\n", [short()]),
    "bmfile": ("fail", "bounce_message_file = {tmp}/bmf\n", [short()]),
    "copy": ("fail", "errors_copy = nomatch@x other@pm.example : *@example.org copy@pm.example,$local_part@pm.example\n"
                     "bounce_sender_authentication = mailer-daemon@example.org\n", [short()]),
    "pipe": ("fail", "", ["address=bob@pipe.example\tmessage=Child process of failpipe transport returned 1 from "
                         "command: /bin/sh\ttransport=failpipe\toutput=oops this failed\\nsecond line\\n"]),
    "success": ("success", "", ["address=fay@ok.example\torcpt=rfc822;Fay@OK.example\tflags=4\ttransport=devnull"]),
    "warning": ("warn", "delay_warning = 2s\n",
                ["address=gus@delay.example\tdomain=delay.example\tmessage=SMTP error from remote mail server after "
                 "RCPT TO:<gus@delay.example>: 450 4.2.0 greylisted\thost=127.0.0.1\tip=127.0.0.1\tport=2527"
                 "\treply=450 4.2.0 greylisted\ttransport=smtp"]),
    "success2": ("success", "", ["address=ivy@relay.example\tflags=4\thost=127.0.0.1\tip=127.0.0.1\tport=2528"
                                 "\tconfirmation=250 OK id=xyz\ttransport=smtp"]),
    "warning2": ("warn", "delay_warning = 2s\nerrors_reply_to = help@example.org\n", [
        f"address={a}@delay.example\tdomain=delay.example\tmessage=SMTP error from remote mail server after "
        f"RCPT TO:<{a}@delay.example>: 450 4.2.0 greylisted\thost=127.0.0.1\tip=127.0.0.1\tport=2527"
        "\treply=450 4.2.0 greylisted\ttransport=smtp" for a in ("gus", "hal")]),
}

BMF = ("Subject: Custom failure for $bounce_recipient\nX-Limit: $bounce_return_size_limit\n****\n"
       "Intro paragraph for $bounce_recipient.\n****\nPipe text intro.\n****\n****\n")


@pytest.fixture
def tool(postern_bin):
    p = pathlib.Path(postern_bin).parent / "tests" / "unit" / "bounce" / "bounce_tool"
    if not p.exists():
        pytest.skip("bounce_tool not built")
    return str(p)


def run_case(tool, tmp_path, case, extra_conf="", override=None):
    mode, extra, addrs = CASES[case]
    if override is not None:
        addrs = override
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    (tmp_path / "bmf").write_text(BMF)
    conf = tmp_path / "conf"
    conf.write_text(f"spool_directory = {spool}\nlog_file_path = {tmp_path}/%slog\n"
                    "primary_hostname = mx.example.org\nqualify_domain = example.org\nqueue_only\n"
                    + extra.replace("{tmp}", str(tmp_path)) + extra_conf)
    orig_id = (GOLDEN / f"{case}.orig-H").read_text().split("\n")[0][:-2]
    shutil.copy(GOLDEN / f"{case}.orig-H", tmp_path / f"{orig_id}-H")
    shutil.copy(GOLDEN / f"{case}.orig-D", tmp_path / f"{orig_id}-D")
    env = dict(os.environ)
    if case == "errto":
        env["BOUNCE_TO"] = "pm@pm.example"    # the router's errors_to
    r = subprocess.run([tool, mode, str(conf), str(tmp_path / f"{orig_id}-H"), str(tmp_path / f"{orig_id}-D")],
                       input="\n".join(addrs) + "\n", capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    ids = sorted(p.name[:-2] for p in (spool / "input").glob("*-H"))
    assert len(ids) == 1, ids
    new = ids[0]
    return orig_id, new, (spool / "input" / f"{new}-H").read_text(), (spool / "input" / f"{new}-D").read_text(), \
        (tmp_path / "mainlog").read_text()


def golden_ids(case):
    h = (GOLDEN / f"{case}-H").read_text()
    return h.split("\n")[0][:-2]


ID = r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}"


def mask(text, bounce_id):
    text = text.replace(bounce_id, "BOUNCEID")
    text = re.sub(r"\d+-eximdsn-\d+", "BOUNDARY", text)
    text = re.sub(r"\w{3}, \d+ \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "DATE", text)
    return text


def mask_h(text, bounce_id):
    lines = mask(text, bounce_id).split("\n")
    lines[1] = "USER"          # "Debian-exim 102 105" for Exim (its exim_user), the caller here
    lines[3] = "TIME"
    out = []
    for l in lines:
        # -deliver_firsttime: Exim's files were recorded after a first delivery attempt.
        # -postern_sum: Postern's integrity line (docs/spool.md), which Exim's reader ignores.
        if l.startswith(("-received_time", "-ident ", "-max_received_linelength", "-deliver_firsttime",
                         "-postern_sum ")):
            continue
        l = re.sub(r"^\d{3}([A-Z* ]) ", r"LLL\1 ", l)
        l = re.sub(r"^(LLL. Received: from )\S+", r"\1USER", l)
        out.append(l)
    return "\n".join(out)


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_as_exim(tool, tmp_path, case):
    # Debian's Exim is built without DSN extra information: compare with it switched off.
    _, new, h, d, log = run_case(tool, tmp_path, case, "dsn_extra_information = false\n")
    gid = golden_ids(case)
    assert mask_h(h, new) == mask_h((GOLDEN / f"{case}-H").read_text(), gid)
    assert mask(d, new) == mask((GOLDEN / f"{case}-D").read_text(), gid)


def test_arrival_line(tool, tmp_path):
    orig, new, h, d, log = run_case(tool, tmp_path, "short")
    want = [l for l in (GOLDEN / "short.log").read_text().splitlines() if " <= <> " in l][0]
    got = [l for l in log.splitlines() if " <= <> " in l]
    assert len(got) == 1
    # "<id> <= <> R=<orig> U=<user> P=local S=<size>" as Exim writes it; the size (which differs
    # from Exim's by the user name's and the boundary's lengths) is Exim's rule: the header
    # lengths in -H, the blank line, and the body (the -D file after its first line).
    g = re.sub(r"U=\S+", "U=USER", got[0].split(" ", 2)[2]).replace(new, "ID")
    w = re.sub(r"U=\S+", "U=USER", want).replace(golden_ids("short"), "ID")
    assert re.sub(r"S=\d+", "S=N", g).endswith(re.sub(r"S=\d+", "S=N", w)), (g, w)
    size = sum(int(m.group(1)) for m in re.finditer(r"(?m)^(\d{3})[A-Z ] ", h)) + 1 + len(d.split("\n", 1)[1])
    assert g.endswith(f" S={size}")


def parse(h_text, d_text):
    headers = "".join(re.sub(r"^\d{3}[A-Z* ] ", "", blk, flags=re.M)
                      for blk in re.split(r"(?m)^(?=\d{3}[A-Z* ] )", h_text.split("\n\n", 1)[1]))
    body = d_text.split("\n", 1)[1]
    return email.message_from_string(headers + "\n" + body, policy=email.policy.compat32)


def test_dsn_parse_with_extra_information(tool, tmp_path):
    _, _, h, d, _ = run_case(tool, tmp_path, "multi")
    msg = parse(h, d)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Failed-Recipients"].split(",")[0] == "erin@remote.example"
    text, status, returned = msg.get_payload()
    assert text.get_content_type() == "text/plain"
    assert status.get_content_type() == "message/delivery-status"
    assert returned.get_content_type() == "text/rfc822-headers"   # RET=HDRS in the original
    blocks = status.get_payload()
    assert blocks[0]["Reporting-MTA"] == "dns; mx.example.org"
    assert blocks[0]["Original-Envelope-ID"] == "env+2Bid123"
    rcpts = blocks[1:]
    assert [b["Final-Recipient"] for b in rcpts] == [
        "rfc822;dan@unknown.example", "rfc822;carol@nomsg.example", "rfc822;bob@fail.example",
        "rfc822;erin@remote.example"]
    assert all(b["Action"] == "failed" and b["Status"] == "5.0.0" for b in rcpts)
    erin = rcpts[3]
    assert erin.get_all("Remote-MTA") == ["dns; 127.0.0.1", "X-ip; [127.0.0.1]:2526"]
    assert erin["X-Remote-MTA-smtp-greeting"] == "X-str; 220 sink.example ESMTP scripted"
    assert erin["X-Remote-MTA-helo-response"] == "X-str; 250-sink.example hello there"
    assert erin["X-Exim-Diagnostic"].startswith(
        "X-str; SMTP error from remote mail server after RCPT TO:<erin@remote.example>: 550-5.1.1")
    assert erin["Diagnostic-Code"].replace("\n", "") == "smtp; 550-5.1.1 no such user here 550 5.1.1 really"
    # The fields come in the order facts §7 gives.
    order = [k for k in erin.keys()]
    assert order == ["Action", "Final-Recipient", "Status", "Remote-MTA", "Remote-MTA",
                     "X-Remote-MTA-smtp-greeting", "X-Remote-MTA-helo-response", "X-Exim-Diagnostic",
                     "Diagnostic-Code"]
    for b in rcpts[:3]:
        assert b["Remote-MTA"] is None and b["Diagnostic-Code"] is None


def test_original_recipient_and_success_dsn(tool, tmp_path):
    _, _, h, d, _ = run_case(tool, tmp_path, "success")
    msg = parse(h, d)
    assert msg["Subject"] == "Delivery Status Notification"
    assert msg["Auto-Submitted"] == "auto-generated"
    blocks = msg.get_payload()[1].get_payload()
    assert blocks[0]["Original-Envelope-ID"] == "xyz"
    assert blocks[1]["Original-Recipient"] == "rfc822;Fay@OK.example"
    assert blocks[1]["Action"] == "delivered" and blocks[1]["Status"] == "2.0.0"


def test_warning_not_due(tool, tmp_path):
    (tmp_path / "spool").mkdir()
    mode, extra, addrs = CASES["warning"]
    conf = tmp_path / "conf"
    conf.write_text(f"spool_directory = {tmp_path}/spool\nlog_file_path = {tmp_path}/%slog\n"
                    "primary_hostname = mx.example.org\nqueue_only\ndelay_warning = 30m:3h\n")
    orig = GOLDEN / "warning.orig-H"
    for age, sent in (("600", False), ("1900", True)):
        r = subprocess.run([tool, "warn", str(conf), str(orig), str(GOLDEN / "warning.orig-D"), age],
                           input=addrs[0] + "\n", capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert (r.stdout.strip() != "none") == sent
    subj = [l for p in (tmp_path / "spool" / "input").glob("*-H") for l in p.read_text().splitlines()
            if "Subject:" in l]
    assert len(subj) == 1 and subj[0].endswith("delayed 30 minutes")
    # A list-like message gets no warning (delay_warning_condition's default).
    conf.write_text(conf.read_text() + "delay_warning_condition = ${if eq{$domain}{delay.example}{no}{yes}}\n")
    r = subprocess.run([tool, "warn", str(conf), str(orig), str(GOLDEN / "warning.orig-D"), "3700"],
                       input=addrs[0] + "\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "none"


# ---- end to end: the delivery process sends the reports ----

E2E_CONF = """spool_directory = {tmp}/spool
log_file_path = {tmp}/%slog
primary_hostname = mx.example.org
qualify_domain = example.org
exim_user = root
exim_group = root
begin routers
short:
  driver = redirect
  domains = short.example
  data = :fail: no such user here
  allow_fail
remote:
  driver = manualroute
  domains = remote.example
  route_list = * 127.0.0.1::{port} byname
  transport = smtp
  self = send
local:
  driver = redirect
  domains = example.org
  allow_defer
  data = :defer: held for inspection
begin transports
smtp:
  driver = smtp
  allow_localhost
begin retry
# A rule, so the report held by :defer: stays on the queue: without one Exim 4.96 fails it by
# retry timeout at once and, being a report, drops it ("error ignored", checked live).
* * F,1h,1h
"""


class Rcpt550Server:
    """Greets, answers EHLO, and rejects every RCPT with a two-line 550."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(10)
            f = c.makefile("rb")
            c.sendall(b"220 sink.example ESMTP scripted\r\n")
            try:
                for line in f:
                    u = line.decode(errors="replace").strip().upper()
                    if u.startswith("EHLO"):
                        c.sendall(b"250-sink.example hello there\r\n250 PIPELINING\r\n")
                    elif u.startswith("MAIL"):
                        c.sendall(b"250 OK\r\n")
                    elif u.startswith("RCPT"):
                        c.sendall(b"550-5.1.1 no such user here\r\n550 5.1.1 really\r\n")
                    elif u.startswith("QUIT"):
                        c.sendall(b"221 bye\r\n")
                        break
                    else:
                        c.sendall(b"503 no\r\n")
            except OSError:
                pass
            c.close()

    def close(self):
        # As test_smtp_reuse.Sink.close: the accepting thread must be gone before the
        # descriptor is closed, or a thread re-entering accept() with a descriptor number a later
        # test's server has been given takes that test's connections. shutdown() wakes it.
        import socket
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(15)
        self.sock.close()


def spool_reports(tmp_path, orig_sender_line="<>"):
    out = []
    for h in (tmp_path / "spool" / "input").glob("*-H"):
        text = h.read_text()
        if text.split("\n")[2] == orig_sender_line:
            out.append((text, h.with_name(h.name[:-2] + "-D").read_text()))
    return out


def test_delivery_bounces_remote_550_with_extra_information(postern_bin, tmp_path):
    srv = Rcpt550Server()
    try:
        (tmp_path / "spool").mkdir()
        conf = tmp_path / "conf"
        conf.write_text(E2E_CONF.format(tmp=tmp_path, port=srv.port))
        r = subprocess.run([postern_bin, "-C", str(conf), "-odi", "-f", "alice@example.org",
                            "erin@remote.example", "bob@short.example"],
                           input="From: a@example.org\nSubject: e2e\n\nbody\n", capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        srv.close()
    log = (tmp_path / "mainlog").read_text()
    orig = re.search(r" (" + ID + r") <= alice@example.org ", log).group(1)
    assert re.search(r" (" + ID + r") <= <> R=" + orig + r" U=\S+ P=local S=\d+\n", log), log
    reports = spool_reports(tmp_path)
    assert len(reports) == 1, log
    msg = parse(*reports[0])
    assert msg["Subject"] == "Mail delivery failed: returning message to sender"
    assert msg["To"] == "alice@example.org"
    assert sorted(a.strip() for a in msg["X-Failed-Recipients"].split(",")) == \
        ["bob@short.example", "erin@remote.example"]
    text, status, returned = msg.get_payload()
    assert "  bob@short.example\n    no such user here\n" in text.get_payload()
    assert ("  erin@remote.example\n    host 127.0.0.1 [127.0.0.1]\n    SMTP error from remote mail server "
            "after RCPT TO:<erin@remote.example>:\n    550-5.1.1 no such user here\n    550 5.1.1 really\n") \
        in text.get_payload()
    erin = [b for b in status.get_payload()[1:] if b["Final-Recipient"] == "rfc822;erin@remote.example"][0]
    assert erin.get_all("Remote-MTA") == ["dns; 127.0.0.1", f"X-ip; [127.0.0.1]:{srv.port}"]
    assert erin["X-Remote-MTA-smtp-greeting"] == "X-str; 220 sink.example ESMTP scripted"
    assert erin["X-Remote-MTA-helo-response"] == "X-str; 250-sink.example hello there"
    assert erin["X-Exim-Diagnostic"] == ("X-str; SMTP error from remote mail server after "
                                         "RCPT TO:<erin@remote.example>: 550-5.1.1 no such user here\\n550 5.1.1 really")
    assert erin["Diagnostic-Code"] == "smtp; 550-5.1.1 no such user here\n 550 5.1.1 really"
    assert returned.get_content_type() == "message/rfc822"
    assert returned.get_payload()[0]["Subject"] == "e2e"


def test_not_smtp_acl_runs_for_reports(tool, tmp_path):
    """Exim 4.96 runs acl_not_smtp for the messages it makes: a deny is logged as Exim logs it
    and the report is not spooled (the delivery process then freezes the message); accept's
    add_header lands in the report."""
    acl = ("acl_not_smtp = acl_ns\nbegin acl\nacl_ns:\n  deny senders = :\n       condition = {cond}\n"
           "       message = no bounces here\n  accept add_header = X-Checked: yes\n")
    mode, extra, addrs = CASES["short"]
    for cond, rejected in (("yes", True), ("no", False)):
        d = tmp_path / cond
        d.mkdir()
        (d / "spool").mkdir()
        conf = d / "conf"
        conf.write_text(f"spool_directory = {d}/spool\nlog_file_path = {d}/%slog\n"
                        "primary_hostname = mx.example.org\nqueue_only\n" + acl.format(cond=cond))
        r = subprocess.run([tool, "fail", str(conf), str(GOLDEN / "short.orig-H"), str(GOLDEN / "short.orig-D")],
                           input=addrs[0] + "\n", capture_output=True, text=True, timeout=30)
        log = (d / "mainlog").read_text()
        heads = list((d / "spool" / "input").glob("*-H"))
        if rejected:
            assert r.returncode == 1 and r.stderr.strip() == "failed: 1"
            assert "F=<> rejected by non-SMTP ACL: no bounces here" in log
            orig = (GOLDEN / "short.orig-H").read_text().split("\n")[0][:-2]
            assert (f"Error while reading message with no usable sender address (R={orig}): "
                    "rejected by non-SMTP ACL: no bounces here") in log
            assert heads == [] and list((d / "spool" / "input").glob("*-D")) == []
        else:
            assert r.returncode == 0, r.stderr
            assert len(heads) == 1 and "X-Checked: yes\n" in heads[0].read_text()
