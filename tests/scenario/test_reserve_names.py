"""smtp_reserve_hosts with host names, as Exim 4.96's daemon checks it when every slot is a
reserved one (smtp_accept_max = smtp_accept_reserve = 1): a plain name is looked up forwards
(the system's resolver, so "localhost" from /etc/hosts matches 127.0.0.1); "*.suffix" and regex
items need the client's name, and when none is found Exim logs "no host name found ..." (only
when no name at all came back) and "list matching forced to fail: failed to find host name for
<ip>" before refusing. Replies and main-log lines must equal Exim's where it is installed."""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest
from daemon_helpers import free_port

EXIM = shutil.which("exim") or "/usr/sbin/exim"

BASE = """primary_hostname = mx.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
queue_only
tls_advertise_hosts =
log_selector = +all -pid -arguments -millisec
acl_smtp_rcpt = accept
smtp_accept_max = 1
smtp_accept_reserve = 1
smtp_reserve_hosts = {hosts}
"""

CLIENTS = ("127.0.0.1", "127.0.0.9")


def run(binary, top, hosts):
    d = top / os.path.basename(binary)
    d.mkdir()
    os.chmod(d, 0o755)
    (d / "conf").write_text(BASE.format(d=d, hosts=hosts))
    port = free_port()
    log = d / "log" / "mainlog"
    proc = subprocess.Popen([binary, "-C", str(d / "conf"), "-bdf", "-oX", str(port), "-oP", str(d / "pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    firsts = []
    try:
        for _ in range(200):
            if log.exists() and "daemon started" in log.read_text():
                break
            time.sleep(0.05)
        for src in CLIENTS:
            s = socket.socket()
            s.bind((src, 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            f = s.makefile("rb")
            first = f.readline().decode()
            firsts.append(re.sub(r"ESMTP .*", "ESMTP", first.rstrip()))
            try:
                if first.startswith("220"):
                    s.sendall(b"QUIT\r\n")
                    f.readline()
            except OSError:
                pass
            s.close()
            time.sleep(0.3)
        time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    lines = []
    for l in log.read_text().splitlines():
        if not re.match(r"\d{4}-", l) or re.search(r"daemon (started|terminated)|Warning|cwd=", l):
            continue
        l = re.sub(r"^\S+ \S+ ", "", l)
        lines.append(re.sub(r"\]:\d+", "]:PORT", l).replace(":PORT", ":P"))
    return firsts, lines


@pytest.mark.parametrize("hosts", ["localhost", "*.localdomain : ^local"])
def test_reserve_hosts_names(postern_bin, tmp_path, hosts):
    firsts, lines = run(postern_bin, tmp_path, hosts)
    refused = "421 mx.test: Too many concurrent SMTP connections; please try again later"
    if hosts == "localhost":
        assert firsts == ["220 mx.test ESMTP", refused]
    else:
        assert firsts == [refused, refused]
        assert "no host name found for IP address 127.0.0.9" in lines
        assert "list matching forced to fail: failed to find host name for 127.0.0.9" in lines
    assert "temporarily refused connection from [127.0.0.9]:P I=[127.0.0.1]:P: not in reserve list: " \
           "connected=0 max=1 reserve=1" in lines
    if os.path.exists(EXIM):
        assert (firsts, lines) == run(EXIM, tmp_path, hosts), "differs from Exim 4.96"
