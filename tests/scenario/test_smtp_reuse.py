"""Connection reuse (issue 4 §3: connection_max_messages, wait-<transport>, -MC).

Messages queued for a host that is down are listed under the host's name in wait-<transport>;
when the host is back, the first delivery hands its connection to the next waiting message (a
-MC process), so N messages go over one connection (up to connection_max_messages). Checked
against a scripted sink that counts connections and records every command, and against Exim
4.96 doing the same against the same sink (its main log lines, its wait- record)."""
import os
import pwd
import ssl
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

EXIM = shutil.which("exim") or "/usr/sbin/exim4"
ID = re.compile(r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}")

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = {user}
exim_group = {user}
never_users =
trusted_users = root
keep_environment =
begin routers
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
{extra}
begin retry
* * {retry}
"""


class Sink:
    """An SMTP server on loopback: PIPELINING, SIZE; records each connection's commands."""

    def __init__(self, port, tls=None, greet_delay=0):
        self.port = port
        self.greet_delay = greet_delay
        self.tls = tls      # an ssl.SSLContext: STARTTLS offered
        self.conns = []
        self.lock = threading.Lock()
        # The socket free_port kept bound (so nothing else took the port while the "host" was
        # down), or a new one.
        self.srv = _reserved.pop(port, None)
        if self.srv is None:
            self.srv = socket.socket()
            self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.srv.bind(("127.0.0.1", port))
        self.srv.listen(20)
        self.stop = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            if self.stop:
                c.close()
                return
            cmds = []
            with self.lock:
                self.conns.append(cmds)
            threading.Thread(target=self._serve, args=(c, cmds), daemon=True).start()

    def _serve(self, c, cmds):
        c.settimeout(20)
        f = c.makefile("rb")
        try:
            time.sleep(self.greet_delay)
            c.sendall(b"220 sink ESMTP\r\n")
            data = False
            in_tls = False
            while True:
                line = f.readline()
                if not line:
                    break
                if data:
                    if line == b".\r\n":
                        data = False
                        cmds.append("<data>")
                        c.sendall(b"250 OK queued\r\n")
                    continue
                cmd = line.decode(errors="replace").rstrip("\r\n")
                cmds.append(cmd)
                u = cmd.upper()
                if u.startswith("EHLO"):
                    tls = b"250-STARTTLS\r\n" if self.tls and not in_tls else b""
                    c.sendall(b"250-sink\r\n250-PIPELINING\r\n" + tls + b"250-SIZE 100000000\r\n250 8BITMIME\r\n")
                elif u == "STARTTLS" and self.tls and not in_tls:
                    c.sendall(b"220 go ahead\r\n")
                    c = self.tls.wrap_socket(c, server_side=True)
                    f = c.makefile("rb")
                    in_tls = True
                    cmds.append("<tls>")
                elif u == "DATA":
                    data = True
                    c.sendall(b"354 go\r\n")
                elif u == "QUIT":
                    c.sendall(b"221 bye\r\n")
                    cmds.append("<quit>")
                    break
                else:
                    c.sendall(b"250 OK\r\n")
        except OSError:
            pass
        finally:
            cmds.append("<closed>")
            c.close()

    def wait_closed(self, n, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if len(self.conns) >= n and all(c and c[-1] == "<closed>" for c in self.conns):
                    return
            time.sleep(0.05)

    def close(self):
        # The accepting thread must be gone before the descriptor is closed: a thread that
        # (re)enters accept() with a closed descriptor number that a later test's Sink has been
        # given takes that test's connections (seen under load: the "second connection" and
        # "no connection" failures of these tests). shutdown() wakes a blocked accept().
        self.stop = True
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.acceptor.join(10)
        self.srv.close()


_reserved = {}


def free_port():
    """A loopback port that refuses connections (bound, not listening) until a Sink listens
    on it: no other test on the machine can take it while the "host" is meant to be down."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    _reserved[p] = s
    return p


class Mta:
    def __init__(self, binary, d, port, extra="", exim=False, user=None, retry="F,1m,1m"):
        self.binary, self.d, self.exim = binary, d, exim
        user = user or ("Debian-exim" if exim else "root")
        for sub in ("spool", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
            if user != "root":
                shutil.chown(d / sub, user, user)
        self.conf = d / "conf"
        self.conf.write_text(CONF.format(d=d, port=port, extra=extra, user=user, retry=retry))

    def run(self, *args, input=None, check=True):
        p = subprocess.run([self.binary, "-C", str(self.conf), *args], input=input,
                           capture_output=True, text=True, timeout=60)
        if check:
            assert p.returncode == 0, p.stderr
        return p

    def queue(self, n):
        for i in range(n):
            self.run("-odq", "-f", "s@x.test", f"u{i}@a.test", input=f"Subject: m{i}\n\nbody {i}\n")
        return self.ids()

    def ids(self):
        return sorted(set(ID.findall(self.run("-bpr").stdout)))

    def log(self):
        p = self.d / "log" / "mainlog"
        return p.read_text() if p.exists() else ""

    def dumpdb(self, name):
        if self.exim:
            return self.run_tool("exim_dumpdb", name)
        return self.run("-bdbdump", str(self.d / "spool"), name, check=False).stdout

    def run_tool(self, tool, name):
        return subprocess.run([tool, str(self.d / "spool"), name], capture_output=True, text=True,
                              timeout=30).stdout

    def wait_done(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end and self.ids():
            time.sleep(0.05)


def postern_bin():
    return os.environ["POSTERN"]


def deliveries(log):
    """The => lines without time stamp, id and recipient."""
    out = []
    for line in log.splitlines():
        m = re.search(r" => \S+ (.*)$", line)
        if m:
            out.append(m.group(1))
    return sorted(out)


def defer_then_deliver(mta, port, n, qflag="-qf"):
    """Queue n messages while the host is down, run the queue once (deferred: the wait record),
    then bring the host up and run the queue again."""
    ids = mta.queue(n)
    mta.run("-q")
    waiting = mta.dumpdb("wait-t")
    sink = Sink(port)
    try:
        mta.run(qflag)
        mta.wait_done()
        sink.wait_closed(1)
    finally:
        sink.close()
    return ids, waiting, sink


def test_queued_messages_share_one_connection(tmp_path):
    port = free_port()
    mta = Mta(postern_bin(), tmp_path, port)
    ids, waiting, sink = defer_then_deliver(mta, port, 4)
    # Every deferred or skipped message waits for the host's name, as exim_dumpdb shows it.
    line = waiting.strip().splitlines()[0]
    assert line.startswith("127.0.0.1 ")
    assert sorted(line.split()[1:]) == ids
    # On failure the main log too: which process deferred what shows why a second connection
    # was opened (a flake seen only at load ~20-36, not yet explained).
    assert len(sink.conns) == 1, (sink.conns, mta.log())
    cmds = sink.conns[0]
    assert sum(1 for c in cmds if c.startswith("MAIL FROM:")) == 4
    assert cmds.count("<data>") == 4
    # As Exim 4.96: no RSET between the messages, one QUIT at the end.
    assert "RSET" not in cmds
    assert cmds[-2:] == ["<quit>", "<closed>"]
    assert sum(1 for c in cmds if c.startswith("EHLO")) == 1
    lines = deliveries(mta.log())
    assert lines.count('R=r T=t H=127.0.0.1 [127.0.0.1]* C="250 OK queued"') == 3
    assert lines.count('R=r T=t H=127.0.0.1 [127.0.0.1] C="250 OK queued"') == 1
    assert mta.log().count("Completed") == 4
    # Emptied, the record goes.
    assert mta.dumpdb("wait-t").strip() == ""
    # The queue run waited for the chain: its End line comes after the last delivery.
    tail = mta.log().splitlines()[-1]
    assert "End queue run" in tail


def test_same_as_exim(tmp_path):
    """Exim 4.96 and Postern, each with four messages for one host that was down: the same
    wait- record (ids aside), the same => lines, one connection each."""
    results, logs = {}, {}
    # Exim's user must reach its spool: a world-searchable directory outside pytest's.
    exim_dir = pathlib.Path(tempfile.mkdtemp(prefix="postern-reuse-"))
    os.chmod(exim_dir, 0o755)
    try:
        for name, binary, d in (("exim", EXIM, exim_dir), ("postern", postern_bin(), tmp_path)):
            port = free_port()
            mta = Mta(binary, d, port, exim=name == "exim")
            ids, waiting, sink = defer_then_deliver(mta, port, 4)
            assert sink.conns, (name, mta.log())
            results[name] = (ID.sub("ID", waiting), deliveries(mta.log()), len(sink.conns),
                             [ID.sub("ID", c) for c in sink.conns[0]])
            logs[name] = mta.log()
    finally:
        shutil.rmtree(exim_dir, ignore_errors=True)
    assert results["postern"][0] == results["exim"][0]
    assert results["postern"][1] == results["exim"][1]
    assert results["postern"][2] == results["exim"][2] == 1, logs
    # The same conversation, SIZE= aside (the message sizes differ by the Received: line) and
    # the order of the messages (the queue run's order is random).
    def masked(cmds):
        return [re.sub(r"u\d@", "uN@", re.sub(r" SIZE=\d+", "", c)) for c in cmds]
    assert masked(results["postern"][3]) == masked(results["exim"][3])


def test_connection_max_messages_limits_each_connection(tmp_path):
    port = free_port()
    mta = Mta(postern_bin(), tmp_path, port, extra="  connection_max_messages = 2")
    ids, _, sink = defer_then_deliver(mta, port, 5)
    sink.wait_closed(3)
    counts = sorted(c.count("<data>") for c in sink.conns)
    assert sum(counts) == 5
    assert max(counts) <= 2
    assert len(sink.conns) == 3
    assert not mta.ids()


def test_connection_max_messages_1_keeps_no_wait_records(tmp_path):
    port = free_port()
    mta = Mta(postern_bin(), tmp_path, port, extra="  connection_max_messages = 1")
    ids, waiting, sink = defer_then_deliver(mta, port, 3)
    assert waiting.strip() == ""
    assert not (tmp_path / "spool" / "db" / "wait-t.lmdb").exists()
    sink.wait_closed(3)
    assert len(sink.conns) == 3
    assert all(c.count("<data>") == 1 for c in sink.conns)
    assert "]*" not in mta.log()


def test_two_phase_queue_run_uses_one_connection(tmp_path):
    """-qq: the first phase routes everything and lists the messages in wait-t; the second
    phase's first delivery carries the others."""
    port = free_port()
    mta = Mta(postern_bin(), tmp_path, port)
    mta.queue(3)
    assert mta.dumpdb("wait-t").strip() == ""
    sink = Sink(port)
    try:
        mta.run("-qq")
        mta.wait_done()
        sink.wait_closed(1)
    finally:
        sink.close()
    assert len(sink.conns) == 1, sink.conns
    assert sink.conns[0].count("<data>") == 3
    assert deliveries(mta.log()).count('R=r T=t H=127.0.0.1 [127.0.0.1]* C="250 OK queued"') == 2


def test_minus_MC_with_exims_arguments(tmp_path):
    """-MC as Exim passes it: the connection on standard input, past EHLO; the process goes
    straight to MAIL and QUITs when nothing else waits."""
    port = free_port()
    mta = Mta(postern_bin(), tmp_path, port)
    (mid,) = mta.queue(1)
    ours, theirs = socket.socketpair()
    cmds = []

    def serve():
        f = ours.makefile("rb")
        data = False
        while True:
            line = f.readline()
            if not line:
                break
            if data:
                if line == b".\r\n":
                    data = False
                    ours.sendall(b"250 OK taken\r\n")
                continue
            cmd = line.decode().rstrip("\r\n")
            cmds.append(cmd)
            if cmd == "DATA":
                data = True
                ours.sendall(b"354 go\r\n")
            elif cmd == "QUIT":
                ours.sendall(b"221 bye\r\n")
                break
            else:
                ours.sendall(b"250 OK\r\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    p = subprocess.run([postern_bin(), "-C", str(mta.conf), "-MCd", "continued-transport", "-MCP",
                        "-MCS", "-MC", "t", "127.0.0.1", "127.0.0.1", "2", mid],
                       stdin=theirs, capture_output=True, text=True, timeout=30)
    theirs.close()
    t.join(10)
    assert p.returncode == 0, p.stderr
    assert cmds[0].startswith("MAIL FROM:<s@x.test> SIZE=")
    assert cmds[1:] == ["RCPT TO:<u0@a.test>", "DATA", "QUIT"]
    assert re.search(r"=> u0@a.test R=r T=t H=127.0.0.1 \[127.0.0.1\]\* C=\"250 OK taken\"", mta.log())
    assert not mta.ids()


