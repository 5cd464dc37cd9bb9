"""The delivery launcher's workers (src/core/deliver_launch_pool.c): a daemon's deliveries after
reception run in long-lived worker processes, one message after another, instead of a fork per
message. What must hold: every message is delivered at once as before; a worker is used again
for the next message; a worker that is killed is replaced without losing the next message; a
worker whose credentials changed (deliver_drop_privilege) is not used again."""
import os
import pathlib
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time

import pytest

from daemon_helpers import Daemon, free_ports, reachable_by_exim_user, wait_for

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_events_order import FakeServer  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")


@pytest.fixture
def relay(postern_bin, tmp_path):
    started = []
    reachable_by_exim_user(tmp_path)

    def make(extra="", sink=None, transport_extra=""):
        sink = sink or FakeServer("ok")
        (port,) = free_ports(1)
        d = Daemon(postern_bin, tmp_path, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}\n"
                   "host_lookup =\nacl_smtp_rcpt = accept\nlog_selector = +pid\n" + extra
                   + f"\nbegin routers\nsink:\n  driver = manualroute\n  route_list = * 127.0.0.1::{sink.port}"
                   " byname\n  self = send\n  transport = t\n"
                   "begin transports\nt:\n  driver = smtp\n  allow_localhost\n  hosts_avoid_tls = *\n"
                   + transport_extra)
        d.port = port
        d.sink = sink
        d.start()
        started.append((d, sink))
        d.wait_listening(None)
        return d
    yield make
    for d, sink in started:
        d.stop()
        sink.close()


def send(d, n, rest=True):
    """Send message n and wait for its delivery, and until its worker is idle again; the pid
    that logged its "=>" line. rest=False: only until its -D is gone (a worker killed in the
    removals leaves the -J and msglog)."""
    try:
        with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
            s.sendmail("a@s.example", [f"r{n}@r.example"], f"Subject: {n}\r\n\r\nbody {n}\r\n")
    except smtplib.SMTPException as e:
        raise AssertionError(f"{e!r}\n{d.mainlog}\n{d.paniclog}\n{log_files(d)}") from e
    line = re.compile(r"\[(\d+)\] (\S+) => r%d@r\.example " % n)
    assert wait_for(lambda: line.search(d.mainlog), timeout=20), d.mainlog + d.paniclog
    pid, mid = line.search(d.mainlog).groups()
    # A worker reports itself idle before it removes the -D, -J and msglog: with them gone the
    # report is in the launcher's pipe before the next message's record, which then goes to the
    # same worker (sent sooner on a loaded machine, it would find none idle and start another),
    # and the worker holds none of their descriptors.
    files = [d.spool / "input" / f"{mid}-D"]
    if rest:
        files += [d.spool / "input" / f"{mid}-J", d.spool / "msglog" / mid]
    assert wait_for(lambda: not any(f.exists() for f in files), timeout=20), d.mainlog
    return int(pid)


def log_files(d):
    """Owner, group and mode of each file in the log directory."""
    out = []
    for f in sorted((d.spool / "log").iterdir()):
        st = f.stat()
        out.append(f"{f.name} {st.st_uid}:{st.st_gid} {oct(st.st_mode)} {st.st_size}")
    return out


def test_worker_delivers_one_message_after_another(relay):
    d = relay()
    pids = [send(d, n) for n in range(4)]
    assert len(set(pids)) == 1, pids
    assert d.mainlog.count(" Completed") == 4, d.mainlog


def test_killed_worker_is_replaced(relay):
    d = relay()
    first = send(d, 0)
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{first}/status")
                    or "\nState:\tZ" in pathlib.Path(f"/proc/{first}/status").read_text())
    second = send(d, 1)
    assert second != first
    assert send(d, 2) == second
    assert d.paniclog == ""


def test_worker_with_dropped_privilege_is_not_used_again(relay):
    # The whole delivery runs as the exim user: that worker cannot deliver as root again.
    d = relay("deliver_drop_privilege = true")
    pids = [send(d, n) for n in range(3)]
    assert len(set(pids)) == 3, pids


class HeldSink(FakeServer):
    """Takes messages, but holds the reply to the final dot until released; counts the
    messages it acknowledged."""

    def __init__(self):
        self.got_data = threading.Event()
        self.release = threading.Event()
        self.acked = 0
        super().__init__("ok")

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            c.settimeout(30)
            with c, c.makefile("rwb") as f:
                def w(x):
                    f.write(x.encode() + b"\r\n")
                    f.flush()
                w("220 held.example ESMTP")
                data = False
                for raw in f:
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    if data:
                        if line == ".":
                            data = False
                            self.got_data.set()
                            self.release.wait(30)
                            self.acked += 1
                            w("250 OK")
                        continue
                    up = line.upper()
                    if up.startswith("EHLO"):
                        w("250-held.example")
                        w("250 PIPELINING")
                    elif up == "DATA":
                        w("354 go")
                        data = True
                    elif up == "QUIT":
                        w("221 bye")
                        break
                    else:
                        w("250 OK")


