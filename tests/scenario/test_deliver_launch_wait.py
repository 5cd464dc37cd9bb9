"""The delivery launcher with all its workers busy (src/core/deliver_launch_pool.c,
docs/delivery.md): a message received while all 32 workers deliver waits for the first of them to
become idle, as long as they keep finishing messages; after 200 ms with none finished it gets a
delivery process of its own. Either way it is delivered exactly once, and workers held up by a
slow server never hold it up for longer than that."""
import os
import pathlib
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time

import pytest

from daemon_helpers import wait_for

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_conn_cache import relay  # noqa: E402,F401  (the fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")

WORKERS = 32  # LPOOL_MAX


class GateSink:
    """An SMTP server, a thread per connection, that holds its reply to each final dot until
    the test opens that connection's gate (open_gate) or all of them (open_all)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.gates = []      # per connection: an Event, set = replies flow
        self.opened_at = []  # per connection: when it was accepted (time.monotonic)
        self.mail_at = []    # per connection: when each MAIL came (the worker's next message)
        self.held = 0        # dots waiting for their gate now
        self.pace = 0.0      # seconds each reply to a dot takes once its gate is open
        self.opened_all = threading.Event()
        self.messages = []   # (connection index, Subject)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                k = len(self.gates)
                self.gates.append(threading.Event())
                self.opened_at.append(time.monotonic())
                self.mail_at.append([])
            threading.Thread(target=self.serve, args=(c, k), daemon=True).start()

    def serve(self, c, k):
        c.settimeout(60)
        with c, c.makefile("rwb") as f:
            def w(x):
                f.write(x.encode() + b"\r\n")
                f.flush()
            w("220 gate.example ESMTP")
            data, subject = False, None
            try:
                for raw in f:
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    if data:
                        if line.startswith("Subject: "):
                            subject = line[9:]
                        if line == ".":
                            data = False
                            with self.lock:
                                self.held += 1
                            while not (self.gates[k].is_set() or self.opened_all.is_set()):
                                self.gates[k].wait(0.05)
                            time.sleep(self.pace)
                            with self.lock:
                                self.held -= 1
                                self.messages.append((k, subject))
                            w("250 OK")
                        continue
                    up = line.upper()
                    if up.startswith("MAIL"):
                        self.mail_at[k].append(time.monotonic())
                    if up.startswith("EHLO"):
                        w("250-gate.example")
                        w("250 PIPELINING")
                    elif up == "DATA":
                        w("354 go")
                        data = True
                    elif up == "QUIT":
                        w("221 bye")
                        return
                    else:
                        w("250 OK")
            except OSError:
                return

    def open_gate(self, k):
        self.gates[k].set()

    def open_all(self):
        self.opened_all.set()

    def close(self):
        self.open_all()
        self.stop = True
        self.sock.close()


def submit(d, n):
    with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
        s.sendmail("a@s.example", [f"r{n}@r.example"], f"Subject: {n}\r\n\r\nbody {n}\r\n")


class Inconclusive(AssertionError):
    """The machine was too slow for the attempt to show the rule: the moving worker went more
    than WAIT_S between two messages (its cycle of SMTP and log writes was held up), and then a
    message rightly gets a process of its own."""


WAIT_S = 0.2      # LPOOL_WAIT_MS
SLACK_S = 0.04    # a MAIL's lag behind the idle report before it varies by this much


def check_queue_moved(sink, events, until, what):
    """what failed, unless worker 0 went more than WAIT_S - SLACK_S without starting a message
    or a message coming (events: when messages were sent, from the first) until `until`: then
    the failure says nothing about the launcher (Inconclusive)."""
    first = min(events)
    times = sorted(list(events) + [t for t in sink.mail_at[0] if first < t < until] + [until])
    gap = max(b - a for a, b in zip(times, times[1:]))
    if gap > WAIT_S - SLACK_S:
        raise Inconclusive(f"{what}; but the worker went {gap:.3f} s without a new message")
    raise AssertionError(f"{what} while the worker never went more than {gap:.3f} s without a new message")


def timing_attempts(relay, attempt, n=5):
    """The waiting rule is about time (a worker idle within 200 ms): on a machine loaded by other
    work a worker's cycle can pass 200 ms and a message rightly gets a process of its own. Such
    an attempt (Inconclusive) is repeated with a fresh daemon and sink (in a directory of their
    own; the failed attempt's are stopped first), as is one that failed otherwise, up to n in
    all. A failure of the rule itself is reported; if every attempt was too slow to show the rule,
    the test is skipped (saying so) rather than failed."""
    failures = []
    for i in range(n):
        try:
            return attempt()
        except AssertionError as e:
            failures.append(e)
            print(f"attempt {i + 1}: {type(e).__name__}: {str(e)[:300]}")   # shown with -rP or a failure
            if i < n - 1:
                relay.retire()
    real = [e for e in failures if not isinstance(e, Inconclusive)]
    if real:
        raise real[-1]
    pytest.skip("machine too loaded to show the launcher's waiting rule in %d attempts: %s" % (n, failures[-1]))


def all_workers_held(d, sink):
    for n in range(WORKERS):
        submit(d, n)
    assert wait_for(lambda: sink.held == WORKERS, timeout=30), (sink.held, d.mainlog + d.paniclog)
    assert len(sink.gates) == WORKERS


def delivered_once_each(d, sink, n):
    assert wait_for(lambda: d.mainlog.count(" Completed") == n, timeout=30), d.mainlog + d.paniclog
    for k in range(n):
        assert len(re.findall(r" => r%d@r\.example " % k, d.mainlog)) == 1, d.mainlog
    assert sorted(int(s) for _, s in sink.messages) == list(range(n))
    assert " == " not in d.mainlog and d.paniclog == ""


def test_message_waits_for_the_first_worker_that_becomes_idle(relay):
    timing_attempts(relay, lambda: _message_waits_for_the_first_worker_that_becomes_idle(relay))


def _message_waits_for_the_first_worker_that_becomes_idle(relay):
    """All workers wait for the server's reply; a message received then goes to the first worker
    that becomes idle, over the connection that worker kept (a continued delivery, "*"), not to a
    process of its own with a new connection."""
    sink = GateSink()
    d = relay(sink=sink)
    all_workers_held(d, sink)
    t0 = time.monotonic()
    submit(d, WORKERS)       # its 250: the launcher has it (the hand-over comes before the 250)
    sink.open_gate(0)        # one worker finishes its message and reports idle
    line = re.compile(r"^.* => r%d@r\.example .*$" % WORKERS, re.M)
    assert wait_for(lambda: line.search(d.mainlog), timeout=20), d.mainlog + d.paniclog
    if len(sink.gates) > WORKERS:
        check_queue_moved(sink, [t0], sink.opened_at[WORKERS], "a connection of its own: it did not wait for the idle worker")
    assert "H=127.0.0.1 [127.0.0.1]* " in line.search(d.mainlog).group(0), d.mainlog
    assert (0, str(WORKERS)) in sink.messages
    sink.open_all()
    delivered_once_each(d, sink, WORKERS + 1)


def test_message_gets_a_process_of_its_own_when_no_worker_becomes_idle(relay):
    """Workers held up (a slow server) do not hold the new message up: after the wait it is
    delivered by a process of its own over a connection of its own, while they still wait."""
    sink = GateSink()
    d = relay(sink=sink)
    all_workers_held(d, sink)
    t0 = time.monotonic()
    submit(d, WORKERS)
    line = re.compile(r"^.* => r%d@r\.example .*$" % WORKERS, re.M)
    assert wait_for(lambda: len(sink.gates) == WORKERS + 1, timeout=20), d.mainlog + d.paniclog
    assert time.monotonic() - t0 >= 0.15, "it did not wait for a worker first"
    sink.open_gate(WORKERS)
    assert wait_for(lambda: line.search(d.mainlog), timeout=20), d.mainlog + d.paniclog
    assert "H=127.0.0.1 [127.0.0.1] " in line.search(d.mainlog).group(0), d.mainlog
    assert sink.held == WORKERS, "the workers were released meanwhile"
    sink.open_all()
    delivered_once_each(d, sink, WORKERS + 1)


def test_messages_keep_waiting_while_the_workers_finish_messages(relay):
    timing_attempts(relay, lambda: _messages_keep_waiting_while_the_workers_finish_messages(relay))


def _messages_keep_waiting_while_the_workers_finish_messages(relay):
    """Five messages wait behind one worker that takes 80 ms per message (the other workers held
    up): the last waits ~400 ms, more than 200 ms, but a worker becomes idle every 80 ms, so the
    queue is moving and each goes to that worker over its connection in turn; none gets a
    process (and a connection) of its own, as they did when the wait ended 200 ms after each
    message came (hundreds of forks at once under load)."""
    sink = GateSink()
    d = relay(sink=sink)
    all_workers_held(d, sink)
    sink.pace = 0.08
    sink.open_gate(0)
    extra = 5
    sent = []
    for n in range(WORKERS, WORKERS + extra):
        sent.append(time.monotonic())
        submit(d, n)
    want = {str(n) for n in range(WORKERS, WORKERS + extra)}
    # (a message with a process of its own waits at its closed gate: that ends the wait too)
    assert wait_for(lambda: want <= {s for _, s in sink.messages} or len(sink.gates) > WORKERS, timeout=20), \
        (len(sink.gates), sink.messages, d.mainlog + d.paniclog)
    if len(sink.gates) > WORKERS:
        check_queue_moved(sink, sent, sink.opened_at[WORKERS], "a message got a process of its own while the queue moved")
    assert all(k == 0 for k, s in sink.messages if s in want), sink.messages
    for n in range(WORKERS, WORKERS + extra):
        line = re.search(r"^.* => r%d@r\.example .*$" % n, d.mainlog, re.M)
        assert line and "H=127.0.0.1 [127.0.0.1]* " in line.group(0), d.mainlog
    assert sink.held == WORKERS - 1
    sink.open_all()
    delivered_once_each(d, sink, WORKERS + extra)


def test_a_message_waits_two_seconds_at_most_behind_one_moving_worker(relay):
    timing_attempts(relay, lambda: _a_message_waits_two_seconds_at_most_behind_one_moving_worker(relay))


def _a_message_waits_two_seconds_at_most_behind_one_moving_worker(relay):
    """Forty messages behind one worker that takes 100 ms per message (the other workers held
    up): the queue moves, but the later ones would wait about 3 s; after 2 s a message gets a
    process (and a connection) of its own. Not at 200 ms: the worker keeps finishing messages."""
    sink = GateSink()
    d = relay(sink=sink)
    all_workers_held(d, sink)
    sink.pace = 0.1
    sink.open_gate(0)
    extra = 40
    # Ten a connection: smtp_accept_queue_per_connection (10) would queue the rest.
    clients = [smtplib.SMTP("127.0.0.1", d.port, timeout=30) for _ in range(4)]
    t0 = time.monotonic()
    for n in range(WORKERS, WORKERS + extra):
        clients[n % 4].sendmail("a@s.example", [f"r{n}@r.example"], f"Subject: {n}\r\n\r\nbody {n}\r\n")
    sent = time.monotonic() - t0
    for c in clients:
        c.quit()
    assert wait_for(lambda: len(sink.gates) > WORKERS, timeout=20), (sink.messages, d.mainlog + d.paniclog)
    waited = sink.opened_at[WORKERS] - t0
    if waited < 1.9:
        check_queue_moved(sink, [t0], sink.opened_at[WORKERS],
                          f"a process of its own after {waited:.2f} s while the queue moved (sent in {sent:.2f} s)")
    sink.open_all()
    delivered_once_each(d, sink, WORKERS + extra)


def launcher_of(d):
    """The daemon's launcher (its direct child named postern-launch)."""
    for p in pathlib.Path("/proc").iterdir():
        try:
            if p.name.isdigit() and (p / "comm").read_text().strip() == "postern-launch" \
                    and str(d.conf) in (p / "cmdline").read_text():
                ppid = re.search(r"\nPPid:\t(\d+)", (p / "status").read_text()).group(1)
                if int(ppid) == d.proc.pid:
                    return int(p.name)
        except (OSError, AttributeError):
            pass
    return None


def shared_pipes_read_by(launcher, d):
    """The launcher's read ends of pipes the daemon holds too: its input (the daemon keeps the
    read end so that records wait while a dead launcher is replaced: deliver_start.c)."""
    def pipes(pid):
        out = {}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("pipe:"):
                out[fd] = link
        return out
    ours = set(pipes(d.proc.pid).values())
    read_ends = []
    for fd, link in pipes(launcher).items():
        flags = re.search(r"flags:\s*(\d+)", pathlib.Path(f"/proc/{launcher}/fdinfo/{fd}").read_text())
        if link in ours and flags and int(flags.group(1), 8) & 3 == os.O_RDONLY:
            read_ends.append(f"/proc/{launcher}/fd/{fd}")
    assert read_ends, "no input pipe found"
    return read_ends


def unread_bytes(paths):
    import fcntl
    import termios
    total = 0
    for path in paths:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            buf = bytearray(4)
            fcntl.ioctl(fd, termios.FIONREAD, buf)
            total += int.from_bytes(buf, sys.byteorder)
        finally:
            os.close(fd)
    return total


def processes_of_their_own(launcher):
    """The launcher's children that are no worker: delivery processes of their own (forked
    from the launcher, they keep its name)."""
    out = []
    for p in pathlib.Path("/proc").iterdir():
        try:
            if p.name.isdigit() and re.search(r"\nPPid:\t%d\n" % launcher, (p / "status").read_text()) \
                    and (p / "comm").read_text().strip() != "postern-deliver":
                out.append(int(p.name))
        except OSError:
            pass
    return out


def test_launcher_killed_while_a_message_waits_loses_nothing(relay, postern_bin):
    """kill -9 of the launcher while a message waits in it for a worker: the message is spooled
    and acknowledged, so it stays queued (as one still in the launcher's pipe), and a queue run
    delivers it once; the workers finish the messages they hold, each once."""
    sink = GateSink()
    d = relay(sink=sink)
    all_workers_held(d, sink)
    launcher = launcher_of(d)
    assert launcher, "no launcher"
    inputs = shared_pipes_read_by(launcher, d)
    submit(d, WORKERS)
    # The launcher has read the message's record (it waits in the launcher, not in the pipe,
    # where the next launcher would read it and deliver it at once).
    assert wait_for(lambda: unread_bytes(inputs) == 0, timeout=30)
    # Stopped, the launcher shows what it did with the message: if a loaded machine let its
    # 200 ms wait pass before the kill, it has a process of its own (which may not have
    # connected to the sink yet), delivered once all the same; otherwise the message waits.
    os.kill(launcher, signal.SIGSTOP)
    waited = not processes_of_their_own(launcher) and unread_bytes(inputs) == 0
    os.kill(launcher, signal.SIGKILL)
    sink.open_all()
    assert wait_for(lambda: d.mainlog.count(" Completed") >= WORKERS, timeout=30), d.mainlog + d.paniclog
    if waited:
        # Nothing can deliver it now but a queue run: a while without its "=>" line shows that.
        time.sleep(0.5)
        assert not re.search(r" => r%d@r\.example " % WORKERS, d.mainlog), d.mainlog
    subprocess.run([postern_bin, "-C", str(d.conf), "-q"], capture_output=True, timeout=60)
    delivered_once_each(d, sink, WORKERS + 1)