def test_minus_MC_malformed(tmp_path):
    mta = Mta(postern_bin(), tmp_path, free_port())
    p = mta.run("-MC", "t", "h", "1.2.3.4", "x", "1xUnMh-0002Zh-0V", check=False)
    assert p.returncode != 0
    assert "malformed, or incomplete option -MC" in p.stderr
    p = mta.run("-MCQ", "1", check=False)
    assert p.returncode != 0


def test_minus_MC_for_a_missing_message_quits(tmp_path):
    mta = Mta(postern_bin(), tmp_path, free_port())
    ours, theirs = socket.socketpair()
    p = subprocess.Popen([postern_bin(), "-C", str(mta.conf), "-MC", "t", "127.0.0.1", "127.0.0.1", "2",
                          "1xUnMh-0002Zh-0V"], stdin=theirs, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    theirs.close()
    ours.settimeout(10)
    assert ours.recv(100) == b"QUIT\r\n"
    ours.sendall(b"221 bye\r\n")
    assert p.wait(10) == 0


@pytest.fixture
def server_tls(tmp_path):
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "2", "-subj", "/CN=sink.test"],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))
    return ctx


def test_tls_connection_carries_the_queue_through_a_proxy(tmp_path, server_tls):
    """A TLS session cannot follow an exec: as Exim (hosts_noproxy_tls unset), the process that
    has it stays as a proxy and the continued deliveries talk through it, in one TLS session."""
    port = free_port()
    mta = Mta(postern_bin(), tmp_path / "m", port)
    ids = mta.queue(3)
    mta.run("-q")
    sink = Sink(port, tls=server_tls)
    try:
        mta.run("-qf")
        mta.wait_done()
        sink.wait_closed(1)
    finally:
        sink.close()
    assert not mta.ids()
    assert len(sink.conns) == 1, (sink.conns, mta.log())
    cmds = sink.conns[0]
    assert cmds.count("<tls>") == 1
    assert cmds.count("<data>") == 3
    assert cmds[-2:] == ["<quit>", "<closed>"]
    lines = deliveries(mta.log())
    assert len(lines) == 3
    assert sum(1 for x in lines if re.search(r"\]\* X=\S+", x)) == 2, lines
    assert all(" X=" in x for x in lines)
    # The run's End line comes after the deliveries the chain carried.
    assert "End queue run" in mta.log().splitlines()[-1]