def workers_of_daemon(d):
    """The launcher's workers (their transport children inherit the name, not the parent)."""
    out = []
    for p in pathlib.Path("/proc").iterdir():
        try:
            if not p.name.isdigit() or (p / "comm").read_text().strip() != "postern-deliver" \
                    or str(d.conf) not in (p / "cmdline").read_text():
                continue
            ppid = re.search(r"\nPPid:\t(\d+)", (p / "status").read_text()).group(1)
            if pathlib.Path(f"/proc/{ppid}/comm").read_text().strip() == "postern-launch":
                out.append(int(p.name))
        except (OSError, AttributeError):
            pass
    return out


def test_worker_killed_mid_delivery_no_loss_no_duplicate(relay, postern_bin):
    """kill -9 of a worker while its transport waits for the 250 after the data: the transport
    child finishes and journals (as after a killed delivery process), and a queue run then
    completes the message without delivering it again."""
    sink = HeldSink()
    d = relay(sink=sink)
    with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
        s.sendmail("a@s.example", ["r@r.example"], "Subject: held\r\n\r\nbody\r\n")
    assert sink.got_data.wait(20), d.mainlog + d.paniclog
    ws = workers_of_daemon(d)
    assert len(ws) == 1, ws
    os.kill(ws[0], signal.SIGKILL)
    sink.release.set()
    ids = re.findall(r" (\S{6}-\S{6}-\S{2}) <= ", d.mainlog)
    assert ids
    journal = d.spool / "input" / f"{ids[0]}-J"
    assert wait_for(lambda: sink.acked == 1 and journal.exists() and b"r@r.example" in journal.read_bytes(),
                    timeout=20), d.mainlog
    # The transport child has the -D lock until it exits: the queue run waits for that.
    assert wait_for(lambda: subprocess.run([postern_bin, "-C", str(d.conf), "-qf"], capture_output=True,
                                           timeout=60) and f"{ids[0]} Completed" in d.mainlog, timeout=30), d.mainlog
    assert sink.acked == 1
    assert sink.got_data.is_set() and d.paniclog == "", d.paniclog


def test_worker_killed_at_hand_over_message_goes_elsewhere_at_once(relay):
    """An idle worker that is stopped, handed a message (the job waits unread in its pipe) and
    then killed never began that message: the launcher gives it to another process at once,
    instead of leaving it for the next queue run (the daemon here runs none)."""
    d = relay()
    first = send(d, 0)
    assert workers_of_daemon(d) == [first]
    os.kill(first, signal.SIGSTOP)
    try:
        with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
            s.sendmail("a@s.example", ["r1@r.example"], "Subject: 1\r\n\r\nbody 1\r\n")
        # The launcher wrote the job into the stopped worker's pipe: nothing is delivered yet.
        assert wait_for(lambda: " <= " in d.mainlog.split("r0@r.example")[-1], timeout=30), d.mainlog
        assert not wait_for(lambda: "=> r1@r.example" in d.mainlog, timeout=1)
    finally:
        os.kill(first, signal.SIGKILL)
    line = re.compile(r"\[(\d+)\] \S+ => r1@r\.example ")
    assert wait_for(lambda: line.search(d.mainlog), timeout=30), d.mainlog + d.paniclog
    assert int(line.search(d.mainlog).group(1)) != first
    assert "ended before it took the message: delivering it in another process" in d.mainlog
    assert d.mainlog.count("=> r1@r.example") == 1
    assert d.paniclog == ""
    # The pool goes on: the next message is delivered by a worker as usual.
    send(d, 2)


def kcmp(pid1, pid2, kind):
    """0 when the two processes share the resource (KCMP_VM 1, KCMP_FILES 2)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(312, pid1, pid2, kind, 0, 0)  # SYS_kcmp on x86_64


def transport_child_of(worker):
    """The worker's transport child: a child of it running as the exim user (mail)."""
    import pwd
    mail = pwd.getpwnam("mail").pw_uid
    from daemon_helpers import children_of
    return [pid for pid, _, uid in children_of(worker) if uid == mail]


