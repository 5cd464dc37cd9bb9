"""A delivery worker's connection cache (src/core/deliver_conn_cache.c,
src/drivers/transports/smtp_conn_cache.c; docs/transports.md "Connection cache"): messages
relayed one after another by the daemon to the same host go over one connection, as continued
deliveries ("*" after the IP address, connection_max_messages counting, no RSET between them,
as after Exim's -MC hand-over). A kept connection that the server closed or refuses is never
a deferral: the message goes over a new connection in the same attempt."""
import os
import pathlib
import re
import select
import signal
import sys
from shutil import which as shutil_which
import smtplib
import socket
import threading

import pytest

from daemon_helpers import Daemon, free_ports, reachable_by_exim_user, wait_for

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_deliver_launch_pool import workers_of_daemon  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")


class CountingSink:
    """An SMTP server that serves each connection in a thread of its own and records, per
    connection, the commands it received (message data left out).

    idle_close: seconds without a command after which it closes the connection (saying
    nothing, or "421" first when say_421). die_on_mail: after this many messages on a
    connection, the next MAIL gets 421 (or, with silent_death, no reply: the connection
    is closed). quit_probe: before answering a message's data, wait up to 3 s for more input;
    quit_with_data lists, per message, whether QUIT had come by then (sent with the data: the
    client cannot send it unpipelined before the reply)."""

    def __init__(self, idle_close=None, say_421=False, die_on_mail=None, silent_death=False, quit_probe=False):
        self.quit_probe = quit_probe
        self.quit_with_data = []
        self.idle_close = idle_close
        self.say_421 = say_421
        self.die_on_mail = die_on_mail
        self.silent_death = silent_death
        self.lock = threading.Lock()
        self.conns = []           # one list of commands per connection
        self.lines = []           # the same, the whole command lines
        self.messages = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.threads = []
        t = threading.Thread(target=self.accept_loop, daemon=True)
        t.start()
        self.threads.append(t)

    def accept_loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            cmds, lines = [], []
            with self.lock:
                self.conns.append(cmds)
                self.lines.append(lines)
            t = threading.Thread(target=self.serve, args=(c, cmds, lines), daemon=True)
            t.start()
            self.threads.append(t)

    def serve(self, c, cmds, lines):
        c.settimeout(self.idle_close or 60)   # longer than any connection_idle_timeout the tests set
        sent = 0
        with c, c.makefile("rwb") as f:
            def w(x):
                f.write(x.encode() + b"\r\n")
                f.flush()
            w("220 sink.example ESMTP")
            data = False
            while True:
                try:
                    raw = f.readline()
                except (socket.timeout, OSError):
                    if self.say_421:
                        try:
                            w("421 sink.example idle too long")
                        except OSError:
                            pass
                    cmds.append("<idle close>")
                    return
                if not raw:
                    cmds.append("<eof>")
                    return
                line = raw.decode(errors="replace").rstrip("\r\n")
                up = line.upper()
                if data:
                    if line == ".":
                        data = False
                        sent += 1
                        if self.quit_probe:
                            self.quit_with_data.append(self.more_input(c, f))
                        with self.lock:
                            self.messages += 1
                        w("250 OK queued")
                    continue
                cmds.append(up.split(":")[0].split(" ")[0])
                lines.append(line)
                if up.startswith("EHLO"):
                    w("250-sink.example hello")
                    w("250 PIPELINING")
                elif up.startswith("MAIL"):
                    if self.die_on_mail is not None and sent >= self.die_on_mail:
                        if not self.silent_death:
                            w("421 sink.example going away")
                        cmds.append("<died>")
                        return
                    w("250 OK")
                elif up.startswith("RCPT"):
                    w("250 OK")
                elif up == "DATA":
                    w("354 go")
                    data = True
                elif up == "RSET":
                    w("250 OK")
                elif up == "QUIT":
                    w("221 bye")
                    return
                else:
                    w("500 what")

    @staticmethod
    def more_input(c, f):
        """Whether the client sent more after the data's dot within 3 s, unanswered."""
        timeout = c.gettimeout()
        c.setblocking(False)
        try:
            for _ in range(30):
                if f.peek(1):          # buffered, or a non-blocking read found some
                    return True
                select.select([c], [], [], 0.1)
            return False
        finally:
            c.settimeout(timeout)

    def snapshot(self):
        with self.lock:
            return [list(c) for c in self.conns]

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        for t in self.threads[:1]:
            t.join(timeout=5)
        self.sock.close()


