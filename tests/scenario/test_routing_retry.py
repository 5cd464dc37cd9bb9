"""Routing deferrals write retry records as Exim 4.96 does (":defer:" in redirect data: "R:<lp>@<domain>"
for a router with local_parts, "R:<domain>" for one without), and a forced queue run that routes
the addresses again removes them. Compared with exim_dumpdb of Exim's own spool."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile

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
dd:
  driver = redirect
  local_parts = dd
  data = ${{if exists{{{d}/defer}}{{:defer: some reason}}{{}}}}
  allow_defer
dd2:
  driver = redirect
  domains = dd.test
  data = ${{if exists{{{d}/defer}}{{:defer: domain reason}}{{}}}}
  allow_defer
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


def records(dumpdb, spool):
    out = subprocess.run([dumpdb, str(spool), "retry"], capture_output=True, text=True, timeout=30).stdout
    return sorted(l.strip() for l in out.splitlines() if re.match(r"\s+[RT]:", l))


def run(who, port):
    d = pathlib.Path(tempfile.mkdtemp(prefix=f"rretry-{who}-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        (d / "defer").touch()
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
        subprocess.run([cmd, "-C", str(conf), "-odi", "-f", "s@s.test", "dd@r.test", "x@dd.test"],
                       input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
        after_defer = records(dumpdb, d / "spool")
        (d / "defer").unlink()
        subprocess.run([cmd, "-C", str(conf), "-qf"], capture_output=True, timeout=60)
        after_route = records(dumpdb, d / "spool")
        lines = [log_body(l) for l in (d / "log" / "mainlog").read_text().splitlines()]
        return after_defer, after_route, [l for l in lines if l.startswith("== ")]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_routing_defer_retry_records_as_exim():
    port = free_port()
    exim = run("exim", port)
    postern = run("postern", port)
    assert exim[0] == ["R:dd.test -1 0 domain reason", "R:dd@r.test -1 0 some reason"]
    assert not any(r.startswith("R:") for r in exim[1])
    assert postern == exim