def test_smtp_child_shares_the_worker_and_leaves_nothing_open(relay):
    """A lone smtp batch runs in a child that shares the worker's memory and descriptors
    (src/core/deliver_inproc.c): no fork per message. What it opened (the connection to the
    sink, hints databases) is closed when it ends, so the worker's descriptors do not grow."""
    import platform
    if platform.machine() != "x86_64":
        pytest.skip("kcmp number is for x86_64")
    sink = HeldSink()
    # The kept connection stays for the whole test (2 s idle, the default, could pass between
    # the two listings on a loaded machine: one descriptor fewer).
    d = relay(sink=sink, transport_extra="  connection_idle_timeout = 60s\n")
    with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
        s.sendmail("a@s.example", ["r@r.example"], "Subject: held\r\n\r\nbody\r\n")
    assert sink.got_data.wait(20), d.mainlog + d.paniclog
    (worker,) = workers_of_daemon(d)
    (child,) = transport_child_of(worker)
    assert kcmp(worker, child, 1) == 0 and kcmp(worker, child, 2) == 0
    sink.release.set()
    assert wait_for(lambda: "=> r@r.example" in d.mainlog, timeout=20), d.mainlog
    sink.got_data.clear()
    assert send(d, 0) == worker
    fds = stable_fds(worker)
    for n in range(1, 6):
        assert send(d, n) == worker
    assert stable_fds(worker) == fds
    assert d.mainlog.count(" Completed") == 7 and sink.acked == 7, d.mainlog
    assert d.paniclog == ""


def stable_fds(pid):
    """The process's descriptors once two listings 0.2 s apart agree (an idle worker's, not
    one it holds for a moment between messages)."""
    last = None
    for _ in range(100):
        now = sorted(os.listdir(f"/proc/{pid}/fd"), key=int)
        if now == last:
            return now
        last = now
        time.sleep(0.2)
    return last


class HoldFirstSink:
    """Takes messages on connections of their own; never answers the first message's data (its
    connection is the one whose client gets killed). done: the Subjects it acknowledged."""

    def __init__(self):
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.got_data = threading.Event()
        self.stop = threading.Event()
        self.held = False
        self.done = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        c.settimeout(30)
        try:
            with c, c.makefile("rwb") as f:
                def w(x):
                    f.write(x.encode() + b"\r\n")
                    f.flush()
                w("220 hold.example ESMTP")
                data, subject = False, None
                for raw in f:
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    if data:
                        if line.startswith("Subject: "):
                            subject = line[9:]
                        if line == ".":
                            data = False
                            if not self.held:
                                self.held = True
                                self.got_data.set()
                                self.stop.wait(60)
                                return
                            w("250 OK")
                            self.done.append(subject)
                        continue
                    up = line.upper()
                    if up.startswith("EHLO"):
                        w("250-hold.example")
                        w("250 PIPELINING")
                    elif up == "DATA":
                        w("354 go")
                        data = True
                    elif up == "QUIT":
                        w("221 bye")
                        break
                    else:
                        w("250 OK")
        except OSError:
            pass

    def close(self):
        self.stop.set()
        try:
            self.sock.shutdown(2)
        except OSError:
            pass
        self.sock.close()


