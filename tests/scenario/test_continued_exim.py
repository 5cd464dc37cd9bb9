"""Continued deliveries (-MC) beside a live Exim 4.96, both sending to the same Exim daemon:
messages deferred while the host was down, then delivered by a queue run (-qf) or a single
delivery (-M). Compared: which message goes first and which ride the connection, in which order
(the main log's delivery lines, "[ip]*" on a reused connection), and whether PRDR is used on a
continued connection (the daemon offers it and refuses one recipient per message after the
data)."""
import os
import re
import shutil
import subprocess
import time

import pytest

import test_smtpclient_daemon
from test_smtpclient_daemon import Server
from test_smtpclient_prdr import PRDR_ACL, PRDR_MAIN
from daemon_helpers import free_ports, reachable_by_exim_user
from test_queue import EXIM

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

SENDER = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
keep_environment =
queue_run_in_order = true
begin routers
bounces:
  driver = redirect
  domains = s.test
  data = :blackhole:
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
  command_timeout = 5s
begin retry
* * {retry}
"""

ID = re.compile(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b")
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")


def run(binary, conf, *args, input=None):
    p = subprocess.run([binary, "-C", str(conf), *args], input=input, capture_output=True, text=True,
                       timeout=120)
    return p


def scenario(binary, d, messages, deliver, server_main="", server_acls="", retry="F,1h,1h", pause=0):
    """Queue messages (lists of recipients) while nothing listens on the port (each is tried
    once and deferred), start an Exim daemon there, run deliver(ids) -> extra arguments, and
    return the main log lines written by that run, ids replaced by M1, M2 ... in order of
    arrival (the server's ids by SID)."""
    d.mkdir()
    os.chmod(d, 0o777)
    for sub in ("spool", "log"):
        (d / sub).mkdir()
        os.chmod(d / sub, 0o777)
    port = free_ports(1)[0]
    conf = d / "conf"
    conf.write_text(SENDER.format(d=d, port=port, retry=retry))
    for rcpts in messages:
        p = run(binary, conf, "-odi", "-f", "sender@s.test", *rcpts, input="Subject: t\n\nbody\n")
        assert p.returncode == 0, p.stderr
    log = d / "log" / "mainlog"
    text = log.read_text()
    ids = [line.split()[2] for line in text.splitlines() if " <= " in line]
    assert len(ids) == len(messages)
    assert " => " not in text, text
    start = len(text)
    time.sleep(pause)  # for a queue run that is not forced: past the retry time
    orig = test_smtpclient_daemon.free_ports
    test_smtpclient_daemon.free_ports = lambda n: [port]
    try:
        srv = Server("exim", main=server_main, acls=server_acls)
    finally:
        test_smtpclient_daemon.free_ports = orig
    try:
        p = run(binary, conf, *deliver(ids))
        assert p.returncode == 0, p.stderr
        # A single delivery's -MC chain goes on detached: wait for the queue to empty.
        deadline = time.time() + 20
        while any((d / "spool" / "input").rglob("*-H")) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        srv.stop()
    names = {i: f"M{n + 1}" for n, i in enumerate(ids)}
    out = []
    for line in log.read_text()[start:].splitlines():
        line = ID.sub(lambda m: names.get(m.group(0), "SID"), STAMP.sub("", line))
        # The delivery lines of the messages themselves (the bounces' and the processes' own
        # lines run in parallel in Exim, in any order).
        if re.match(r"M\d+ (=>|->|\*\*|==) ", line):
            out.append(line)
    return out


def both(tmp_path, postern_bin, *args, **kw):
    reachable_by_exim_user(tmp_path)
    return [scenario(b, tmp_path / name, *args, **kw) for b, name in ((EXIM, "exim"), (postern_bin, "postern"))]


FOUR = [[f"u{i}@r.test"] for i in range(1, 5)]


@pytest.mark.parametrize("how", ["queue_run", "forced_queue_run", "single"])
def test_continuation_order_as_exim(postern_bin, tmp_path, how):
    """Which message goes first and which follow it over the connection."""
    args = {"queue_run": ["-q"], "forced_queue_run": ["-qf"]}.get(how)
    deliver = (lambda ids: args) if args else (lambda ids: ["-M", ids[1]])
    kw = {"retry": "F,2s,2s", "pause": 2.5} if how == "queue_run" else {}
    exim, postern = both(tmp_path, postern_bin, FOUR, deliver, **kw)
    # Observed: the first message opens the connection; the others ride it newest first.
    first = "M2" if how == "single" else "M1"
    assert [line.split()[0] for line in exim] == [first] + [m for m in ("M4", "M3", "M2", "M1") if m != first]
    assert ["[127.0.0.1]*" in line for line in exim] == [False, True, True, True], exim
    assert postern == exim, "\n".join(["POSTERN"] + postern + ["EXIM"] + exim)


def test_prdr_on_continued_connection_as_exim(postern_bin, tmp_path):
    """Two messages with two recipients each to a daemon that offers PRDR and refuses one
    recipient after the data: the first message's connection and the continued one."""
    msgs = [["good@r.test", "refuse@r.test"], ["good@r.test", "refuse@r.test"]]
    exim, postern = both(tmp_path, postern_bin, msgs, lambda ids: ["-qf"],
                         server_main=PRDR_MAIN, server_acls=PRDR_ACL)
    # Observed: Exim 4.96 passes no PRDR to the -MC process (it has no option for it); the
    # continued connection sends the message without it and the refusal does not happen.
    assert [line.split(" R=")[0] for line in exim] == [
        "M1 => good@r.test", "M1 ** refuse@r.test", "M2 => good@r.test", "M2 -> refuse@r.test"]
    assert " PRDR " in exim[0] and "[127.0.0.1]*" in exim[2] and " PRDR " not in exim[2]
    assert postern == exim, "\n".join(["POSTERN"] + postern + ["EXIM"] + exim)
