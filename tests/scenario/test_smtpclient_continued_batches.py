"""Continued connections in a queue run beside Exim 4.96: a bounce and two messages waiting for
the same host go over one connection (-MC), and what the server receives (in batches,
smtpclient_batches.BatchServer) and the log lines must be Exim's.

The run, done the same way with Exim and with Postern (queue_run_in_order):
1. a message to bad@r.test is refused (550); its bounce to sender@s.test, routed to the same
   host, is deferred by a refusing banner (421);
2. two more messages are queued and a queue run (-qf) defers them the same way;
3. the host accepts again and a queue run delivers: the bounce on a new connection, the two
   messages after it on the same one (no RSET after a completed transaction, the address's
   line marked "*" after the host). The last one's recipient is refused (550), and its bounce
   goes on a connection of its own.
Observed with Exim 4.96: the same commands, batches and lines. Left out of the comparison:
the bounce's size (its text is not the client's) and when the second bounce is delivered
relative to the queue run's end."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import smtpclient_batches as sb
from smtpclient_batches import BatchServer, Conn

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

EHLO = "250-fake\r\n250-PIPELINING\r\n250 DSN\r\n"
MSG = b"Subject: t\n\nbody\n"


AUTH_EHLO = "250-fake\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n"
AUTHS = """begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^user^secret
"""


def queue_run(who, auth=False):
    phase = {"p": "refuse-bad"}

    def conn(n):
        if phase["p"] == "refuse-bad" and n == 0:
            return Conn(replies={"EHLO": EHLO, "RCPT TO:<bad@": "550 5.1.1 no such\r\n"})
        if phase["p"] != "accept":
            return Conn(banner="421 busy\r\n")
        if auth:
            return Conn(replies={"EHLO": AUTH_EHLO, "AUTH PLAIN": "235 ok\r\n"})
        return Conn(replies={"EHLO": EHLO, "RCPT TO:<a@": "550 5.1.1 not a\r\n"})
    srv = BatchServer(conn)
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-cont-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        if who == "exim":
            for p in ["spool", "spool/db", "log"]:
                shutil.chown(d / p, "Debian-exim")
            users, tpuser, cmd = "exim_user = Debian-exim\nexim_group = Debian-exim", "  user = Debian-exim", "exim"
        else:
            users, tpuser, cmd = "exim_user = root\nexim_group = root", "", sb.postern_bin()
        text = sb.CONF.format(d=d, users=users, tpuser=tpuser, port=srv.port,
                              extra="  hosts_try_auth = *" if auth else "", main="queue_run_in_order",
                              auths=AUTHS if auth else "")
        # bounces to s.test go to the same host as everything else
        text = text.replace("bounces:\n  driver = redirect\n  domains = s.test\n  data = :blackhole:\n", "")
        conf = d / "c.conf"
        conf.write_text(text)
        mainlog = d / "log" / "mainlog"

        def run(args, inp=b""):
            subprocess.run([cmd, "-C", str(conf)] + args, input=inp, capture_output=True, timeout=60)

        def wait_for(pattern, count=1):
            deadline = time.time() + 30
            while time.time() < deadline:
                if mainlog.exists() and len(re.findall(pattern, mainlog.read_text())) >= count:
                    return
                time.sleep(0.05)
            raise AssertionError(f"no {pattern!r} in {mainlog.read_text()}")

        run(["-odi", "-f", "sender@s.test", "bad@r.test"], MSG)
        wait_for(r" == sender@s\.test ")          # the bounce, deferred
        phase["p"] = "defer"
        run(["-odq", "-f", "sender@s.test", "a@r.test"], MSG)
        run(["-odq", "-f", "sender@s.test", "b@r.test"], MSG)
        run(["-qf"])
        wait_for("End queue run")
        phase["p"] = "accept"
        run(["-qf"])
        wait_for("End queue run", 2)
        wait_for(" Completed", 4 if auth else 5)   # the bounces included
        srv.wait()
        return srv.batches, sb.read_log(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def by_message(log):
    """Each message's delivery lines (arrival lines of bounces and queue-run lines left out)."""
    out = {}
    for l in log:
        m = re.match(r"(M\d+) (=>|\*\*|==|H=|Completed)", l)
        if m:
            out.setdefault(m.group(1), []).append(l[len(m.group(1)) + 1:])
    return out




def bounce_sizes_out(batches):
    """A bounce's content (the batch after MAIL FROM:<>) as "<bounce>": its text is not the
    client's."""
    out, after_bounce = [], False
    for b in batches:
        out.append(["<bounce>" if after_bounce and re.match(r"<\d+ bytes>$", x) else x for x in b])
        after_bounce = "MAIL FROM:<>" in b
    return out


def test_continued_connection_with_bounce_as_exim():
    ex_b, ex_log = queue_run("exim")
    pr_b, pr_log = queue_run("postern")
    ex_c = [bounce_sizes_out(c) for c in ex_b]
    pr_c = [bounce_sizes_out(c) for c in pr_b]
    assert pr_c == ex_c
    # the continued connection: the bounce, then two messages without RSET
    cont = ex_c[-2]
    assert cont[1][:2] == ["MAIL FROM:<>", "RCPT TO:<sender@s.test>"]
    assert cont[3] == ["MAIL FROM:<sender@s.test>", "RCPT TO:<b@r.test>", "DATA"]
    assert cont[5] == ["MAIL FROM:<sender@s.test>", "RCPT TO:<a@r.test>", "DATA"]
    ex_m, pr_m = by_message(ex_log), by_message(pr_log)
    assert pr_m == ex_m
    assert '=> b@r.test R=r T=t H=127.0.0.1 [127.0.0.1]* C="250 OK id=1"' in ex_m["M4"]
    assert any(l.startswith("** a@r.test R=r T=t H=127.0.0.1 [127.0.0.1]*: SMTP error") for l in ex_m["M3"])


def test_continued_authenticated_connection_as_exim():
    """Authenticated (hosts_try_auth): AUTH once, on the first connection; A=plain on the first
    message's line only (observed: Exim 4.96's continued deliveries do not name the
    authenticator)."""
    ex_b, ex_log = queue_run("exim", auth=True)
    pr_b, pr_log = queue_run("postern", auth=True)
    assert [bounce_sizes_out(c) for c in pr_b] == [bounce_sizes_out(c) for c in ex_b]
    assert sum(x.startswith("AUTH PLAIN") for b in ex_b[-1] for x in b) == 1
    ex_m, pr_m = by_message(ex_log), by_message(pr_log)
    assert pr_m == ex_m
    assert '=> sender@s.test R=r T=t H=127.0.0.1 [127.0.0.1] A=plain C="250 OK id=1"' in ex_m["M2"]
    assert '=> a@r.test R=r T=t H=127.0.0.1 [127.0.0.1]* C="250 OK id=1"' in ex_m["M3"]