@pytest.fixture
def relay(postern_bin, tmp_path):
    started = []
    reachable_by_exim_user(tmp_path)

    def make(transport_extra="", sink=None, route_list=None):
        sink = sink or CountingSink()
        (port,) = free_ports(1)
        route_list = route_list or f"* 127.0.0.1::{sink.port} byname"
        # A second daemon in one test (a retried attempt) gets a directory of its own: sharing
        # the first one's spool and mainlog, its "daemon started" would be the first's line.
        where = tmp_path
        if started:
            where = tmp_path / f"relay{len(started)}"
            where.mkdir()
            os.chmod(where, 0o755)
        d = Daemon(postern_bin, where, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}\n"
                   "host_lookup =\nacl_smtp_rcpt = accept\n"
                   f"\nbegin routers\nsink:\n  driver = manualroute\n  route_list = {route_list}"
                   "\n  self = send\n  transport = t\n"
                   "begin transports\nt:\n  driver = smtp\n  allow_localhost\n  hosts_avoid_tls = *\n"
                   + transport_extra)
        d.port = port
        d.sink = sink
        d.start()
        started.append((d, sink))
        d.wait_listening(None)
        return d
    def retire():
        """Stop every daemon and sink made so far (before a retried attempt makes new ones)."""
        for d, sink in started:
            d.stop()
            sink.close()

    make.retire = retire
    yield make
    retire()


def send(d, n, sender="a@s.example", domain="r.example"):
    """Submit message n and wait for its "=>" line, then until its worker is idle again (the
    worker reports after "Completed"; a message handed over before that would find no idle
    worker and start another one, with a connection of its own); the "=>" line."""
    with smtplib.SMTP("127.0.0.1", d.port, timeout=10) as s:
        s.sendmail(sender, [f"r{n}@{domain}"], f"Subject: {n}\r\n\r\nbody {n}\r\n")
    line = re.compile(r"^.* => r%d@%s .*$" % (n, re.escape(domain)), re.M)
    assert wait_for(lambda: line.search(d.mainlog), timeout=20), d.mainlog + d.paniclog
    found = line.search(d.mainlog).group(0)
    mid = found.split()[2]
    assert wait_for(lambda: f" {mid} Completed" in d.mainlog, timeout=20), d.mainlog
    # The worker removes the -D after its report: gone, the launcher has the report in its pipe
    # before the next message's record (a fixed 0.2 s was too short on a loaded machine).
    assert wait_for(lambda: not (d.spool / "input" / f"{mid}-D").exists(), timeout=20), d.mainlog
    return found


def no_deferrals(d):
    log = d.mainlog
    assert " == " not in log and "defer" not in log.lower(), log
    assert d.paniclog == ""
    # no host error line ("H=... [...]: text") either: every line naming the host is a delivery
    assert all(" => " in line for line in log.splitlines() if "H=127.0.0.1" in line), log


# Tests that keep a connection between messages set a longer idle time than the default 2 s: on
# a loaded machine the next message (an SMTP submission, then the hand-over) came later than
# that now and then, the worker had said QUIT, and the message went over a new connection.
KEEP_10S = "  connection_idle_timeout = 10s\n"
KEEP_60S = "  connection_idle_timeout = 60s\n"


def test_messages_one_after_another_share_one_connection(relay):
    d = relay(KEEP_10S)
    lines = [send(d, n) for n in range(5)]
    # The first opens the connection; the others are continued deliveries, as Exim logs them.
    assert "H=127.0.0.1 [127.0.0.1] " in lines[0] and "]*" not in lines[0], lines[0]
    for line in lines[1:]:
        assert "H=127.0.0.1 [127.0.0.1]* " in line, line
    assert d.sink.messages == 5
    conns = d.sink.snapshot()
    assert len(conns) == 1, conns
    # Straight to MAIL after each message (Exim's continued connection: no RSET); EHLO once.
    assert conns[0][:4] == ["EHLO", "MAIL", "RCPT", "DATA"], conns
    assert conns[0].count("EHLO") == 1 and "RSET" not in conns[0], conns
    assert conns[0].count("MAIL") == 5
    # each message's own envelope: nothing of one carried into the next
    lines0 = d.sink.lines[0]
    assert [l for l in lines0 if l.startswith("RCPT")] == [f"RCPT TO:<r{n}@r.example>" for n in range(5)]
    # After the idle time the worker says QUIT.
    assert wait_for(lambda: d.sink.snapshot()[0][-1] == "QUIT", timeout=40), d.sink.snapshot()
    assert d.mainlog.count(" Completed") == 5
    no_deferrals(d)


def test_idle_timeout_zero_one_connection_per_message(relay):
    d = relay("  connection_idle_timeout = 0s\n")
    lines = [send(d, n) for n in range(3)]
    assert all("]*" not in line for line in lines), lines
    conns = d.sink.snapshot()
    assert len(conns) == 3, conns
    assert all(c[-1] == "QUIT" for c in conns), conns
    assert d.sink.messages == 3


