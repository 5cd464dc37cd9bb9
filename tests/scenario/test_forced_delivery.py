"""Forced deliveries (-M, -qf) try a host whose retry time has not come, and still update its
retry record; -Mc respects it. Beside Exim 4.96: the same commands for a host that refuses
connections give the same log lines, and both MTAs' host records end with the last attempt."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from smtp_transport_helpers import log_body, postern_bin
from daemon_helpers import free_port

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
{users}
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
{tpuser}
begin retry
* * F,1h,1h
"""


def run(who, port):
    d = pathlib.Path(tempfile.mkdtemp(prefix=f"forced-{who}-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        if who == "exim":
            for p in ["spool", "spool/db", "log"]:
                shutil.chown(d / p, "Debian-exim")
            users = "exim_user = Debian-exim\nexim_group = Debian-exim"
            tpuser, cmd, dumpdb = "  user = Debian-exim", "exim", "exim_dumpdb"
        else:
            users, tpuser, cmd = "exim_user = root\nexim_group = root", "", postern_bin()
            dumpdb = str(d / "exim_dumpdb")
            os.symlink(cmd, dumpdb)
        conf = d / "c.conf"
        conf.write_text(CONF.format(d=d, users=users, tpuser=tpuser, port=port))

        def mta(*args, data=None):
            subprocess.run([cmd, "-C", str(conf)] + list(args), input=data, capture_output=True, timeout=60)

        def last_try():
            out = subprocess.run([dumpdb, str(d / "spool"), "retry"], capture_output=True, text=True,
                                 timeout=30).stdout.splitlines()
            i = next(i for i, l in enumerate(out) if l.strip().startswith("T:127.0.0.1:127.0.0.1:"))
            return re.findall(r"\d\d:\d\d:\d\d", out[i + 1])[1]

        msg = b"Subject: t\n\nbody\n"
        mta("-odi", "-f", "s@s.test", "a@r.test", data=msg)
        mta("-odq", "-f", "s@s.test", "b@r.test", data=msg)
        log = lambda: (d / "log" / "mainlog").read_text()
        ids = re.findall(r" (\S{6}-\S{6}-\S{2}) <= ", log())
        first = last_try()
        time.sleep(1.1)
        mta("-Mc", ids[1])
        after_mc = last_try()
        mta("-M", ids[1])
        after_m = last_try()
        mta("-qf")
        time.sleep(0.5)
        lines = []
        for l in log().splitlines():
            b = log_body(l)
            ident = l.split()[2]
            if re.match(r"(H=|== )", b):
                lines.append(f"msg{ids.index(ident) + 1} {b}")
        return lines, first == after_mc, after_m != first
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_forced_delivery_ignores_host_retry_time_as_exim():
    port = free_port()
    exim = run("exim", port)
    postern = run("postern", port)
    want = "msg2 == b@r.test R=r T=t defer (-54): retry time not reached for any host for 'r.test'"
    assert want in exim[0]
    # -M and -qf each tried the host again: a host line for msg2 after -Mc's deferral.
    assert exim[0].count("msg2 H=127.0.0.1 [127.0.0.1] Connection refused") == 2
    assert exim[1:] == (True, True)    # -Mc left the record alone, -M updated it
    # -odi (msg1), -Mc and -M (msg2) come in order; -qf's order between messages is Exim's
    # "random" queue order (queue_run_in_order unset), so only each message's own lines are ordered.
    def norm(r):
        lines = r[0]
        return (lines[:5] + sorted(lines[5:], key=lambda l: l.split()[0]),) + r[1:]
    assert norm(postern) == norm(exim)
