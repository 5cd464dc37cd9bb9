"""TCP Fast Open (docs/tfo.md): the daemon's TFO / TFO* on "<=" lines and the smtp transport's
hosts_try_fastopen, each beside live Exim 4.96 doing the same.

TFO needs net.ipv4.tcp_fastopen, which is per network namespace: every scenario runs in a private
one (`unshare -n`, as root) where lo is brought up and the sysctl set; the machine's own setting
is never touched. The scenario part of this file runs inside the namespace (`python3 test_tfo.py
SCENARIO DIR POSTERN`) and prints JSON facts (log lines, the kernel's TcpExt Fast Open counters)
for the tests to check. A Fast Open cookie is fetched by a first connection; later ones use it.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
MSG_FASTOPEN = 0x20000000
POSTERN_PORT, EXIM_PORT = 2525, 2526


# ---------------------------------------------------------------- inside the namespace

def _setup_netns(mode):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    pathlib.Path("/proc/sys/net/ipv4/tcp_fastopen").write_text(f"{mode}\n")


def _forget_cookies():
    """The kernel keeps Fast Open cookies per server address; each server is to start unknown."""
    subprocess.run(["ip", "tcp_metrics", "flush", "all"], check=True, capture_output=True)


def _tfo_counters():
    lines = pathlib.Path("/proc/net/netstat").read_text().splitlines()
    for head, vals in zip(lines[::2], lines[1::2]):
        if head.startswith("TcpExt:"):
            return {k: int(v) for k, v in zip(head.split()[1:], vals.split()[1:]) if "FastOpen" in k}
    return {}


def _server_conf(d, name, exim, selector="+incoming_port +incoming_interface"):
    spool = d / f"{name}-spool"
    spool.mkdir()
    user = "root" if exim else "mail"
    if not exim:
        shutil.chown(spool, "mail", "mail")
    conf = d / f"{name}.conf"
    conf.write_text(f"""spool_directory = {spool}
log_file_path = {spool}/log/%slog
exim_user = {user}
exim_group = {user}
primary_hostname = srv.test
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data
queue_only = true
tls_advertise_hosts =
keep_environment =
daemon_startup_retries = 0
log_selector = {selector}
begin acl
acl_rcpt:
  deny local_parts = bad
  accept
acl_data:
  deny condition = ${{if eq{{$h_subject:}}{{reject}}}}
  accept
""")
    return conf, spool


def _client_conf(d, name, exim, port, extra):
    spool = d / f"{name}-spool"
    spool.mkdir()
    user = "Debian-exim" if exim else "mail"
    shutil.chown(spool, user, user)
    conf = d / f"{name}.conf"
    conf.write_text(f"""spool_directory = {spool}
log_file_path = {spool}/log/%slog
exim_user = {user}
exim_group = {user}
primary_hostname = cli.test
keep_environment =
log_selector = +outgoing_port
begin routers
r:
  driver = manualroute
  route_list = * 127.0.0.1
  self = send
  transport = t