def test_minus_M_over_tls_returns_when_the_chain_is_done(tmp_path, server_tls):
    """-M waits for the continued deliveries it starts, as Exim's (whose transport becomes the
    -MC process): here through the TLS proxy, so the proxy ends with the chain, and every
    message is delivered when -M returns (no waiting here)."""
    port = free_port()
    mta = Mta(postern_bin(), tmp_path / "m", port)
    ids = mta.queue(3)
    mta.run("-q")
    sink = Sink(port, tls=server_tls)
    try:
        mta.run("-M", ids[0])
        assert not mta.ids(), mta.log()
        assert mta.log().count(" => ") == 3
        sink.wait_closed(1)
    finally:
        sink.close()
    assert len(sink.conns) == 1, (sink.conns, mta.log())
    assert sink.conns[0].count("<tls>") == 1 and sink.conns[0].count("<data>") == 3


@pytest.mark.parametrize("multi", ["true", "false"])
def test_multi_domain(tmp_path, multi):
    """multi_domain (default true): addresses of several domains for the same host go in one
    transaction; false gives each domain its own."""
    port = free_port()
    mta = Mta(postern_bin(), tmp_path, port, extra=f"  multi_domain = {multi}")
    sink = Sink(port)
    try:
        mta.run("-odi", "-f", "s@x.test", "a1@a.test", "b1@b.test", "a2@a.test",
                input="Subject: t\n\nbody\n")
        sink.wait_closed(1)
    finally:
        sink.close()
    txns = []
    for conn in sink.conns:
        for c in conn:
            if c.startswith("MAIL FROM"):
                txns.append([])
            elif c.startswith("RCPT TO:"):
                txns[-1].append(c.split("@")[1].rstrip(">"))
    if multi == "true":
        assert sorted(map(sorted, txns)) == [["a.test", "a.test", "b.test"]]
    else:
        assert sorted(map(sorted, txns)) == [["a.test", "a.test"], ["b.test"]]
    assert mta.log().count(" => ") + mta.log().count(" -> ") == 3


