"""Event order and data (issue 4 acceptance 5): a good delivery, a 550 to RCPT and a host
deferral (connection refused; also a 451 to RCPT and a 421 greeting), compared with Exim 4.96's main log for the same configuration (an event-logger ACL on
the main and transport event_action). Goldens are in tests/golden/events/; record them again with

    sudo RECORD_EXIM=1 /usr/bin/python3 -m pytest tests/scenario/test_events_order.py

(Exim runs as root with -C, so it drops privilege: its spool is made world-writable.)
Postern's run skips only while -odi starts no delivery at all on the branch (the delivery
process still being the link seam)."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "events"

CONF = """\
spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = test.example
qualify_domain = test.example
keep_environment =
event_action = ${{acl{{ev}}}}
begin acl
ev:
  warn logwrite = EV $event_name <$event_data> errno=$event_defer_errno \\
    h=$host_address:$host_port lp=$local_part d=$domain r=$router_name t=$transport_name \\
    H=$host sha=$sender_host_address
  accept
begin routers
r1:
  driver = manualroute
  route_list = * 127.0.0.1::{port} byname
  transport = t1
  self = send
begin transports
t1:
  driver = smtp
  event_action = ${{acl{{ev}}}}
  hosts_try_fastopen =
begin retry
* * F,2h,15m
"""


class FakeServer:
    """A minimal SMTP server: mode "ok" accepts, "rcpt5" rejects RCPT with 550, "rcpt4" defers
    it with 451, "greet4" greets with 421 and closes."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            c.settimeout(10)
            with c, c.makefile("rwb") as f:
                def w(x):
                    f.write(x.encode() + b"\r\n")
                    f.flush()
                if self.mode == "greet4":
                    w("421 fake.example busy")
                    continue
                w("220 fake.example ESMTP greeting here")
                data = False
                for raw in f:
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    up = line.upper()
                    if data:
                        if line == ".":
                            data = False
                            w("250 OK queued as 12345")
                        continue
                    if up.startswith("EHLO"):
                        w("250-fake.example hello")
                        w("250 PIPELINING")
                    elif up.startswith("MAIL"):
                        w("250 OK")
                    elif up.startswith("RCPT"):
                        w({"rcpt5": "550 5.1.1 no such user here",
                           "rcpt4": "451 4.3.0 try again later"}.get(self.mode, "250 OK"))
                    elif up == "DATA":
                        w("354 go")
                        data = True
                    elif up == "QUIT":
                        w("221 bye")
                        break
                    else:
                        w("500 what")

    def close(self):
        # As test_smtp_reuse.Sink.close: the serving thread must be gone before the descriptor
        # is closed, or a thread re-entering accept() with a descriptor number a later test's
        # server has been given takes that test's connections. shutdown() wakes a blocked
        # accept(); a connection being served ends within its own 10 s timeout.
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(15)
        self.sock.close()


def refused_port():
    """A loopback port that refuses connections for as long as the returned socket is open:
    bound but not listening, so no other test on the machine can take it meanwhile."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


_held = []


def free_port():
    """refused_port, held for the rest of the run."""
    s, port = refused_port()
    _held.append(s)
    return port


KEEP = re.compile(r"^(EV |=> |\*\* |== |-> |Completed|H=)")


def normalize(log, port):
    """The first message's lines (a bounce is another message, delivered by another process),
    without time stamps and message ids, the port as <port>."""
    out = []
    first = None
    for line in log.splitlines():
        m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (\S{6}-\S{6}-\S{2}) (.*)$", line)
        if not m:
            continue
        first = first or m.group(1)
        text = m.group(2)
        if m.group(1) != first or not KEEP.match(text):
            continue
        text = re.sub(r"\b\S{6}-\S{6}-\S{2}\b", "<id>", text)
        out.append(text.replace(str(port), "<port>"))
    return out


def run_case(binary, tmp_path, case, exim):
    spool = tmp_path / "spool"
    spool.mkdir()
    if exim:
        os.chmod(tmp_path, 0o777)
        os.chmod(spool, 0o777)
    else:
        # The remote transport runs as the exim user, which must be able to log (as Exim's
        # packaging arranges with the log directory's owner).
        os.chmod(tmp_path, 0o755)
        (spool / "log").mkdir()
        for name in ("mainlog", "paniclog"):
            (spool / "log" / name).touch()
            os.chmod(spool / "log" / name, 0o666)
    server = None
    if case == "deferral":
        port = free_port()
    else:
        server = FakeServer({"good": "ok", "rcpt550": "rcpt5", "rcpt451": "rcpt4", "greeting421": "greet4"}[case])
        port = server.port
    conf = tmp_path / "ev.conf"
    conf.write_text(CONF.format(spool=spool, port=port))
    try:
        # -oMa: the events see $sender_host_address as for a message from that host.
        r = subprocess.run([binary, "-C", str(conf), "-odi", "-oMa", "192.0.2.7", "-f", "s@snd.example",
                            "user2@remote.example"],
                           input="Subject: events\n\nbody\n", capture_output=True, text=True, timeout=60)
    finally:
        if server:
            server.close()
    log = (spool / "log" / "mainlog").read_text() if (spool / "log" / "mainlog").exists() else ""
    return r, log, port


CASES = ["good", "rcpt550", "deferral", "rcpt451", "greeting421"]


@pytest.mark.parametrize("case", CASES)
def test_event_order(postern_bin, tmp_path, case):
    golden = GOLDEN / f"{case}.txt"
    if os.environ.get("RECORD_EXIM"):
        # Exim drops privilege for -C: its spool must be reachable by its user (pytest's
        # tmp_path is under a 0700 directory).
        exim_dir = pathlib.Path(tempfile.mkdtemp(prefix="events-exim-"))
        try:
            r, log, port = run_case("/usr/sbin/exim", exim_dir, case, exim=True)
        finally:
            shutil.rmtree(exim_dir, ignore_errors=True)
        lines = normalize(log, port)
        assert lines, r.stderr + log
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text("\n".join(lines) + "\n")
        pytest.skip(f"recorded {golden}")
    # The remote transport runs as the exim user: the spool must be reachable (pytest's tmp_path
    # is under a 0700 directory).
    work = pathlib.Path(tempfile.mkdtemp(prefix="events-postern-"))
    try:
        r, log, port = run_case(postern_bin, work, case, exim=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    got = normalize(log, port)
    if "delivery process not built yet" in log or (not got and "-odi" not in log and "<=" in log):
        # -odi does not start a delivery yet on this branch (the deliver owner wires it)
        pytest.skip("the delivery process has not landed on this branch")
    assert got == postern_expected(golden.read_text().splitlines()), log


def postern_expected(exim_lines):
    """Exim's lines, except the one deliberate difference (issue 4 §7, docs/events.md): Exim's
    msg:complete sees the last address's $host*, $local_part and $domain; Postern's does not."""
    out = []
    for line in exim_lines:
        if line.startswith("EV msg:complete "):
            line = re.sub(r" h=\S*:\S* lp=\S* d=\S*( r=\S* t=\S*) H=\S*", r" h=:0 lp= d=\1 H=", line)
        out.append(line)
    return out