def test_smtp_child_killed_logs_and_leaves_the_message_queued(relay, postern_bin):
    """kill -9 of that smtp child while it waits for the 250 after the data: the worker writes
    the lines Exim 4.96 writes for its killed smtp transport process (observed: "Delivery status
    for <addr>: got 0 of 7 bytes (pipeheader) from transport process <pid> for transport smtp" in
    the main and panic logs, then "== <addr> R=.. T=.. defer (-1): smtp transport process returned
    non-zero status 0x0009: terminated by signal 9", then "Frozen"), prepared before the child
    started (deliver_died.c), and exits after a fresh image of the program froze the message; the
    launcher's next worker delivers the next message, and -M delivers the first one."""
    sink = HoldFirstSink()
    d = relay(sink=sink)
    with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
        s.sendmail("a@s.example", ["r@r.example"], "Subject: held\r\n\r\nbody\r\n")
    assert sink.got_data.wait(20), d.mainlog + d.paniclog
    (worker,) = workers_of_daemon(d)
    (child,) = transport_child_of(worker)
    os.kill(child, signal.SIGKILL)
    assert wait_for(lambda: "== r@r.example" in d.mainlog, timeout=20), d.mainlog
    log = re.sub(r"(?m)^\S+ \S+ \[\d+\] \S+ ", "", d.mainlog)
    status = f"Delivery status for r@r.example: got 0 of 7 bytes (pipeheader) from transport process {child}" \
             " for transport smtp\n\n"
    assert wait_for(lambda: "Frozen" in d.mainlog, timeout=30), d.mainlog
    log = re.sub(r"(?m)^\S+ \S+ \[\d+\] \S+ ", "", d.mainlog)
    assert status + "== r@r.example R=sink T=t defer (-1): smtp transport process returned non-zero status" \
                    " 0x0009: terminated by signal 9\nFrozen\n" in log, d.mainlog
    panic = re.sub(r"(?m)^\S+ \S+ \[\d+\] \S+ ", "", d.paniclog)
    assert panic == status, d.paniclog
    assert wait_for(lambda: workers_of_daemon(d) == [], timeout=30)
    (qid,) = re.findall(r" (\S{6}-\S{6}-\S{2}) <= ", d.mainlog)
    assert (d.spool / "input" / f"{qid}-H").exists()
    bp = subprocess.run([postern_bin, "-C", str(d.conf), "-bp"], capture_output=True, text=True, timeout=60)
    assert "*** frozen ***" in bp.stdout, bp.stdout
    assert send(d, 1) != worker
    qf = subprocess.run([postern_bin, "-C", str(d.conf), "-qf"], capture_output=True, text=True, timeout=60)
    assert f"{qid} Completed" not in d.mainlog
    m = subprocess.run([postern_bin, "-C", str(d.conf), "-M", qid], capture_output=True, text=True, timeout=60)
    # Once (session 13) this -M bounced in a full run, never since (any deferral fails the
    # address: no retry rules); what a failure needs to be understood is in its message.
    assert wait_for(lambda: f"{qid} Completed" in d.mainlog, timeout=30), \
        (qf, m, d.mainlog, d.paniclog, hints_dump(postern_bin, d, "retry"), hints_dump(postern_bin, d, "wait-t"))
    assert d.mainlog.count("=> r@r.example") == 1 and sorted(sink.done) == ["1", "held"], \
        (sink.done, d.mainlog, hints_dump(postern_bin, d, "retry"))


def hints_dump(postern_bin, d, name):
    """exim_dumpdb's listing of the daemon's hints database name."""
    tool = d.dir / "exim_dumpdb"
    if not tool.exists():
        os.symlink(postern_bin, tool)
    r = subprocess.run([str(tool), str(d.spool), name], capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def test_worker_killed_after_its_report_before_the_removals(relay, postern_bin):
    """A worker reports itself idle once the message's "Completed" is logged and its -H is gone,
    and only then removes -D, -J and msglog and forgets the schedule entry. strace kills it
    (SIGKILL injected at the entry of its first ftruncate, the emptying of -J, which comes after
    the report): the message stays delivered once, a queue run finds nothing to do, the launcher
    does not hand the message on again, and the next message goes to a new worker."""
    sink = HeldSink()
    sink.release.set()
    d = relay(sink=sink)
    first = send(d, 0)
    assert wait_for(lambda: d.mainlog.count(" Completed") == 1, timeout=20), d.mainlog
    trace = d.dir / "strace.out"
    st = subprocess.Popen(["strace", "-o", str(trace), "-e", "trace=ftruncate,write",
                           "-e", "inject=ftruncate:signal=SIGKILL:when=1", "-p", str(first)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: "TracerPid:\t0" not in open(f"/proc/{first}/status").read(), timeout=30)
    assert send(d, 1, rest=False) == first
    st.wait(timeout=20)
    assert wait_for(lambda: not os.path.exists(f"/proc/{first}/status")
                    or "\nState:\tZ" in pathlib.Path(f"/proc/{first}/status").read_text())
    lines = trace.read_text().splitlines()
    # The report (12 bytes on the launcher's pipe) was written before the kill.
    killed_at = next(i for i, ln in enumerate(lines) if ln.startswith("ftruncate("))
    # (strace pads a short line to a column before " = ": how short depends on the pid's bytes)
    assert any(re.match(r"write\(\d+, .*, 12\)\s+= 12", ln) for ln in lines[:killed_at]), lines
    ids = re.findall(r" (\S{6}-\S{6}-\S{2}) <= ", d.mainlog)
    assert len(ids) == 2
    assert f"{ids[1]} Completed" in d.mainlog
    assert not (d.spool / "input" / f"{ids[1]}-H").exists()
    # What the kill left (the -J, the msglog) is no message: a forced queue run delivers nothing.
    subprocess.run([postern_bin, "-C", str(d.conf), "-qff"], capture_output=True, timeout=60, check=True)
    out = subprocess.run([postern_bin, "-C", str(d.conf), "-bpc"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "0", out.stdout
    assert sink.acked == 2 and d.mainlog.count("=> r1@r.example") == 1, d.mainlog
    assert "ended before it took the message" not in d.mainlog
    second = send(d, 2)
    assert second != first
    assert sink.acked == 3 and d.paniclog == "", d.paniclog
