"""The smtp transport beside Exim 4.96's, both delivering one message to the same scripted hosts
(refusals, 4xx/5xx at each stage, timeouts, lost connections, several hosts): the host lines
the transport logs and each recipient's outcome, written as Exim's delivery log line, must be
the same. Postern's transport runs through smtp_tp_probe on a message received with -odq."""
import os
import shutil
import socket

import pytest

from smtpclient_helpers import ScriptedServer
from smtp_transport_helpers import (PosternSpool, as_exim_line, delivery_lines, exim_deliver,
                                    host_lines, normal_retry_key, probe_bin)
from daemon_helpers import free_port

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

RCPTS = ["rcpt1@r.test", "rcpt2@r.test"]
G = "220 fake ESMTP\r\n"
EHLO = ("EHLO", "250-fake hello\r\n250 PIPELINING\r\n")
OK_BOTH = (G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
               ("DATA", "354 go\r\n"), ("BODY", "250 OK id=1\r\n")])
OK_ONE = (G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"),
              ("BODY", "250 OK id=2\r\n")])
REFUSED = None

SCENARIOS = {
    "refused": [REFUSED],
    "refused_then_ok": [REFUSED, OK_BOTH],
    "greeting_421_then_ok": [("421 busy\r\n", [("QUIT", "221 x\r\n")]), OK_BOTH],
    "greeting_550": [("550 go away\r\n", [("QUIT", "221 x\r\n")])],
    "rcpt_451_then_other_host": [
        (G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "451 4.7.1 later\r\n"), ("RCPT", "250 ok\r\n"),
             ("DATA", "354 go\r\n"), ("BODY", "250 OK id=0\r\n")]), OK_ONE],
    "rcpt_4xx_both_last_host": [
        (G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "451 a\r\n"), ("RCPT", "452 b\r\n"),
             ("DATA", "503 x\r\n")])],
    "rcpt_550_and_ok": [
        (G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "550 5.1.1 nope\r\n"), ("RCPT", "250 ok\r\n"),
             ("DATA", "354 go\r\n"), ("BODY", "250 OK id=0\r\n")])],
    "mail_452_then_ok": [
        (G, [EHLO, ("MAIL", "452 full\r\n"), ("RCPT", "503 x\r\n"), ("RCPT", "503 x\r\n"),
             ("DATA", "503 x\r\n")]), OK_BOTH],
    "mail_550": [
        (G, [EHLO, ("MAIL", "550 no\r\n"), ("RCPT", "503 x\r\n"), ("RCPT", "503 x\r\n"),
             ("DATA", "503 x\r\n")])],
    "data_451": [
        (G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "250 a\r\n"), ("RCPT", "250 b\r\n"),
             ("DATA", "451 x\r\n")])],
    "after_data_451": [
        (G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "250 a\r\n"), ("RCPT", "250 b\r\n"),
             ("DATA", "354 x\r\n"), ("BODY", "451 later\r\n")])],
    "closed_at_ehlo": [(G, [("EHLO", None)])],
    "closed_at_rcpt": [(G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("RCPT", None)])],
    "closed_after_data": [
        (G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "250 a\r\n"), ("RCPT", "250 b\r\n"),
             ("DATA", "354 x\r\n"), ("BODY", None)])],
    "malformed_rcpt": [(G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "bad\r\n")])],
    "timeout_at_rcpt": [(G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "")])],
    "timeout_at_mail": [(G, [("EHLO", "250 fake\r\n"), ("MAIL", "")])],
    "timeout_at_greeting_then_ok": [("", [("EHLO", None)]), OK_BOTH],
    "lmtp_second_over_quota": ([("220 lmtp\r\n", [
        ("LHLO", "250-lmtp\r\n250 PIPELINING\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
        ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"),
        ("BODY", "250 2.0.0 first done\r\n452 4.2.2 second over quota\r\n")])], "  protocol = lmtp\n  port = 24"),
    # Exim checks the transport's port even when every host has its own.
    "lmtp_port_undefined": ([(G, [])], "  protocol = lmtp"),
    "tcp_connect_event_refuses": ([None], "  event_action = ${if eq{$event_name}{tcp:connect}{no}{}}"),
    "smtp_connect_event_closes": ([(G, [("QUIT", "221 bye\r\n")])],
                                  "  event_action = ${if eq{$event_name}{smtp:connect}{no thanks}{}}"),
    "hosts_max_try_2_of_3": ([REFUSED, REFUSED, REFUSED], "  hosts_max_try = 2"),
    "hosts_expansion_fails": ([(G, [])], "  hosts = ${lookup{x}fooo{y}}\n  hosts_override"),
}


