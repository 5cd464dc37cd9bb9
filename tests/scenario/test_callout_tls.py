"""Callouts and TLS: a recipient callout (-bhc) against a Postern daemon offering STARTTLS.

The callout takes the smtp transport's TLS options: STARTTLS by default, none to hosts in
hosts_avoid_tls, and none to hosts in hosts_verify_avoid_tls (Exim 4.96: that list applies to
callouts only). With hosts_require_tls as well, a callout that may not start TLS fails. The
server logs $tls_in_cipher at RCPT, so each case shows whether the callout's session was
encrypted. Debian's Exim 4.96 is run the same way where installed, and must agree."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from daemon_helpers import Daemon, free_ports, wait_for


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.pem",
            "-days", "2", "-subj", "/CN=mx.example", cwd=d)
    return d


@pytest.fixture
def server(postern_bin, tmp_path, pki):
    port, = free_ports(1)
    d = Daemon(postern_bin, tmp_path, "")
    d.conf.write_text(f"""spool_directory = {d.spool}
exim_user = root
exim_group = root
daemon_startup_retries = 0
primary_hostname = mx.example
daemon_smtp_ports = {port}
tls_certificate = {pki}/srv.pem
tls_privatekey = {pki}/srv.key
queue_only
acl_smtp_rcpt = rcpt
begin acl
rcpt:
  warn logwrite = RCPT $local_part tls=[$tls_in_cipher]
  accept
""")
    d.port = port
    d.start()
    d.wait_listening(None)
    yield d
    d.stop()


CLIENT = """spool_directory = {d}/spool
log_file_path = {d}/%slog
exim_user = {user}
exim_group = {user}
primary_hostname = client.example
acl_smtp_rcpt = rcpt
begin acl
rcpt:
  deny !verify = recipient/callout=no_cache,10s
       message = callout failed: $recipient_verify_failure
  accept
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
{extra}
"""


def callout(prog, port, local_part, extra):
    # Exim drops to its user: a directory of its own outside pytest's private tmp tree.
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-callout-tls-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool").mkdir()
        user = "Debian-exim" if prog == "exim" else "root"
        if prog == "exim":
            for p in (d, d / "spool"):
                shutil.chown(p, user)
        conf = d / "c.conf"
        conf.write_text(CLIENT.format(d=d, user=user, port=port, extra=extra))
        text = f"EHLO c.example\r\nMAIL FROM:<s@c.example>\r\nRCPT TO:<{local_part}@dest.example>\r\nQUIT\r\n"
        r = subprocess.run([prog, "-C", str(conf), "-bhc", "10.0.0.1"], input=text, capture_output=True,
                           text=True, timeout=60)
        return r.stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)


CASES = [
    # (name, transport options, callout encrypted?, callout accepted?)
    ("plain", "", True, True),
    ("avoid", "  hosts_avoid_tls = 127.0.0.1", False, True),
    ("vavoid", "  hosts_verify_avoid_tls = 127.0.0.1", False, True),
    ("vavoidother", "  hosts_verify_avoid_tls = 10.9.9.9", True, True),
    ("vavoidreq", "  hosts_verify_avoid_tls = 127.0.0.1\n  hosts_require_tls = 127.0.0.1", None, False),
]


def clients(postern_bin):
    out = [postern_bin]
    if shutil.which("exim"):
        out.append("exim")
    return out


@pytest.mark.parametrize("name,extra,encrypted,accepted", CASES, ids=[c[0] for c in CASES])
def test_callout_tls_options(server, postern_bin, tmp_path, name, extra, encrypted, accepted):
    for prog in clients(postern_bin):
        lp = f"{name}{len(prog)}"
        out = callout(prog, server.port, lp, extra)
        rcpt = [l for l in out.splitlines() if l.startswith(("250 Accepted", "550", "451", "450"))]
        if accepted:
            assert rcpt and rcpt[0].startswith("250"), (prog, out)
        else:
            assert rcpt and not rcpt[0].startswith("250"), (prog, out)
        if encrypted is None:
            continue
        assert wait_for(lambda: f"RCPT {lp} tls=" in server.mainlog), (prog, server.mainlog)
        m = re.search(rf"RCPT {lp} tls=\[([^\]]*)\]", server.mainlog)
        assert bool(m.group(1)) == encrypted, (prog, name, m.group(0))
