"""Helpers for tests that run `postern -bd`: free ports, a daemon started in a tmp dir and stopped
afterwards, process-table queries (children, zombies, uids) from /proc."""
import os
import pathlib
import signal
import socket
import subprocess
import time


def free_ports(n):
    """n TCP ports that are free on 127.0.0.1 and ::1 right now."""
    ports, socks = [], []
    while len(ports) < n:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.bind(("::1", p))
            socks.append(s6)
        except OSError:
            s.close()
            continue
        socks.append(s)
        ports.append(p)
    for s in socks:
        s.close()
    return ports


def base_config(spool, extra=""):
    return (f"spool_directory = {spool}\n"
            "exim_user = mail\nexim_group = mail\n"
            "daemon_startup_retries = 0\n"
            f"{extra}\n")


def children_of(pid):
    """(pid, state, uid) of the processes whose parent is pid."""
    out = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        # The daemon's delivery launcher (one per daemon, named postern-launch) is no session,
        # nor are the idle pre-forked processes waiting for a connection (postern-idle).
        if fields.get("PPid", "").strip() == str(pid) and fields.get("Name", "").strip() not in ("postern-launch", "postern-idle"):
            out.append((int(d.name), fields["State"].split()[0], int(fields["Uid"].split()[0])))
    return out


class Daemon:
    """A postern daemon in the foreground (-bdf) with a config in tmp_path."""

    def __init__(self, postern, tmp_path, config, args=()):
        self.postern = postern
        self.dir = pathlib.Path(tmp_path)
        self.spool = self.dir / "spool"
        self.conf = self.dir / "test.conf"
        self.conf.write_text(base_config(self.spool, config))
        self.args = list(args)
        self.proc = None

    @property
    def mainlog(self):
        p = self.spool / "log" / "mainlog"
        return p.read_text() if p.exists() else ""

    @property
    def paniclog(self):
        p = self.spool / "log" / "paniclog"
        return p.read_text() if p.exists() else ""

    def start(self, foreground=True, wait_port=None):
        cmd = [self.postern, "-C", str(self.conf), "-bdf" if foreground else "-bd"] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if wait_port:
            self.wait_listening(wait_port)
        return self

    def wait_listening(self, port, host="127.0.0.1", timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if "daemon started" in self.mainlog:
                return
            if self.proc.poll() is not None and self.proc.args[-1] != "-bd":
                raise AssertionError(f"daemon exited: {self.proc.stderr.read()!r} log={self.mainlog!r}")
            time.sleep(0.05)
        raise AssertionError("daemon did not start: " + self.mainlog)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def connect(port, host="127.0.0.1", timeout=5):
    """Connect and return (socket, first line received)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(1024)
        if not chunk:
            break
        data += chunk
    return s, data.decode()


def is_limit_reply(line):
    """A daemon limit's 421; anything else must be the session's 220 banner."""
    if line.startswith("421") and ("Too many" in line or "Too much load" in line):
        return True
    assert line.startswith("220 "), line
    return False


def wait_for(pred, timeout=5.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def pid_alive(pid):
    """The process exists and is not a zombie (an orphan's zombie may linger in a container whose
    init does not reap)."""
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
