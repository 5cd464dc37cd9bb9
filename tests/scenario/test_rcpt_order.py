"""The order in which recipients reach the smtp transport (RCPT commands) and in which their
delivery lines are logged, beside Exim 4.96 for the same configuration: redirected addresses
come a generation before their parents' siblings, deeper generations first, each generation in
the order of its recipients and then of creation."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from smtpclient_helpers import ScriptedServer
from smtp_transport_helpers import log_body, postern_bin

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
bounces:
  driver = redirect
  domains = s.test
  data = :blackhole:
al:
  driver = redirect
  local_parts = list : l1 : l2
  data = ${{lookup{{$local_part}}lsearch{{{d}/aliases}}}}
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
{tpuser}
begin retry
* * F,1h,1h
"""
ALIASES = "list: x@r.test, l2@r.test, y@r.test\nl1: p@r.test, q@r.test\nl2: m@r.test, n@r.test\n"
EXIM_USERS = "exim_user = Debian-exim\nexim_group = Debian-exim"
POSTERN_USERS = "exim_user = root\nexim_group = root"


def script(nrcpt):
    """Accepts everything but the second RCPT (451), so the log shows =>, == and -> lines."""
    steps = [("EHLO", "250-fake hello\r\n250 PIPELINING\r\n"), ("MAIL", "250 ok\r\n")]
    steps += [("RCPT", "451 4.3.0 later\r\n" if i == 1 else "250 ok\r\n") for i in range(nrcpt)]
    steps += [("DATA", "354 go\r\n"), ("BODY", "250 OK queued\r\n")]
    return ("220 fake ESMTP\r\n", steps)


def run(who, rcpts, nsent):
    srv = ScriptedServer(*script(nsent))
    d = pathlib.Path(tempfile.mkdtemp(prefix=f"rcptorder-{who}-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        (d / "aliases").write_text(ALIASES)
        if who == "exim":
            for p in ["spool", "spool/db", "log"]:
                shutil.chown(d / p, "Debian-exim")
            users, tpuser, cmd = EXIM_USERS, "  user = Debian-exim", "exim"
        else:
            users, tpuser, cmd = POSTERN_USERS, "", postern_bin()
        (d / "c.conf").write_text(CONF.format(d=d, users=users, tpuser=tpuser, port=srv.port))
        subprocess.run([cmd, "-C", str(d / "c.conf"), "-odi", "-f", "sender@s.test"] + rcpts,
                       input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
        srv.wait()
        lines = [log_body(l) for l in (d / "log" / "mainlog").read_text().splitlines()]
        deliveries = [re.sub(r" (H=|defer).*", "", l) for l in lines if re.match(r"(=>|->|==) ", l)]
        return [l for l in srv.lines if l.startswith("RCPT")], deliveries
    finally:
        shutil.rmtree(d, ignore_errors=True)


CASES = [
    (["a@r.test", "b@q.test", "c@r.test"], 3),
    (["a@q.test", "list@r.test", "c@r.test", "b@r.test"], 7),
    (["l1@r.test", "b@r.test", "l2@r.test"], 5),
]


@pytest.mark.parametrize("rcpts,nsent", CASES)
def test_rcpt_and_log_order_as_exim(rcpts, nsent):
    exim = run("exim", rcpts, nsent)
    postern = run("postern", rcpts, nsent)
    assert len(exim[0]) == nsent
    assert postern == exim
