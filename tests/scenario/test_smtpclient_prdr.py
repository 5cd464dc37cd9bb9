"""PRDR in the SMTP client engine beside Exim 4.96's smtp transport: both talk to the same
scripted server, which offers PRDR and answers per recipient after the data. The commands sent
(MAIL ... PRDR only with more than one recipient), and each recipient's status, error number
and text (Exim's "PRDR error after DATA: ...", the overall reply after a recipient's own) must
be the same."""
import os
import re
import shutil

import pytest

from smtpclient_helpers import ScriptedServer, exim_outcomes, exim_send, lf_message, probe_send

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

MESSAGE = "From: a@b\nSubject: t\n\nline1\n.dot\nline3\n"
R3 = ["rcpt1@r.test", "rcpt2@r.test", "rcpt3@r.test"]
EHLO = "250-fake hello\r\n250-SIZE 1000000\r\n250-PIPELINING\r\n250 PRDR\r\n"
EHLO_CHUNK = "250-fake hello\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 PRDR\r\n"


def steps(n, after_data, ehlo=EHLO):
    s = [("EHLO", ehlo), ("MAIL", "250 ok\r\n")] + [("RCPT", "250 ok\r\n")] * n
    if "CHUNKING" in ehlo:
        return s + [("BDAT", after_data)]
    return s + [("DATA", "354 go\r\n"), ("BODY", after_data)]


# name: (recipients, steps)
SCENARIOS = {
    # one delivered, one failed, one deferred; multi-line replies
    "mixed": (3, steps(3, "353 PRDR go\r\n250 ok1\r\n550-5.1.1 no\r\n550 5.1.1 more\r\n"
                          "451 4.0.0 later\r\n250 final ok\r\n")),
    "all_accepted": (2, steps(2, "353 go\r\n250-a1\r\n250 a2\r\n250 b\r\n250 fin\r\n")),
    # the overall reply decides: 5xx fails everyone, 4xx defers the accepted ones
    "final_550": (2, steps(2, "353 go\r\n250 a\r\n550 b\r\n550 fin bad\r\n")),
    "final_451": (3, steps(3, "353 go\r\n250 a\r\n550 b\r\n451 c\r\n451 fin later\r\n")),
    # the server did not start PRDR after all: an ordinary reply for everyone
    "no_353": (2, steps(2, "250 plain\r\n")),
    # one recipient: no PRDR on MAIL
    "single_rcpt": (1, steps(1, "250 ok\r\n")),
    # CHUNKING: the error names the BDAT command
    "chunking": (2, steps(2, "353 go\r\n250 a\r\n550 b\r\n250 fin\r\n", EHLO_CHUNK)),
    # a refused recipient is not asked about after the data
    "rcpt_refused": (3, [("EHLO", EHLO), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
                         ("RCPT", "550 no such\r\n"), ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"),
                         ("BODY", "353 go\r\n250 a\r\n452 c\r\n250 fin\r\n")]),
}


def normalise(body):
    body = re.sub(rb"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", b"ID", body)
    return re.sub(rb"\d\d:\d\d:\d\d", b"TIME", body)


def exim_c_field(text):
    """C="..." in Exim's log doubles the backslashes of the printable reply."""
    return text.replace("\\\\", "\\")


@pytest.fixture(scope="module")
def exim_message(tmp_path_factory):
    """The message as Exim sends it, by number of recipients (its Received: names a single
    recipient), so that the probe sends the same bytes and SIZE=."""
    out = {}
    for n in (1, 2):
        srv = ScriptedServer("220 fake ESMTP\r\n", steps(n, "250 ok\r\n"))
        exim_send(tmp_path_factory.mktemp("cap"), srv.port, MESSAGE, R3[:n])
        srv.wait()
        assert srv.body, "Exim sent no message"
        out[n] = lf_message(srv.body)
    out[3] = out[2]
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_prdr_as_exim(name, tmp_path, exim_message):
    n, script = SCENARIOS[name]
    rcpts = R3[:n]
    ex = ScriptedServer("220 fake ESMTP\r\n", script)
    exim_lines = exim_send(tmp_path, ex.port, MESSAGE, rcpts)
    ex.wait()
    pr = ScriptedServer("220 fake ESMTP\r\n", script)
    facts, msgs = probe_send(pr.port, exim_message[n], rcpts)
    pr.wait()

    assert pr.lines == ex.lines
    assert normalise(pr.body) == normalise(ex.body)
    want = exim_outcomes(exim_lines)
    got = {r: (s, e, t) for r, (s, e, c, t) in msgs[0].items()}
    for r in rcpts:
        ws, we, wt = want[r]
        gs, ge, gt = got[r]
        if ws == "OK":
            wt = exim_c_field(wt)
        assert (gs, gt) == (ws, wt), r
        if ws == "DEFER":
            assert ge == we, r
    # Exim's => line says PRDR when the transaction used it; the probe reports the same.
    exim_prdr = {r for f, r, rest in exim_lines if f in ("=>", "->") and " PRDR " in rest}
    probe_prdr = {r for r in facts.get("prdr", []) if got[r][0] == "OK"}
    assert probe_prdr == exim_prdr


