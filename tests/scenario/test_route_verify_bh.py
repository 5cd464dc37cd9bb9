"""ACL address verification (verify = recipient / sender) through the router chain, against
Exim 4.96 with -bh: the same replies and the same log lines (compared as sets of lines, since
Exim's stdout is buffered while its log lines go to stderr at once).

Skipped until the SMTP session installs route_verify() as its acl_ops.verify_address (until then
Postern answers such ACLs with "no router chain in this context")."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

CONFIG = """spool_directory = {spool}
primary_hostname = mail.test.ex
qualify_domain = test.ex
acl_smtp_rcpt = rcpt
begin acl
rcpt:
  require verify = sender
  require verify = recipient
  accept
begin routers
r1:
  driver = redirect
  allow_fail
  allow_defer
  local_parts = failme : deferme : crm : multi
  data = ${{if eq{{$local_part}}{{failme}}{{:fail: no such user here}}{{${{if eq{{$local_part}}{{crm}}{{}}{{${{if eq{{$local_part}}{{multi}}{{ok, nosuch}}{{:defer: try later}}}}}}}}}}}}
r1b:
  driver = manualroute
  domains = self.ex
  route_list = * 127.0.0.1
  transport = t
r2:
  driver = accept
  local_parts = root : ok
  transport = t
begin transports
t:
  driver = smtp
"""

SESSION = ("helo x\r\nmail from:<root@test.ex>\r\nrcpt to:<failme@test.ex>\r\nrcpt to:<deferme@test.ex>\r\n"
           "rcpt to:<nosuch@test.ex>\r\nrcpt to:<x@self.ex>\r\nrcpt to:<crm@test.ex>\r\nrcpt to:<multi@test.ex>\r\n"
           "rcpt to:<ok@test.ex>\r\nrset\r\nmail from:<bad@test.ex>\r\nrcpt to:<ok@test.ex>\r\nrset\r\n"
           "mail from:<failme@test.ex>\r\nrcpt to:<ok@test.ex>\r\nquit\r\n")


def run(prog, conf):
    r = subprocess.run([prog, "-C", str(conf), "-bh", "192.0.2.99"], input=SESSION, capture_output=True,
                       text=True, timeout=60)
    lines = [l for l in (r.stdout + r.stderr).splitlines()
             if not l.startswith((">>>", "***", "220 ")) and l.strip()]
    return sorted(lines)


def test_verify_in_acl_same_as_exim(postern_bin, tmp_path):
    if not shutil.which("exim"):
        pytest.skip("exim is not installed")
    # Exim drops to its own user under -bh: the spool must be reachable by it (pytest's tmp_path
    # is private to root).
    d = pathlib.Path(tempfile.mkdtemp(prefix="route-verify-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool").mkdir()
        conf = d / "v.conf"
        conf.write_text(CONFIG.format(spool=d / "spool"))
        got = run(postern_bin, conf)
        if any("no router chain" in l for l in got):
            pytest.skip("the SMTP session does not install route_verify() yet")
        want = run("exim", conf)
    finally:
        shutil.rmtree(d)
    assert any("Unrouteable address" in l for l in want), want
    assert got == want