begin transports
t:
  driver = smtp
  port = {port}
  hosts_avoid_tls = *
  allow_localhost
{extra}
""")
    return conf, spool


def _start_daemon(binary, conf, port, d, name):
    pidfile = d / f"{name}.pid"
    subprocess.run([binary, "-C", str(conf), "-bd", "-oX", str(port), "-oP", str(pidfile)],
                   check=True, capture_output=True, timeout=20)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return pidfile
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} daemon did not listen")


def _stop(pidfile):
    try:
        os.kill(int(pidfile.read_text().split()[0]), 15)
    except (OSError, ValueError):
        pass


def _read_reply(s, buf):
    while True:
        lines = buf.split(b"\r\n")
        for i, line in enumerate(lines[:-1]):
            if line[3:4] == b" ":
                return b"\r\n".join(lines[:i + 1]), b"\r\n".join(lines[i + 1:])
        data = s.recv(4096)
        if not data:
            raise RuntimeError("connection closed")
        buf += data


def _python_client(port, data_on_syn):
    """Two connections, two messages each (the second with a rejected recipient first); with
    data_on_syn the EHLO goes in the SYN (sendto MSG_FASTOPEN), else the SYN carries nothing."""
    for _ in range(2):
        s = socket.socket()
        # Blocking until connected (a timeout would make the socket non-blocking: EINPROGRESS).
        s.sendto(b"EHLO c.test\r\n" if data_on_syn else b"", MSG_FASTOPEN, ("127.0.0.1", port))
        s.settimeout(10)
        buf = b""
        _, buf = _read_reply(s, buf)                 # banner
        if not data_on_syn:
            s.sendall(b"EHLO c.test\r\n")
        _, buf = _read_reply(s, buf)                 # EHLO reply
        # The first message is refused by the DATA ACL: the TFO element waits for an arrival.
        for subject, rcpts in ((b"reject", [b"b@y.test"]), (b"t", [b"b@y.test"]), (b"t", [b"bad@y.test", b"b@y.test"])):
            for cmd in [b"MAIL FROM:<a@x.test>"] + [b"RCPT TO:<%s>" % r for r in rcpts] + [b"DATA"]:
                s.sendall(cmd + b"\r\n")
                _, buf = _read_reply(s, buf)
            s.sendall(b"Subject: %s\r\n\r\nbody\r\n.\r\n" % subject)
            _, buf = _read_reply(s, buf)
        s.sendall(b"QUIT\r\n")
        _read_reply(s, buf)
        s.close()


def _log(spool, name="mainlog"):
    p = spool / "log" / name
    return p.read_text().splitlines() if p.exists() else []


def _arrivals(spool, n):
    """The "<=" lines once n are there (a loaded machine may write them a little late)."""
    for _ in range(200):
        lines = [l for l in _log(spool) if "<=" in l]
        if len(lines) >= n:
            break
        time.sleep(0.05)
    return lines


def _send_with(binary, conf, n):
    for i in range(n):
        subprocess.run([binary, "-C", str(conf), "-odi", f"u{i}@y.test"], input=b"Subject: x\n\nbody\n",
                       check=True, capture_output=True, timeout=30)


def inside(scenario, d, postern):
    d = pathlib.Path(d)
    out = {}
    if scenario in ("server", "server-off", "server-minimal"):
        _setup_netns(1 if scenario == "server-off" else 3)
        daemons = []
        for name, binary, port in (("postern", postern, POSTERN_PORT), ("exim", "exim", EXIM_PORT)):
            conf, spool = _server_conf(d, name, binary == "exim",
                                       *(["-all"] if scenario == "server-minimal" else []))
            daemons.append(_start_daemon(binary, conf, port, d, name))
            _forget_cookies()
            before = _tfo_counters()
            _python_client(port, data_on_syn=True)
            after = _tfo_counters()
            out[name + "_counters"] = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            out[name] = _arrivals(spool, 4)
        for p in daemons:
            _stop(p)
    elif scenario == "exim-client":
        # Exim's smtp transport with PIPECONNECT sends its EHLO in the SYN once it has the cookie.
        _setup_netns(3)
        pids = []
        for name, binary, port in (("postern", postern, POSTERN_PORT), ("exim", "exim", EXIM_PORT)):
            conf, spool = _server_conf(d, name, binary == "exim")
            pids.append(_start_daemon(binary, conf, port, d, name))
            cconf, cspool = _client_conf(d, "eximcli-" + name, True, port, "  hosts_pipe_connect = *")
            _forget_cookies()
            _send_with("exim", cconf, 3)
            out[name] = _arrivals(spool, 3)
            out[name + "_deliveries"] = [l for l in _log(cspool) if "=>" in l]
        for p in pids:
            _stop(p)
    elif scenario in ("postern-client", "postern-client-off"):
        _setup_netns(3)
        pid = _start_daemon("exim", _server_conf(d, "exim", True)[0], EXIM_PORT, d, "exim")
        extra = "" if scenario == "postern-client" else "  hosts_try_fastopen = 192.0.2.1"
        for name, binary in (("postern", postern), ("exim", "exim")):
            conf, cspool = _client_conf(d, name + "cli", name == "exim", EXIM_PORT, extra)
            _forget_cookies()
            before = _tfo_counters()
            _send_with(binary, conf, 3)
            after = _tfo_counters()
            out[name + "_counters"] = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            out[name + "_deliveries"] = [l for l in _log(cspool) if "=>" in l]
        _stop(pid)
    print(json.dumps(out))


if __name__ == "__main__":
    inside(*sys.argv[1:4])
    sys.exit(0)


# ---------------------------------------------------------------- the tests

import pytest  # noqa: E402


def _can_unshare():
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    r = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up && echo 3 > /proc/sys/net/ipv4/tcp_fastopen"],
                       capture_output=True)
    return r.returncode == 0


pytestmark = [
    pytest.mark.skipif(shutil.which("exim") is None, reason="needs Debian's exim 4.96 to compare with"),
    pytest.mark.skipif(not _can_unshare(),
                       reason="needs root and `unshare -n` (a private network namespace for net.ipv4.tcp_fastopen)"),
]


def run_inside(scenario, postern_bin):
    # Not under pytest's tmp_path: its parents are private to root, and the daemons' sessions
    # run as the exim user, which must reach the spool.
    d = tempfile.mkdtemp(prefix="postern-tfo-")
    try:
        os.chmod(d, 0o755)
        r = subprocess.run(["unshare", "-n", sys.executable, __file__, scenario, d, postern_bin],
                           capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def norm(line):
    """A log line without what differs between two runs: time, ids, ports, sizes."""
    line = re.sub(r"^\S+ \S+ ", "", line)
    line = re.sub(r"id=E\S+@cli\.test", "id=MID", line)
    line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
    line = re.sub(r"\]:\d+", "]:PORT", line)
    line = re.sub(r" S=\d+", " S=N", line)
    line = re.sub(r"\d+ byte chunk, total \d+", "N byte chunk, total N", line)
    return line


def test_syn_data_gives_tfo_star_on_first_arrival_of_connection(postern_bin):
    facts = run_inside("server", postern_bin)
    p, e = facts["postern"], facts["exim"]
    assert len(p) == 4, p
    # The first connection fetched the cookie; the second carried its EHLO in the SYN. Its first
    # message was refused at DATA (no TFO on that line): the element goes on the next arrival.
    assert " TFO" not in p[0] and " TFO" not in p[1]
    assert "I=[127.0.0.1]:2525 TFO* P=esmtp" in p[2], p[2]
    assert " TFO" not in p[3]           # once per connection, as Exim
    assert [norm(l) for l in p] == [norm(l).replace(":2526", ":2525") for l in e]
    # The kernel took the data on the SYN for both servers.
    assert facts["postern_counters"].get("TCPFastOpenPassive") == 1
    assert facts["postern_counters"].get("TCPFastOpenCookieReqd") == 1


def test_tfo_star_is_not_a_log_selector_item(postern_bin):
    # log_selector = -all: Exim 4.96 still writes TFO* (no selector governs it).
    facts = run_inside("server-minimal", postern_bin)
    p, e = facts["postern"], facts["exim"]
    assert len(p) == 4 and " TFO* P=esmtp" in p[2], p
    assert [norm(l) for l in p] == [norm(l) for l in e]


def test_server_bit_off_nothing_logged(postern_bin):
    # net.ipv4.tcp_fastopen = 1 (client only): the listener's TCP_FASTOPEN has no effect.
    facts = run_inside("server-off", postern_bin)
    p, e = facts["postern"], facts["exim"]
    assert len(p) == 4 and not any(" TFO" in l for l in p), p
    assert [norm(l) for l in p] == [norm(l).replace(":2526", ":2525") for l in e]
    assert facts["postern_counters"].get("TCPFastOpenPassive", 0) == 0


def test_exim_client_pipe_connect_into_postern(postern_bin):
    facts = run_inside("exim-client", postern_bin)
    p, e = facts["postern"], facts["exim"]
    assert len(p) == 3, p
    assert " TFO" not in p[0]
    assert " TFO* P=esmtp" in p[1] and " TFO* P=esmtp" in p[2], p
    assert [norm(l) for l in p] == [norm(l).replace(":2526", ":2525") for l in e]
    # Exim's delivery lines say the same about Postern as about Exim.
    pd, ed = facts["postern_deliveries"], facts["exim_deliveries"]
    assert [" TFO*" in l for l in pd] == [False, True, True], pd
    assert [norm(l) for l in pd] == [norm(l).replace(":2526", ":2525") for l in ed]


def test_postern_client_uses_fastopen_like_exim(postern_bin):
    facts = run_inside("postern-client", postern_bin)
    pc, ec = facts["postern_counters"], facts["exim_counters"]
    # First delivery asks for a cookie, the next two present it (the server makes Fast Open
    # sockets for them): the same as Exim's own transport does.
    assert pc.get("TCPFastOpenCookieReqd") == 1 and pc.get("TCPFastOpenPassive") == 2, pc
    assert {k: v for k, v in pc.items() if v} == {k: v for k, v in ec.items() if v}
    pd, ed = facts["postern_deliveries"], facts["exim_deliveries"]
    assert len(pd) == 3
    # No data went with the SYN, so neither logs TFO (Exim's test needs the SYN still unanswered).
    assert [norm(l) for l in pd] == [norm(l) for l in ed]


def test_hosts_try_fastopen_not_matching_makes_plain_connects(postern_bin):
    facts = run_inside("postern-client-off", postern_bin)
    pc, ec = facts["postern_counters"], facts["exim_counters"]
    assert not any(pc.values()) and not any(ec.values()), (pc, ec)
    assert len(facts["postern_deliveries"]) == 3


def test_bp_hosts_try_fastopen(run_postern, tmp_path):
    conf = "begin transports\nt:\n  driver = smtp\n  hosts_try_fastopen = 10.0.0.0/8 : *.example\n"
    r = run_postern("-bP", "transport", "t", config=conf)
    ex = tmp_path / "exim.conf"
    ex.write_text(conf)
    e = subprocess.run(["exim", "-C", str(ex), "-bP", "transport", "t"], capture_output=True, text=True)
    pick = lambda t: [l for l in t.splitlines() if "fastopen" in l]  # noqa: E731
    assert pick(r.stdout) == pick(e.stdout) == ["hosts_try_fastopen = 10.0.0.0/8 : *.example"]


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to see the listeners' socket options")
def test_listener_fastopen_queue_is_connect_backlog(postern_bin):
    """TCP_FASTOPEN on every listener with the queue length smtp_connect_backlog, set before
    listen(), as strace shows Exim 4.96 doing."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-tfo-"))
    try:
        os.chmod(d, 0o755)
        calls = {}
        for name, binary, port in (("postern", postern_bin, 2527), ("exim", "exim", 2528)):
            conf, _ = _server_conf(d, name, binary == "exim")
            conf.write_text(conf.read_text().replace("begin acl", "smtp_connect_backlog = 7\nbegin acl"))
            pidfile, trace = d / f"{name}.pid", d / f"{name}.strace"
            proc = subprocess.Popen(["unshare", "-n", "sh", "-c",
                                     f"ip link set lo up; exec strace -o {trace} -e trace=setsockopt,listen "
                                     f"{binary} -C {conf} -bdf -oX {port} -oP {pidfile}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                for _ in range(400):
                    if trace.exists() and trace.read_text().count("listen(") >= 2 and pidfile.exists():
                        break
                    time.sleep(0.05)
            finally:
                _stop(pidfile)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    # No pid file yet under a loaded machine: the whole group goes.
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=20)
            lines = trace.read_text().splitlines()
            calls[name] = [re.sub(r"^\d+ +", "", re.sub(r"\(\d+, ", "(FD, ", l)) for l in lines
                           if "TCP_FASTOPEN" in l or l.split()[0].startswith("listen(")
                           or (len(l.split()) > 1 and l.split()[1].startswith("listen("))]
        assert calls["postern"] == calls["exim"], calls
        assert calls["postern"].count("setsockopt(FD, SOL_TCP, TCP_FASTOPEN, [7], 4) = 0") == 2
        # before listen() on each socket
        assert [c.split("(")[0] for c in calls["postern"]] == ["setsockopt", "listen"] * 2
    finally:
        shutil.rmtree(d, ignore_errors=True)