def test_noprdr_option(tmp_path, exim_message):
    """hosts_try_prdr not matching the host: no PRDR on MAIL (as Exim with hosts_try_prdr =)."""
    script = steps(2, "250 plain\r\n")
    ex = ScriptedServer("220 fake ESMTP\r\n", script)
    exim_send(tmp_path, ex.port, MESSAGE, R3[:2], extra="  hosts_try_prdr =")
    ex.wait()
    pr = ScriptedServer("220 fake ESMTP\r\n", script)
    facts, msgs = probe_send(pr.port, exim_message[2], R3[:2], args=["-noprdr"])
    pr.wait()
    assert pr.lines == ex.lines
    assert "PRDR" not in pr.lines[1]
    assert "prdr" not in facts


AUTHS = ("login:\n  driver = plaintext\n  public_name = LOGIN\n  client_send = : userx : $auth1-secret\n")


def test_mail_parameter_order_as_exim(tmp_path):
    """SIZE, PRDR, SMTPUTF8, RET, ENVID, AUTH: the order of Exim 4.96's MAIL parameters."""
    ehlo = ("250-fake hello\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-DSN\r\n"
            "250-PRDR\r\n250-AUTH LOGIN\r\n250 SMTPUTF8\r\n")
    script = [("EHLO", ehlo), ("AUTH", "334 VXNlcm5hbWU6\r\n"), ("", "334 UGFzc3dvcmQ6\r\n"),
              ("", "235 ok\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
              ("DATA", "354 go\r\n"), ("BODY", "353 x\r\n250 a\r\n250 b\r\n250 c\r\n")]
    smtp = ("EHLO x\r\nMAIL FROM:<sender@s.test> RET=HDRS ENVID=abc+2Bdef SMTPUTF8\r\n"
            "RCPT TO:<rcpt1@r.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig+2Bx@r.test\r\n"
            "RCPT TO:<rcpt2@r.test> NOTIFY=NEVER\r\nDATA\r\nSubject: t\r\n\r\nb\xc3\xa9\r\n.\r\nQUIT\r\n")
    ex = ScriptedServer("220 mx\r\n", script)
    exim_lines = exim_send(tmp_path, ex.port, None, [], smtp_input=smtp, auths=AUTHS,
                           extra="  hosts_require_auth = *\n  authenticated_sender = au@s.test")
    ex.wait()
    assert [f for f, _, _ in exim_lines] == ["=>", "->"]
    conf = tmp_path / "client.conf"
    conf.write_text("primary_hostname = client.test\nbegin authenticators\n" + AUTHS)
    pr = ScriptedServer("220 mx\r\n", script)
    facts, msgs = probe_send(pr.port, lf_message(ex.body), R3[:2], args=[
        "-C", str(conf), "-requireauth", "-authsender", "au@s.test", "-envid", "abc+def", "-ret", "hdrs",
        "-utf8", "-notify", "0:s,d", "-orcpt", "0:rfc822;orig+x@r.test", "-notify", "1:never"])
    pr.wait()
    assert ex.lines[4].endswith(" PRDR SMTPUTF8 RET=HDRS ENVID=abc+2Bdef AUTH=au@s.test")
    assert pr.lines == ex.lines
    assert [v[3] for v in msgs[0].values()] == ["250 a\\n250 c", "250 b\\n250 c"]


PRDR_MAIN = "prdr_enable = true\nacl_smtp_data_prdr = acl_prdr\n"
PRDR_ACL = ("acl_prdr:\n  deny local_parts = refuse\n       message = 5.7.1 not for $local_part\n"
            "  defer local_parts = later\n        message = 4.2.0 $local_part later\n  accept\n")


@pytest.mark.parametrize("chunk", ["*", ""])
@pytest.mark.parametrize("kind", ["exim", "postern"])
def test_prdr_against_daemons(kind, chunk, tmp_path):
    """Exim 4.96's and Postern's daemons with prdr_enable and an acl_smtp_data_prdr: the engine
    asks for PRDR and gets one accepted, one refused and one deferred recipient; the server keeps
    the message for the accepted one only."""
    from test_smtpclient_daemon import Server, client_conf
    srv = Server(kind, chunk=chunk, main=PRDR_MAIN, acls=PRDR_ACL)
    try:
        rcpts = ["good@r.test", "refuse@r.test", "later@r.test"]
        # a daemon running ACLs on a loaded machine may take more than the usual 3s to answer
        facts, msgs = probe_send(srv.port, "Subject: prdr\n\nbody\n", rcpts,
                                 args=["-C", client_conf(tmp_path), "-timeout", "15"])
        assert "PRDR" in facts["helo"][0]
        r = msgs[0]
        assert r["good@r.test"][0] == "OK"
        assert re.match(r"250 PRDR R=<good@r.test> acceptance\\n250.*id=", r["good@r.test"][3])
        cmd = "BDAT \\d+ LAST" if chunk else "DATA"
        assert r["refuse@r.test"][:3] == ("FAIL", 0, 550)
        assert re.fullmatch(f"PRDR error after {cmd}: 550 5.7.1 not for refuse", r["refuse@r.test"][3])
        assert r["later@r.test"][:3] == ("DEFER", 0, 450)
        assert re.fullmatch(f"PRDR error after {cmd}: 450 4.2.0 later later", r["later@r.test"][3])
        assert sorted(facts["prdr"]) == sorted(rcpts)
        spool = srv.spooled()
        assert len(spool) == 1
        header = next(iter(spool.values()))[0]
        assert "good@r.test" in header and "refuse@r.test" not in header and "later@r.test" not in header
    finally:
        srv.stop()


@pytest.mark.parametrize("kind", ["exim", "postern"])
def test_prdr_delivery_to_daemons(kind, tmp_path):
    """A whole delivery (postern -odi, the smtp transport) to Exim's and Postern's daemons with
    PRDR: the delivery process's lines say what each recipient got."""
    import pathlib
    import subprocess
    from test_smtpclient_daemon import Server
    from smtp_transport_helpers import log_body, postern_bin
    srv = Server(kind, main=PRDR_MAIN, acls=PRDR_ACL)
    try:
        d = pathlib.Path(tmp_path)
        (d / "spool").mkdir()
        (d / "log").mkdir()
        conf = d / "c.conf"
        conf.write_text(f"""primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
never_users =
begin routers
bounces:
  driver = redirect
  domains = s.test
  data = :blackhole:
r:
  driver = manualroute
  route_list = * 127.0.0.1::{srv.port}
  self = send
  transport = t
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
  command_timeout = 5s
begin retry
* * F,1h,1h
""")
        subprocess.run([postern_bin(), "-C", str(conf), "-odi", "-f", "sender@s.test", "good@r.test",
                        "refuse@r.test", "later@r.test"], input=b"Subject: t\n\nbody\n", capture_output=True,
                       timeout=60)
        lines = [log_body(l) for l in (d / "log" / "mainlog").read_text().splitlines()]
        good = [l for l in lines if l.startswith("=> good@r.test")]
        assert len(good) == 1 and re.search(r" PRDR (K )?C=\"250 PRDR R=<good@r.test> acceptance\\\\n250", good[0]), lines
        assert any(re.fullmatch(r"\*\* refuse@r\.test R=r T=t H=127\.0\.0\.1 \[127\.0\.0\.1\]: PRDR error after "
                                r"(DATA|BDAT \d+ LAST): 550 5\.7\.1 not for refuse", l) for l in lines), lines
        assert any(re.fullmatch(r"== later@r\.test R=r T=t defer \(0\) H=127\.0\.0\.1 \[127\.0\.0\.1\]: PRDR error "
                                r"after (DATA|BDAT \d+ LAST): 450 4\.2\.0 later later", l) for l in lines), lines
    finally:
        srv.stop()