def test_reuse_when_the_transport_runs_as_the_exim_user():
    """The transport process runs as the Exim user: it hands the connection to the delivery
    process (root), which starts the -MC process once the transport has finished, so the
    continued delivery can write its log lines and do whatever else needs root."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-reuse-"))
    os.chmod(d, 0o755)
    try:
        port = free_port()
        mta = Mta(postern_bin(), d, port, user="mail")
        mta.queue(3)
        sink = Sink(port)
        try:
            mta.run("-qq")
            mta.wait_done()
            sink.wait_closed(1)
        finally:
            sink.close()
        assert len(sink.conns) == 1 and sink.conns[0].count("<data>") == 3
        assert mta.log().count("]* ") == 2
        assert mta.log().count("Completed") == 3
        db = d / "spool" / "db" / "wait-t.lmdb"
        assert db.stat().st_uid == pwd.getpwnam("mail").pw_uid
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_continued_deliveries_are_not_held_by_the_old_host_record(tmp_path):
    """The continued deliveries are not forced (as Exim's -MC): the host's retry record from
    the refusals must not hold them back once the first delivery has reached the host."""
    port = free_port()
    mta = Mta(postern_bin(), tmp_path, port, retry="F,1s,1h")
    mta.queue(3)
    mta.run("-q")
    assert "Connection refused" in mta.log()
    sink = Sink(port)
    try:
        mta.run("-qf")
        mta.wait_done()
        sink.wait_closed(1)
    finally:
        sink.close()
    assert not mta.ids(), mta.log()
    assert len(sink.conns) == 1, sink.conns
    assert mta.log().count("]* ") == 2


def test_serialize_hosts_as_exim():
    """serialize_hosts: while one delivery is connected to the host, a second one skips it
    ("connection limit reached for all hosts", errno -54), waits in wait-t, and the first
    delivery's connection then carries it. The same lines from Exim 4.96."""
    out = {}
    for name in ("exim", "postern"):
        d = pathlib.Path(tempfile.mkdtemp(prefix="postern-reuse-"))
        os.chmod(d, 0o755)
        try:
            port = free_port()
            mta = Mta(EXIM if name == "exim" else postern_bin(), d, port, exim=name == "exim",
                      extra="  serialize_hosts = *")
            sink = Sink(port, greet_delay=3)
            try:
                first = subprocess.Popen([mta.binary, "-C", str(mta.conf), "-odi", "-f", "s@x.test", "a@a.test"],
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
                first.stdin.write(b"Subject: a\n\nbody\n")
                first.stdin.close()
                time.sleep(1.5)
                mta.run("-odi", "-f", "s@x.test", "b@a.test", input="Subject: b\n\nbody\n")
                first.wait(30)
                mta.wait_done()
                sink.wait_closed(1)
            finally:
                sink.close()
            lines = [re.sub(r"^\S+ \S+ (\S+ )?", "", x) for x in mta.log().splitlines()
                     if " == " in x or " => " in x]
            out[name] = (lines, len(sink.conns))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    assert out["postern"] == out["exim"]
    assert out["postern"][0] == [
        "== b@a.test R=r T=t defer (-54): connection limit reached for all hosts for 'a.test'",
        '=> a@a.test R=r T=t H=127.0.0.1 [127.0.0.1] C="250 OK queued"',
        '=> b@a.test R=r T=t H=127.0.0.1 [127.0.0.1]* C="250 OK queued"',
    ]
    assert out["postern"][1] == 1
