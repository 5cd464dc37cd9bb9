"""Postern's SMTP client engine beside Exim 4.96's smtp transport, both talking to the same
scripted server: the commands sent, the message bytes and each recipient's outcome (status,
Exim's error number and error text) must be the same. Exim runs as the real client (Debian's
exim4-daemon-heavy, -odi delivery through a manualroute router)."""
import os
import re
import shutil

import pytest

from smtpclient_helpers import (ScriptedServer, exim_outcomes, exim_send, lf_message, probe_bin,
                                probe_send)

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

MESSAGE = "From: a@b\nSubject: t\n\nline1\n.dot\nline3\n"
RCPTS = ["rcpt1@r.test", "rcpt2@r.test"]
EHLO_FULL = "250-fake hello\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-DSN\r\n250 SMTPUTF8\r\n"

SCENARIOS = {
    "accept_and_550_multiline": ("220 fake ESMTP\r\n", [
        ("EHLO", EHLO_FULL), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("RCPT", "550-5.1.1 no such\r\n550 5.1.1 user here\r\n"), ("DATA", "354 go\r\n"),
        ("BODY", "250 OK id=123\r\n")]),
    "chunking_and_451_rcpt": ("220 fake ESMTP\r\n", [
        ("EHLO", "250-fake hello\r\n250-SIZE\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 DSN\r\n"),
        ("MAIL", "250 ok\r\n"), ("RCPT", "451 4.7.1 later\r\n"), ("RCPT", "250 ok\r\n"),
        ("BDAT", "250 OK chunked\r\n")]),
    "ehlo_refused_helo_mail_451": ("220 fake ESMTP\r\n", [
        ("EHLO", "550 no ehlo\r\n"), ("HELO", "250 hi\r\n"), ("MAIL", "451 4.3.0 mail later\r\n")]),
    "greeting_554": ("554-go away\r\n554 really\r\n", []),
    "closed_after_data": ("220 fake ESMTP\r\n", [
        ("EHLO", "250 fake\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("DATA", "354 go\r\n"), ("BODY", None)]),
    "pipelined_mail_550": ("220 fake ESMTP\r\n", [
        ("EHLO", "250-fake hello\r\n250-SIZE 1000000\r\n250 PIPELINING\r\n"),
        ("MAIL", "550 5.7.1 mail rejected\r\n"), ("RCPT", "503 no mail\r\n"), ("RCPT", "503 no mail\r\n"),
        ("DATA", "503 no rcpt\r\n")]),
    "closed_at_rcpt": ("220 fake ESMTP\r\n", [
        ("EHLO", "250-fake hello\r\n250 SIZE 1000000\r\n"), ("MAIL", "250 ok\r\n"),
        ("RCPT", "250 ok\r\n"), ("RCPT", None)]),
    "malformed_reply": ("220 fake ESMTP\r\n", [
        ("EHLO", "250-fake hello\r\n250 SIZE 1000000\r\n"), ("MAIL", "250 ok\r\n"),
        ("RCPT", "garbage here\r\n")]),
    "timeout_after_end_of_data": ("220 fake ESMTP\r\n", [
        ("EHLO", "250 fake\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("DATA", "354 go\r\n"), ("BODY", ""), ("QUIT", None)]),
    "timeout_at_greeting": ("", [("EHLO", None)]),
    "pipelined_data_452": ("220 fake ESMTP\r\n", [
        ("EHLO", "250-fake hello\r\n250 PIPELINING\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("RCPT", "550 no\r\n"), ("DATA", "452 4.3.1 no space\r\n")]),
    "pipelined_bdat_554": ("220 fake ESMTP\r\n", [
        ("EHLO", "250-fake hello\r\n250-PIPELINING\r\n250 CHUNKING\r\n"), ("MAIL", "250 ok\r\n"),
        ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("BDAT", "554 5.6.0 bad content\r\n")]),
    "empty_reply_line": ("220 fake ESMTP\r\n", [
        ("EHLO", "250 fake\r\n"), ("MAIL", "\r\n")]),
    "greeting_closed": ("", [("CLOSE", None)]),
    "closed_after_ehlo": ("220 fake\r\n", [("EHLO", "250 fake\r\n"), ("CLOSE", None)]),
    "data_452": ("220 fake ESMTP\r\n", [
        ("EHLO", "250 fake\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("DATA", "452 4.3.1 no space\r\n")]),
    "final_554": ("220 fake ESMTP\r\n", [
        ("EHLO", "250-fake\r\n250 PIPELINING\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"), ("BODY", "554 5.7.0 content rejected\r\n")]),
    # The HELO reply is longer than the EHLO reply: with a shorter one Exim 4.96 shows leftover
    # bytes of the EHLO reply in its message ("421 down1 what is this"), a bug not copied.
    # Not compared: an error reply to HELO after a refused EHLO. Exim 4.96 shows stale bytes of
    # an earlier reply after the HELO reply in its message ("421 down1 what is this" for "421
    # down"), a buffer bug Postern does not copy; tests/unit/smtpclient covers the case.
}


def normalise(body):
    """Exim's message ids and times differ between runs; everything else must be equal."""
    body = re.sub(rb"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", b"ID", body)
    return re.sub(rb"\d\d:\d\d:\d\d", b"TIME", body)


@pytest.fixture(scope="module")
def exim_message(tmp_path_factory):
    """The message as Exim sends it (with its Received:, Message-Id: and Date:), so the probe
    sends the same bytes and SIZE= matches."""
    srv = ScriptedServer(*SCENARIOS["accept_and_550_multiline"])
    exim_send(tmp_path_factory.mktemp("cap"), srv.port, MESSAGE, RCPTS)
    srv.wait()
    assert srv.body, "Exim sent no message"
    return lf_message(srv.body)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_as_exim(name, tmp_path, exim_message):
    assert os.path.exists(probe_bin())
    greeting, steps = SCENARIOS[name]
    ex = ScriptedServer(greeting, steps)
    exim_lines = exim_send(tmp_path, ex.port, MESSAGE, RCPTS)
    ex.wait()
    pr = ScriptedServer(greeting, steps)
    facts, msgs = probe_send(pr.port, exim_message, RCPTS)
    pr.wait()

    assert pr.lines == ex.lines
    if ex.body:
        # Exim's message has its own ids and dates; the probe sent the captured copy, so compare
        # the framing (line ends, dot-stuffing, length) rather than the header values.
        assert normalise(pr.body) == normalise(ex.body)
    want = exim_outcomes(exim_lines)
    got = {r: (s, e, t) for r, (s, e, c, t) in msgs[0].items()}
    for r in RCPTS:
        ws, we, wt = want[r]
        gs, ge, gt = got[r]
        assert (gs, gt) == (ws, wt), r
        if ws == "DEFER":
            assert ge == we, r


def test_dsn_and_smtputf8_parameters_as_exim(tmp_path):
    """RET, ENVID, NOTIFY, ORCPT and SMTPUTF8 received by Exim (-bs) are passed on; the probe,
    given the same envelope, sends the same MAIL and RCPT commands (and no BODY=8BITMIME: Exim
    does not keep it in the spool)."""
    greeting, steps = "220 fake ESMTP\r\n", [
        ("EHLO", EHLO_FULL), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("DATA", "354 go\r\n"), ("BODY", "250 OK id=123\r\n")]
    smtp = ("EHLO x\r\nMAIL FROM:<sender@s.test> RET=HDRS ENVID=abc+2Bdef BODY=8BITMIME SMTPUTF8\r\n"
            "RCPT TO:<rcpt1@r.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig+2Bx@r.test\r\n"
            "RCPT TO:<rcpt2@r.test> NOTIFY=NEVER\r\nDATA\r\nSubject: t\r\n\r\nb\xc3\xa9\r\n.\r\nQUIT\r\n")
    ex = ScriptedServer(greeting, steps)
    exim_lines = exim_send(tmp_path, ex.port, None, RCPTS, smtp_input=smtp)
    ex.wait()
    assert [f for f, _, _ in exim_lines] == ["=>", "->"]
    pr = ScriptedServer(greeting, steps)
    facts, msgs = probe_send(pr.port, lf_message(ex.body), RCPTS, args=[
        "-envid", "abc+def", "-ret", "hdrs", "-utf8", "-8bit", "-notify", "0:s,d",
        "-orcpt", "0:rfc822;orig+x@r.test", "-notify", "1:never"])
    pr.wait()
    # BODY=8BITMIME is what the probe was asked for; Exim never sends it from the spool.
    assert pr.lines[1] == ex.lines[1].replace(" SMTPUTF8", " BODY=8BITMIME SMTPUTF8")
    assert pr.lines[:1] + pr.lines[2:] == ex.lines[:1] + ex.lines[2:]
    assert pr.body == ex.body
    assert [v[0] for v in msgs[0].values()] == ["OK", "OK"]


def test_lmtp_as_exim(tmp_path, exim_message):
    """protocol = lmtp: LHLO, and one reply per accepted recipient after the data."""
    greeting, steps = "220 lmtp\r\n", [
        ("LHLO", "250-lmtp\r\n250 PIPELINING\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"),
        ("BODY", "250 2.0.0 first done\r\n452 4.2.2 second over quota\r\n")]
    ex = ScriptedServer(greeting, steps)
    exim_lines = exim_send(tmp_path, ex.port, MESSAGE, RCPTS, extra=f"  protocol = lmtp\n  port = {ex.port}")
    ex.wait()
    pr = ScriptedServer(greeting, steps)
    facts, msgs = probe_send(pr.port, exim_message, RCPTS, args=["-lmtp"])
    pr.wait()
    assert pr.lines == ex.lines
    want = exim_outcomes(exim_lines)
    got = {r: (s, e, t) for r, (s, e, c, t) in msgs[0].items()}
    assert got == {r: want[r] if want[r][0] == "DEFER" else (want[r][0], 0, want[r][2]) for r in RCPTS}


AUTHS = ("cram:\n  driver = cram_md5\n  public_name = CRAM-MD5\n  client_name = tim\n"
         "  client_secret = tanstaaftanstaaf\n"
         "login:\n  driver = plaintext\n  public_name = LOGIN\n  client_send = : userx : $auth1-secret\n")
AUTH_SCENARIOS = {
    "login_ok": [("EHLO", "250-mx\r\n250-PIPELINING\r\n250 AUTH LOGIN\r\n"), ("AUTH", "334 VXNlcm5hbWU6\r\n"),
                 ("", "334 UGFzc3dvcmQ6\r\n"), ("", "235 ok\r\n"), ("MAIL", "250 ok\r\n"),
                 ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"), ("BODY", "250 OK\r\n")],
    "cram_refused_login_ok": [
        ("EHLO", "250-mx\r\n250 AUTH CRAM-MD5 LOGIN\r\n"),
        ("AUTH", "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"), ("", "535 no\r\n"),
        ("AUTH", "334 VXNlcm5hbWU6\r\n"), ("", "334 UGFzc3dvcmQ6\r\n"), ("", "235 ok\r\n"),
        ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"),
        ("BODY", "250 OK\r\n")],
    "all_refused": [("EHLO", "250-mx\r\n250 AUTH CRAM-MD5\r\n"),
                    ("AUTH", "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"), ("", "535 no\r\n")],
    "no_common_mechanism": [("EHLO", "250-mx\r\n250 AUTH GSSAPI\r\n")],
    "not_advertised": [("EHLO", "250 mx\r\n")],
    "auth_454": [("EHLO", "250-mx\r\n250 AUTH LOGIN\r\n"), ("AUTH", "454 4.7.0 later\r\n")],
}


@pytest.mark.parametrize("name", sorted(AUTH_SCENARIOS))
def test_client_auth_as_exim(name, tmp_path, exim_message):
    """hosts_require_auth with cram_md5 and plaintext (LOGIN) clients: the exchange, AUTH= on
    MAIL, and the texts when authentication cannot be done."""
    steps = AUTH_SCENARIOS[name]
    ex = ScriptedServer("220 mx\r\n", steps)
    exim_lines = exim_send(tmp_path, ex.port, MESSAGE, RCPTS, extra="  hosts_require_auth = *", auths=AUTHS)
    ex.wait()
    conf = tmp_path / "client.conf"
    conf.write_text("primary_hostname = client.test\nbegin authenticators\n" + AUTHS)
    pr = ScriptedServer("220 mx\r\n", steps)
    facts, msgs = probe_send(pr.port, exim_message, RCPTS, args=["-C", str(conf), "-requireauth"])
    pr.wait()
    assert pr.lines == ex.lines
    want = exim_outcomes(exim_lines)
    got = {r: (s, e, t) for r, (s, e, c, t) in msgs[0].items()}
    for r in RCPTS:
        assert (got[r][0], got[r][2]) == (want[r][0], want[r][2]), r
        if want[r][0] == "DEFER":
            assert got[r][1] == want[r][1], r


@pytest.mark.parametrize("event", ["tcp:connect", "smtp:connect"])
def test_refusing_event_as_exim(event, tmp_path, exim_message):
    """event_action with a non-empty result: tcp:connect prevents the connection, smtp:connect
    closes it after the banner; texts and error numbers as Exim's."""
    steps = [("EHLO", "250 mx\r\n")]
    extra = "  event_action = ${if eq{$event_name}{%s}{refuse}{}}" % event
    ex = ScriptedServer("220 mx\r\n", steps)
    exim_lines = exim_send(tmp_path, ex.port, MESSAGE, RCPTS, extra=extra)
    pr = ScriptedServer("220 mx\r\n", steps)
    facts, msgs = probe_send(pr.port, exim_message, RCPTS, args=["-event", event])
    if event == "tcp:connect":
        ex.abandon()
        pr.abandon()
        assert facts["event"] == ["tcp:connect "]
    else:
        ex.wait()
        pr.wait()
        assert facts["event"] == ["tcp:connect ", "smtp:connect 220 mx", "tcp:close "] or \
            facts["event"] == ["smtp:connect 220 mx", "tcp:close "]
    assert pr.lines == ex.lines
    want = exim_outcomes(exim_lines)
    got = {r: (s, e, t) for r, (s, e, c, t) in msgs[0].items()}
    assert got == want


@pytest.mark.parametrize("body_bytes", [3000, 7900, 40000, 200000])
def test_chunk_layout_as_exim(body_bytes, tmp_path):
    """CHUNKING: a message that fits Exim's 8 KiB buffer goes as one BDAT LAST; a larger one as
    "BDAT <headers>" then "BDAT <body> LAST", with the same sizes as Exim's."""
    body = "".join(f".{i} " + "x" * (i % 90) + "\n" for i in range(100000))
    body = body[:body.rindex("\n", 0, body_bytes) + 1]
    steps = [("EHLO", "250-fake\r\n250-PIPELINING\r\n250 CHUNKING\r\n"), ("MAIL", "250 ok\r\n"),
             ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("BDAT", "250 first\r\n"), ("BDAT", "250 second\r\n")]
    ex = ScriptedServer("220 mx\r\n", steps)
    exim_lines = exim_send(tmp_path, ex.port, "Subject: big\n\n" + body, RCPTS)
    ex.wait()
    pr = ScriptedServer("220 mx\r\n", steps)
    facts, msgs = probe_send(pr.port, lf_message(ex.body, stuffed=False), RCPTS)
    pr.wait()
    assert [l for l in pr.lines if l.startswith("BDAT")] == [l for l in ex.lines if l.startswith("BDAT")]
    assert pr.lines == ex.lines
    assert normalise(pr.body) == normalise(ex.body)
    want = exim_outcomes(exim_lines)
    assert {r: (s, e, t) for r, (s, e, c, t) in msgs[0].items()} == want


@pytest.mark.parametrize("force,auth", [(True, False), (False, True), (True, True), (False, False)])
def test_authenticated_sender_as_exim(force, auth, tmp_path, exim_message):
    """authenticated_sender (with and without _force, authenticated or not): the AUTH= on MAIL."""
    steps = [("EHLO", "250-mx\r\n250 AUTH LOGIN\r\n")]
    if auth:
        steps += [("AUTH", "334 VXNlcm5hbWU6\r\n"), ("", "334 UGFzc3dvcmQ6\r\n"), ("", "235 ok\r\n")]
    steps += [("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"),
              ("BODY", "250 OK\r\n")]
    extra = "  authenticated_sender = a+b@s.test\n" + ("  authenticated_sender_force = true\n" if force else "")
    if auth:
        extra += "  hosts_try_auth = *\n"
    ex = ScriptedServer("220 mx\r\n", steps)
    exim_send(tmp_path, ex.port, MESSAGE, RCPTS, extra=extra, auths=AUTHS)
    ex.wait()
    conf = tmp_path / "client.conf"
    conf.write_text("primary_hostname = client.test\nbegin authenticators\n" + AUTHS)
    args = ["-C", str(conf), "-authsender", "a+b@s.test"] + (["-authforce"] if force else []) + \
        (["-tryauth"] if auth else [])
    pr = ScriptedServer("220 mx\r\n", steps)
    probe_send(pr.port, exim_message, RCPTS, args=args)
    pr.wait()
    assert pr.lines == ex.lines