def start(scripts):
    servers = [ScriptedServer(*s) if s else None for s in scripts]
    ports = [s.port if s else free_port() for s in servers]
    return servers, ports


def stop(servers):
    for s in servers:
        if s:
            s.abandon() if s.thread.is_alive() and not s.lines else s.wait()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_as_exim(name, tmp_path):
    assert os.path.exists(probe_bin())
    scripts, extra = SCENARIOS[name] if isinstance(SCENARIOS[name], tuple) else (SCENARIOS[name], "")
    servers, ports = start(scripts)
    exim_retries = []
    exim = exim_deliver(ports, RCPTS, extra=extra, retry_items=exim_retries)
    stop(servers)
    exim_served = [s.lines if s else None for s in servers]

    spool = PosternSpool(tmp_path, RCPTS, extra=extra)
    servers, ports = start(scripts)
    out, lines = spool.deliver([("127.0.0.1", "127.0.0.1", p, -1) for p in ports])
    stop(servers)

    # The same conversation with every host, and the same host lines in the log.
    assert [s.lines if s else None for s in servers] == exim_served
    assert host_lines(lines) == host_lines(exim)
    # Each recipient's outcome gives Exim's delivery line.
    got = [as_exim_line(r, out[r]) for r in RCPTS]
    assert sorted(got) == sorted(delivery_lines(exim))
    # The retry items the transport asks for are the records Exim's retry database ends with.
    removed = {k for r in RCPTS for (k, e, m, rm, t) in out[r]["retries"] if rm}
    items = {(normal_retry_key(k), e, m, t) for r in RCPTS for (k, e, m, rm, t) in out[r]["retries"]
             if not rm and k not in removed}
    assert items == {(normal_retry_key(k), e, m, t) for (k, e, m, t) in exim_retries}


def test_dsn_extra_information_fields(tmp_path):
    """A 550 at RCPT: the address carries the remote's reply, the greeting and the EHLO
    response (first lines) and the host, for the bounce's DSN extra information."""
    spool = PosternSpool(tmp_path, RCPTS)
    srv = ScriptedServer("220-first greeting line\r\n220 second\r\n", [
        ("EHLO", "250-fake hello there\r\n250 PIPELINING\r\n"), ("MAIL", "250 ok\r\n"),
        ("RCPT", "550-5.1.1 no such\r\n550 5.1.1 user\r\n"), ("RCPT", "250 ok\r\n"),
        ("DATA", "354 go\r\n"), ("BODY", "250 OK id=9\r\n")])
    out, _ = spool.deliver([("mx.r.test", "127.0.0.1", srv.port, 10)])
    srv.wait()
    a, b = out["rcpt1@r.test"], out["rcpt2@r.test"]
    assert a["status"] == "FAIL" and a["more"] == 550
    assert a["resp"] == "550-5.1.1 no such\\n550 5.1.1 user"
    assert a["greeting"] == "220-first greeting line"
    assert a["helo"] == "250-fake hello there"
    assert (a["host"], a["ip"], a["port"]) == ("mx.r.test", "127.0.0.1", srv.port)
    assert a["sending"] == "127.0.0.1"
    assert b["status"] == "OK" and b["conf"] == "250 OK id=9"


def test_dont_deliver(tmp_path):
    """-N: every address succeeds and no host is contacted."""
    spool = PosternSpool(tmp_path, RCPTS)
    out, lines = spool.deliver([("127.0.0.1", "127.0.0.1", free_port(), -1)], args=["-N"])
    assert [o["status"] for o in out.values()] == ["OK", "OK"]
    assert host_lines(lines) == []


def test_fallback_hosts(tmp_path):
    """The main host refuses; the router's fallback host takes the message."""
    spool = PosternSpool(tmp_path, RCPTS)
    srv = ScriptedServer(*OK_BOTH)
    out, lines = spool.deliver([("127.0.0.1", "127.0.0.1", free_port(), -1)],
                               args=["-fallback", f"127.0.0.1::{srv.port}"])
    srv.wait()
    assert [o["status"] for o in out.values()] == ["OK", "OK"]
    assert out["rcpt1@r.test"]["port"] == srv.port
    assert len(host_lines(lines)) == 1 and host_lines(lines)[0].endswith("Connection refused")


def test_hosts_max_try(tmp_path):
    """hosts_max_try = 2: only two of three refusing hosts are tried, unless a later host has
    a higher MX value (one host of each higher MX is still tried)."""
    spool = PosternSpool(tmp_path, RCPTS, extra="  hosts_max_try = 2")
    ports = [free_port() for _ in range(4)]
    out, lines = spool.deliver([("127.0.0.1", "127.0.0.1", p, 10) for p in ports[:3]])
    assert len(host_lines(lines)) == 2
    out, lines = spool.deliver([("127.0.0.1", "127.0.0.1", ports[0], 10), ("127.0.0.1", "127.0.0.1", ports[1], 10),
                                ("127.0.0.1", "127.0.0.1", ports[2], 10), ("127.0.0.1", "127.0.0.1", ports[3], 20)])
    assert len(host_lines(lines)) == 3


