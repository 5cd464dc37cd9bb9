"""Hints databases that a root process creates belong to the exim user, as Exim's do.

A delivery process runs as root and creates db/retry when a host first refuses; the smtp
transport runs in a child as the exim user and reads that database to skip hosts whose retry
time has not come. A root-owned 0640 file was unreadable for it, so the second message tried
the refusing host again instead of deferring with "retry time not reached for any host".
Both MTAs run the same configuration with a separate exim user (not root)."""
import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile

import pytest

from daemon_helpers import free_port
from smtp_transport_helpers import log_body, postern_bin

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

USER = "Debian-exim"

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = {user}
exim_group = {user}
never_users =
trusted_users = root
keep_environment =
begin routers
bounces:
  driver = redirect
  domains = s.test
  data = :blackhole:
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
begin retry
* * F,1h,1h
"""


def deliver_twice(cmd):
    """Two messages, each delivered at once (-odi), to a port where nothing listens. Returns
    the log bodies of the second message and the owners of what db/ holds."""
    port = free_port()
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-hintsown-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool").mkdir()
        (d / "log").mkdir()
        for p in ("spool", "log"):
            shutil.chown(d / p, USER, USER)
        conf = d / "c.conf"
        conf.write_text(CONF.format(d=d, user=USER, port=port))
        for _ in range(2):
            subprocess.run([cmd, "-C", str(conf), "-odi", "-f", "sender@s.test", "rcpt@r.test"],
                           input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
        lines = (d / "log" / "mainlog").read_text().splitlines()
        starts = [i for i, l in enumerate(lines) if " <= sender@s.test" in l]
        assert len(starts) == 2, lines
        ident = lines[starts[1]].split()[2]
        second = [log_body(l) for l in lines[starts[1]:] if l.split()[2] == ident]
        owners = {p.name: pwd.getpwuid(p.stat().st_uid).pw_name for p in (d / "spool" / "db").iterdir()}
        owners["db/"] = pwd.getpwuid((d / "spool" / "db").stat().st_uid).pw_name
        return second, owners
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def runs():
    return {"exim": deliver_twice("exim"), "postern": deliver_twice(postern_bin())}


def test_retry_database_belongs_to_exim_user(runs):
    for who, (_, owners) in runs.items():
        assert any(n.startswith("retry") for n in owners), (who, owners)
        assert set(owners.values()) == {USER}, (who, owners)


def test_second_message_skips_host_in_retry(runs):
    want = "== rcpt@r.test R=r T=t defer (-54): retry time not reached for any host for 'r.test'"
    for who, (second, _) in runs.items():
        assert want in second, (who, second)
