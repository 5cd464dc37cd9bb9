"""Helpers for tests that run `postern -bd`: free ports, a daemon started in a tmp dir and stopped
afterwards, process-table queries (children, zombies, uids) from /proc."""
import os
import pathlib
import random
import re
import signal
import socket
import subprocess
import time


_handed_out = set()


def _ephemeral_low():
    try:
        return int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port):
    """True if port can be bound on every address a test daemon may use (0.0.0.0 and [::])."""
    socks = []
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        socks.append(s)
        s.bind(("0.0.0.0", port))
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        except OSError:
            return True
        socks.append(s6)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.bind(("::", port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_ports(n):
    """n TCP ports that are free on every local address right now.

    They are drawn from below the kernel's ephemeral range: a port the kernel hands out with
    bind(0) can be handed out again to any process's outgoing connection between this call and
    the test's own bind, which made daemons fail with "Address already in use" now and then.
    No port is given twice in one test run."""

    low = _ephemeral_low()
    first = 10000 if low > 12000 else 1024
    ports = []
    for _ in range(20000):
        if len(ports) == n:
            return ports
        p = random.randrange(first, low)
        if p in _handed_out or not _bindable(p):
            continue
        _handed_out.add(p)
        ports.append(p)
    raise RuntimeError("no free TCP port below the ephemeral range")


def free_port():
    """One port as free_ports gives them."""
    return free_ports(1)[0]


# Server-side TLS options: a config that sets one of them is about TLS and keeps what it says.
_TLS_SERVER_OPTION = re.compile(r"^[ \t]*(tls_advertise_hosts|tls_certificate|tls_on_connect_ports)[ \t]*=", re.M)
NO_TLS_OFFER = "tls_advertise_hosts =\n"


def without_tls_offer(text):
    """text with `tls_advertise_hosts =` first unless it sets a server TLS option itself.

    Without tls_certificate a daemon offers STARTTLS with a self-signed certificate whose RSA-3072
    key it makes at start (about a second of CPU), as Exim does; a daemon that is not about TLS
    offers none, so that it starts at once. An option may be set only once, hence the check."""
    return text if _TLS_SERVER_OPTION.search(text) else NO_TLS_OFFER + text


def base_config(spool, extra="", tls_default=False):
    """The common daemon config; tls_default: keep Exim's default tls_advertise_hosts (*) even
    when extra sets no TLS option (see without_tls_offer)."""
    text = (f"spool_directory = {spool}\n"
            "exim_user = mail\nexim_group = mail\n"
            "daemon_startup_retries = 0\n"
            f"{extra}\n")
    return text if tls_default or _TLS_SERVER_OPTION.search(extra) else NO_TLS_OFFER + text



def reachable_by_exim_user(path):
    """Sessions and deliveries run as the mail user below pytest's tmp_path (0700 by default):
    open it and the pytest-of-* directories above it for others to traverse."""
    os.chmod(path, 0o755)
    p = pathlib.Path(path)
    while p != p.parent:
        p = p.parent
        if "/pytest-of-" in str(p):   # pytest's own root; conftest's /tmp/pt-<pid> is opened once per run
            os.chmod(p, os.stat(p).st_mode | 0o005)

def start_mailbox_daemon(postern_bin, tmp_path, conf):
    """A daemon whose configuration (conf, with {port} and {box} to fill in) delivers into
    <tmp>/box/mbox as the mail user; d.port and d.box (the mbox path) are set."""
    reachable_by_exim_user(tmp_path)
    box = pathlib.Path(tmp_path) / "box"
    box.mkdir()
    os.chown(box, *mail_ids())
    (port,) = free_ports(1)
    d = Daemon(postern_bin, tmp_path, conf.format(port=port, box=box))
    d.port = port
    d.box = box / "mbox"
    d.start()
    d.wait_listening(None)
    return d


def mail_ids():
    import pwd
    pw = pwd.getpwnam("mail")
    return pw.pw_uid, pw.pw_gid


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


STARTED = "daemon started: "   # in the line the daemon logs once it listens (or runs the queue)


def listening_on(port):
    """Some socket in this network namespace listens on TCP port (IPv4 or IPv6), from
    /proc/net/tcp{,6}: state 0A is LISTEN, the local address's port is hex after the colon."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = pathlib.Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if len(f) > 3 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


class Daemon:
    """A postern daemon in the foreground (-bdf) with a config in tmp_path."""

    def __init__(self, postern, tmp_path, config, args=(), tls_default=False):
        """tls_default: as base_config's; otherwise a config the test writes to self.conf
        itself also gets `tls_advertise_hosts =` at start unless it sets a TLS option."""
        self.postern = postern
        self.dir = pathlib.Path(tmp_path)
        self.spool = self.dir / "spool"
        self.conf = self.dir / "test.conf"
        self.tls_default = tls_default
        self.conf.write_text(base_config(self.spool, config, tls_default))
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
        if not self.tls_default:
            text = self.conf.read_text()
            quiet = without_tls_offer(text)
            if quiet != text:
                self.conf.write_text(quiet)
        cmd = [self.postern, "-C", str(self.conf), "-bdf" if foreground else "-bd"] + self.args
        # A daemon started again in the same directory (stop then start, a retry) finds the
        # earlier one's "daemon started" lines in the mainlog: wait_listening waits for one more.
        self.starts_logged = self.mainlog.count(STARTED)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if wait_port:
            self.wait_listening(wait_port)
        return self

    def wait_listening(self, port, host="127.0.0.1", timeout=10):
        """Until this start's own "daemon started" line is in the mainlog (the daemon logs it
        after listen() on every socket, so connections are accepted from then on), and, when
        port is given, a socket listens on it. No connection is made to check: a test that
        counts the daemon's connection or "no MAIL" lines would count it too."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.mainlog.count(STARTED) > getattr(self, "starts_logged", 0) and (not port or listening_on(port)):
                return
            if self.proc.poll() is not None and "-bd" not in self.proc.args:
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


def wait_for(pred, timeout=20.0, step=0.05):
    """Until pred() is true or timeout seconds passed; pred()'s last value. The default is long
    because a true condition returns at once, and on a loaded 2-core machine a delivery through
    the launcher can take seconds (a test that waits for something NOT to happen passes its own
    short timeout)."""
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