def test_transport_with_event_action_keeps_one_connection_per_message(relay):
    # tcp:connect, smtp:connect, smtp:ehlo and tcp:close are raised per connection: such a
    # transport's messages each get their own, and their events, as in Exim.
    d = relay("  event_action = ${if eq{$event_name}{tcp:close}{}{}}\n")
    lines = [send(d, n) for n in range(3)]
    assert all("]*" not in line for line in lines), lines
    conns = d.sink.snapshot()
    assert len(conns) == 3 and all(c[-1] == "QUIT" for c in conns), conns


def test_connection_max_messages_is_honoured(relay):
    d = relay("  connection_max_messages = 2\n" + KEEP_10S)
    lines = [send(d, n) for n in range(5)]
    starred = ["]*" in line for line in lines]
    assert starred == [False, True, False, True, False], lines
    assert wait_for(lambda: len(d.sink.snapshot()) == 3 and all(c[-1] == "QUIT" for c in d.sink.snapshot()),
                    timeout=40), d.sink.snapshot()
    assert [c.count("MAIL") for c in d.sink.snapshot()] == [2, 2, 1]
    assert d.sink.messages == 5


def test_last_message_allowed_on_a_connection_sends_quit_with_its_data(relay):
    # connection_max_messages = 2: the second message is the connection's last, which the cache
    # will not keep; with nothing waiting for the host, QUIT goes with its data, as Exim 4.96
    # sends it when nothing can follow. The first message's connection is kept: no QUIT then.
    d = relay("  connection_max_messages = 2\n" + KEEP_10S, sink=CountingSink(quit_probe=True))
    lines = [send(d, n) for n in range(2)]
    assert ["]*" in line for line in lines] == [False, True], lines
    assert wait_for(lambda: len(d.sink.quit_with_data) == 2, timeout=20)
    assert d.sink.quit_with_data == [False, True], d.sink.snapshot()
    assert d.sink.snapshot() == [["EHLO", "MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA", "QUIT"]]
    no_deferrals(d)


@pytest.mark.parametrize("say_421", [False, True])
def test_server_closing_idle_connection_is_no_deferral(relay, say_421):
    # The sink drops a connection idle for 1 s (with or without a 421): the worker sees it
    # and closes its end, and the next message opens a new connection. (The sink's limit holds
    # between the commands of a transaction too: shorter, a loaded machine could pass it there.)
    d = relay(sink=CountingSink(idle_close=1.0, say_421=say_421))
    lines = []
    for n in range(3):
        lines.append(send(d, n))
        assert wait_for(lambda: d.sink.snapshot()[n][-1] == "<idle close>", timeout=20), d.sink.snapshot()
    assert all("]*" not in line for line in lines), lines
    assert d.sink.messages == 3
    assert len(d.sink.snapshot()) == 3
    no_deferrals(d)


@pytest.mark.parametrize("silent", [False, True])
def test_kept_connection_dead_at_mail_goes_over_a_new_one(relay, silent):
    # The kept connection looks alive while idle but the server refuses the next MAIL (421)
    # or closes at it: the message goes over a new connection in the same attempt.
    d = relay(KEEP_60S, sink=CountingSink(die_on_mail=1, silent_death=silent))
    lines = [send(d, n) for n in range(3)]
    assert all("]*" not in line for line in lines), lines
    assert d.sink.messages == 3
    conns = d.sink.snapshot()
    # each connection: one message, then the MAIL it died at (the last one is still kept)
    assert len(conns) == 3, conns
    assert all(c.count("DATA") == 1 for c in conns), conns
    assert all(c[-1] == "<died>" for c in conns[:2]), conns
    assert d.mainlog.count(" Completed") == 3
    no_deferrals(d)