def test_transport_hosts_override_and_unknown(tmp_path):
    """hosts + hosts_override replace the router's hosts; a name that cannot be looked up is
    skipped, and with nothing else to try the addresses are deferred with Exim's text."""
    srv = ScriptedServer(*OK_BOTH)
    spool = PosternSpool(tmp_path, RCPTS, extra=f"  hosts = nonexistent.invalid : 127.0.0.1\n"
                                                f"  hosts_override\n  port = {srv.port}")
    out, _ = spool.deliver([("127.0.0.1", "127.0.0.1", free_port(), -1)])
    srv.wait()
    assert [o["status"] for o in out.values()] == ["OK", "OK"]
    spool2 = PosternSpool(tmp_path / "x" if (tmp_path / "x").mkdir() is None else None, RCPTS,
                          extra="  hosts = nonexistent.invalid\n  hosts_override")
    out, _ = spool2.deliver([("127.0.0.1", "127.0.0.1", free_port(), -1)])
    o = out["rcpt1@r.test"]
    assert (o["status"], o["errno"], o["msg"]) == ("DEFER", -32, "failed to lookup IP address for nonexistent.invalid")


def test_max_rcpt_batches_share_the_connection(tmp_path):
    """max_rcpt = 1: one transaction per recipient. Exim's delivery process runs a transport
    per batch, each on a new connection; Postern's transport sends the batches over one
    connection, one transaction after the other (a documented difference)."""
    spool = PosternSpool(tmp_path, RCPTS, extra="  max_rcpt = 1")
    srv = ScriptedServer(G, [EHLO, ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"),
                             ("BODY", "250 OK one\r\n"), ("MAIL", "250 ok\r\n"),
                             ("RCPT", "250 ok\r\n"), ("DATA", "354 go\r\n"), ("BODY", "250 OK two\r\n")])
    out, _ = spool.deliver([("127.0.0.1", "127.0.0.1", srv.port, -1)])
    srv.wait()
    assert [l.split(":")[0] for l in srv.lines] == ["EHLO client.test", "MAIL FROM", "RCPT TO", "DATA", "MAIL FROM", "RCPT TO", "DATA", "QUIT"]
    assert [(o["status"], o["conf"]) for o in out.values()] == [("OK", "250 OK one"), ("OK", "250 OK two")]


def test_hosts_randomize(tmp_path):
    """hosts_randomize shuffles the transport's hosts: over 20 deliveries to two refusing
    hosts both orders occur."""
    p1, p2 = free_port(), free_port()
    spool = PosternSpool(tmp_path, RCPTS[:1], extra=f"  hosts = <; 127.0.0.1:{p1} ; 127.0.0.2:{p2}\n"
                                                    f"  hosts_override\n  hosts_randomize")
    firsts = set()
    for _ in range(20):
        _, lines = spool.deliver([("127.0.0.1", "127.0.0.1", free_port(), -1)])
        firsts.add(host_lines(lines)[0].split()[1])
    assert firsts == {"[127.0.0.1]", "[127.0.0.2]"}


def test_generic_header_options_and_return_path(tmp_path):
    """The message goes through the transport writer (headers_add, headers_remove) and the
    transport's return_path sets MAIL FROM; the router's errors_to is the default sender."""
    spool = PosternSpool(tmp_path, RCPTS[:1], extra="  headers_add = X-Added: $host\n  headers_remove = Subject\n"
                                                     "  return_path = bounces@s.test")
    srv = ScriptedServer(*OK_ONE)
    out, _ = spool.deliver([("mx.r.test", "127.0.0.1", srv.port, -1)])
    srv.wait()
    assert out["rcpt1@r.test"]["status"] == "OK"
    assert srv.lines[1] == "MAIL FROM:<bounces@s.test>"
    assert b"X-Added: mx.r.test\r\n" in srv.body and b"Subject:" not in srv.body
    spool2 = PosternSpool(tmp_path / "e", RCPTS[:1]) if (tmp_path / "e").mkdir() is None else None
    srv = ScriptedServer(*OK_ONE)
    spool2.deliver([("127.0.0.1", "127.0.0.1", srv.port, -1)], args=["-errors-to", "owner@s.test"])
    srv.wait()
    assert srv.lines[1] == "MAIL FROM:<owner@s.test>"
