"""Wildcard listeners, Postern against Debian's Exim 4.96 on the same configuration: the pair
0.0.0.0 and ::0 on one port (in either order, or as [addr]:port items) gives two sockets (the
IPv6 one with IPV6_V6ONLY) and "port N (IPv6 and IPv4)"; "::" (or any spelling but "::0") is one
address, shown as written, that takes IPv4 clients too (their addresses unmapped); ":: with
0.0.0.0" cannot bind the second. The IPv6 wildcard is bound before the IPv4 one; when that one
finds the port in use (a specific IPv4 address listens on it) Exim carries on with
"port N (IPv6 with IPv4)". Checked: the start line (or the bind error), and which of
127.0.0.1 and ::1 get a banner, with the client's address as the log shows it."""
import os
import re
import shutil
import socket
import subprocess

import pytest

from daemon_helpers import free_port, reachable_by_exim_user, wait_for

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

BASE = """primary_hostname = wild.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
keep_environment =
tls_advertise_hosts =
daemon_startup_retries = 0
log_selector = +smtp_connection
daemon_smtp_ports = {port}
local_interfaces = {li}
"""

LISTS = {
    "0.0.0.0 then ::0": "<; 0.0.0.0 ; ::0",
    "::0 then 0.0.0.0": "<; ::0 ; 0.0.0.0",
    "bracketed with ports": "<; [::0]:{port} ; [0.0.0.0]:{port}",
    "::0 alone": "<; ::0",
    ":: alone": "<; ::",
    "::00 alone": "<; ::00",
    ":: and 0.0.0.0": "<; :: ; 0.0.0.0",
    "specific, then the pair": "<; 127.0.0.1 ; 0.0.0.0 ; ::0",
    "specific between the pair": "<; 0.0.0.0 ; 127.0.0.1 ; ::0",
}


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def banner(family, addr, port):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect((addr, port))
            got = s.recv(200).decode()
            s.sendall(b"QUIT\r\n")
            s.recv(200)
            return got[:4]
    except OSError:
        return "refused"


def observe(cmd, d, li):
    for sub in ("spool", "log"):
        (d / sub).mkdir(parents=True)
        shutil.chown(d / sub, "Debian-exim", "Debian-exim")
    port = free_port()
    (d / "conf").write_text(BASE.format(d=d, port=port, li=li.format(port=port)))
    main = d / "log" / "mainlog"
    proc = subprocess.Popen([cmd, "-C", str(d / "conf"), "-bdf", "-oP", str(d / "pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: main.exists() and ("daemon started" in main.read_text() or "bind" in main.read_text())
                 or proc.poll() is not None, 15)
        reached = [banner(socket.AF_INET, "127.0.0.1", port), banner(socket.AF_INET6, "::1", port)]
        wait_for(lambda: main.read_text().count("closed by QUIT") >= reached.count("220 "), 20)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)
    lines = [re.sub(r"^\S+ \S+ ", "", l) for l in main.read_text().splitlines()]
    lines = [re.sub(r"pid=\d+", "pid=N", l).replace(str(port), "PORT") for l in lines]
    lines = [re.sub(r"\(TCP/IP connection count = \d+\)", "", l) for l in lines
             if "daemon started" in l or "bind" in l or l.startswith("SMTP connection from")
             and "closed" not in l]
    return reached, lines


@pytest.mark.parametrize("name", list(LISTS))
def test_wildcards_as_exim(postern_bin, tmp_path, name):
    if not have_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    reachable_by_exim_user(tmp_path)
    exim = observe("/usr/sbin/exim", tmp_path / "exim", LISTS[name])
    ours = observe(postern_bin, tmp_path / "postern", LISTS[name])
    assert ours == exim


def test_expected_behaviour(postern_bin, tmp_path):
    """What the comparison above shows, pinned: the pair serves both families on one port."""
    if not have_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    reachable_by_exim_user(tmp_path)
    reached, lines = observe(postern_bin, tmp_path / "a", LISTS["0.0.0.0 then ::0"])
    assert reached == ["220 ", "220 "]
    assert lines[0] == "exim 4.96 daemon started: pid=N, no queue runs, listening for SMTP on port PORT (IPv6 and IPv4)"
    reached, lines = observe(postern_bin, tmp_path / "b", LISTS[":: alone"])
    assert reached == ["220 ", "220 "]
    assert lines[0].endswith("listening for SMTP on [::]:PORT")
    assert "SMTP connection from [127.0.0.1] " in lines
    reached, lines = observe(postern_bin, tmp_path / "c", LISTS[":: and 0.0.0.0"])
    assert reached == ["refused", "refused"]
    assert lines == ["socket bind() to port PORT for address (any IPv4) failed: Address already in use: daemon abandoned"]
    reached, lines = observe(postern_bin, tmp_path / "d", LISTS["specific, then the pair"])
    assert reached == ["220 ", "220 "]
    assert lines[0].endswith("listening for SMTP on [127.0.0.1]:PORT port PORT (IPv6 with IPv4)")