def exim_continued_commands(n):
    """Exim 4.96 carrying n messages over one connection: each first found the host down (so it
    is listed in wait-<transport>), then `exim -qf` delivers them. The commands the sink saw,
    per connection."""
    import pathlib
    import shutil
    import subprocess
    import tempfile
    from smtp_transport_helpers import EXIM_CONF
    (port,) = free_ports(1)
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-exim-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        for p in [d / "spool", d / "spool" / "db", d / "log"]:
            shutil.chown(p, "Debian-exim")
        conf = d / "exim.conf"
        conf.write_text(EXIM_CONF.format(d=d, hosts=f"127.0.0.1:{port}", extra="  hosts_avoid_tls = *\n"))
        for i in range(n):
            subprocess.run(["exim", "-C", str(conf), "-odi", "-f", "a@s.test", f"r{i}@r.test"],
                           input=b"Subject: t\n\nx\n", capture_output=True, timeout=30)
        sink = CountingSink()
        # the same port the messages wait for
        sink.sock.close()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(16)
        s.settimeout(0.2)
        sink.sock = s
        subprocess.run(["exim", "-C", str(conf), "-qf"], capture_output=True, timeout=60)
        assert wait_for(lambda: all(c and c[-1] == "QUIT" for c in sink.snapshot()), timeout=10)
        log = (d / "log" / "mainlog").read_text()
        sink.close()
        return sink.snapshot(), log
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(not shutil_which("exim"), reason="needs Exim 4.96")
def test_commands_between_messages_as_exim_continued_connection(relay):
    exim_conns, exim_log = exim_continued_commands(3)
    assert len(exim_conns) == 1 and exim_log.count("[127.0.0.1]* ") == 2, (exim_conns, exim_log)
    d = relay(KEEP_10S)
    for n in range(3):
        send(d, n)
    assert wait_for(lambda: d.sink.snapshot()[0][-1] == "QUIT", timeout=40), d.sink.snapshot()
    assert d.sink.snapshot() == exim_conns
    assert d.mainlog.count("[127.0.0.1]* ") == 2


def test_other_destination_gets_its_own_connection(relay):
    # Messages alternate between two hosts: a kept connection is used only for its own host;
    # the worker keeps the last one and says QUIT to the one it replaces.
    a, b = CountingSink(), CountingSink()
    try:
        d = relay(KEEP_10S, sink=a, route_list=f"a.example 127.0.0.1::{a.port} byname; b.example 127.0.0.1::{b.port} byname")
        for n in range(4):
            send(d, n, sender=f"s{n}@s.example", domain="a.example" if n % 2 == 0 else "b.example")
        assert a.messages == 2 and b.messages == 2
        assert wait_for(lambda: all(c[-1] == "QUIT" for c in a.snapshot() + b.snapshot()), timeout=40), \
            (a.snapshot(), b.snapshot())
        assert len(a.snapshot()) == 2 and len(b.snapshot()) == 2
        mails = [l.split()[1] for c in a.lines for l in c if l.startswith("MAIL")]
        assert mails == ["FROM:<s0@s.example>", "FROM:<s2@s.example>"]
        rcpts = [l for c in a.lines for l in c if l.startswith("RCPT")]
        assert rcpts == ["RCPT TO:<r0@a.example>", "RCPT TO:<r2@a.example>"]
        assert "]*" not in d.mainlog
        no_deferrals(d)
    finally:
        b.close()


def test_worker_killed_holding_a_connection_loses_nothing(relay):
    d = relay(KEEP_60S)
    send(d, 0)
    pids = workers_of_daemon(d)
    assert len(pids) == 1, pids
    assert d.sink.snapshot()[0][-1] == "DATA"   # kept: no QUIT yet
    os.kill(pids[0], signal.SIGKILL)
    assert wait_for(lambda: d.sink.snapshot()[0][-1] == "<eof>", timeout=20), d.sink.snapshot()
    send(d, 1)
    assert d.sink.messages == 2
    assert d.mainlog.count(" Completed") == 2
    no_deferrals(d)


def test_concurrent_senders_every_message_once_over_fewer_connections(relay):
    # Waves of messages from several clients at once: each wave's messages go to several
    # workers at the same time (a burst faster than deliveries gets a worker, and so a
    # connection, per message); the next wave finds those workers idle with their connections.
    # Every message reaches the sink exactly once and nothing is deferred.
    d = relay(KEEP_60S)
    errors = []

    def client(n):
        try:
            with smtplib.SMTP("127.0.0.1", d.port, timeout=20) as s:
                s.sendmail("a@s.example", [f"r{n}@r.example"], f"Subject: {n}\r\n\r\nbody {n}\r\n")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    for wave in range(3):
        threads = [threading.Thread(target=client, args=(wave * 10 + k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wait_for(lambda: d.mainlog.count(" Completed") == 4 * (wave + 1), timeout=20), d.mainlog
    assert not errors, errors
    assert wait_for(lambda: d.sink.messages == 12, timeout=20)
    rcpts = [l for c in d.sink.lines for l in c if l.startswith("RCPT")]
    assert sorted(rcpts) == sorted(f"RCPT TO:<r{w * 10 + k}@r.example>" for w in range(3) for k in range(4))
    conns = len(d.sink.snapshot())
    assert conns < 12, d.sink.snapshot()
    # every message not over a new connection is logged as a continued one
    assert d.mainlog.count("[127.0.0.1]* ") == 12 - conns, d.mainlog
    no_deferrals(d)
