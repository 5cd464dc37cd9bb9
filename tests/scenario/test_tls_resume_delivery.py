"""TLS session resumption across deliveries (issue 5 acceptance 3; facts §11).

Postern delivers twice to the same server with the smtp transport's tls_resumption_hosts = *:
the first session stores the server's ticket in the client's `tls` hints database, the second
offers it and is resumed. Servers: a Postern daemon and Exim 4.96 (GnuTLS) with
tls_resumption_hosts = *. Checked as Exim reports it: $tls_out_resumption (event msg:delivery)
11 then 31 under TLS 1.3, X=...* on the second => line (log_selector +tls_resumption) and, on a
Postern server, on the second <= line with $tls_in_resumption 11 then 31.
"""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from daemon_helpers import Daemon, free_ports, wait_for
from smtp_transport_helpers import log_body

HOST = "mx.example"
NEEDS_EXIM = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")


@pytest.fixture(scope="module")
def pki():
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-resume-pki-"))
    os.chmod(d, 0o755)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", "srv.key", "-out", "srv.pem", "-days", "2", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST}"], cwd=d, check=True, capture_output=True)
    for f in d.iterdir():
        os.chmod(f, 0o644)   # Exim's daemon reads them as Debian-exim
    yield d
    shutil.rmtree(d, ignore_errors=True)


def postern_server(postern_bin, tmp_path, pki):
    (port,) = free_ports(1)
    (tmp_path / "server").mkdir()
    d = Daemon(postern_bin, tmp_path / "server", "")
    d.conf.write_text(f"""spool_directory = {d.spool}
exim_user = root
exim_group = root
daemon_startup_retries = 0
primary_hostname = {HOST}
daemon_smtp_ports = {port}
tls_certificate = {pki}/srv.pem
tls_privatekey = {pki}/srv.key
tls_resumption_hosts = *
log_selector = +tls_resumption
queue_only
acl_smtp_rcpt = accept
acl_smtp_data = acl_data
begin acl
acl_data:
  warn logwrite = IN r=$tls_in_resumption
  accept
""")
    d.port = port
    d.start()
    d.wait_listening(None)
    return d


class EximServer:
    def __init__(self, pki):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="postern-resume-exim-"))
        os.chmod(self.dir, 0o755)
        (self.dir / "spool").mkdir()
        (self.dir / "log").mkdir()
        self.port = free_ports(1)[0]
        (self.dir / "srv.conf").write_text(f"""primary_hostname = {HOST}
spool_directory = {self.dir}/spool
log_file_path = {self.dir}/log/%slog
exim_user = root
exim_group = root
never_users =
keep_environment =
daemon_smtp_ports = {self.port}
tls_advertise_hosts = *
tls_certificate = {pki}/srv.pem
tls_privatekey = {pki}/srv.key
tls_resumption_hosts = *
log_selector = +tls_resumption
queue_only
acl_smtp_rcpt = accept
""")
        self.proc = subprocess.Popen(["exim", "-C", str(self.dir / "srv.conf"), "-bd", "-oX", str(self.port),
                                      "-oP", str(self.dir / "pid")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        assert wait_for(lambda: "daemon started" in self.mainlog), self.mainlog

    @property
    def mainlog(self):
        p = self.dir / "log" / "mainlog"
        return p.read_text() if p.exists() else ""

    def stop(self):
        try:
            os.kill(int((self.dir / "pid").read_text()), 15)
        except (OSError, ValueError):
            pass
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


CLIENT = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
never_users =
trusted_users = root
keep_environment =
log_selector = +tls_resumption
{main}
begin acl
ev:
  warn logwrite = out r=$tls_out_resumption ${{listextract{{$tls_out_resumption}}{{_RESUME_DECODE}}}}
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
  command_timeout = 5s
  tls_verify_cert_hostnames =
  tls_resumption_hosts = *
  event_action = ${{if eq{{$event_name}}{{msg:delivery}}{{${{acl{{ev}}}}}}}}
{extra}
begin retry
* * F,1h,1h
"""


class Client:
    """A Postern client whose spool (and so its `tls` hints database) lasts across deliveries."""

    def __init__(self, postern_bin, tmp_path, port, extra="", main=""):
        self.bin = postern_bin
        self.d = tmp_path / "client"
        (self.d / "spool").mkdir(parents=True)
        (self.d / "log").mkdir()
        self.conf = self.d / "c.conf"
        self.conf.write_text(CLIENT.format(d=self.d, port=port, extra=extra, main=main))
        self.seen = 0

    def deliver(self):
        """One message with -odi; the log lines it added (time stamps and ids removed)."""
        r = subprocess.run([self.bin, "-C", str(self.conf), "-odi", "-f", "sender@s.test", "rcpt@r.test"],
                           input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        lines = (self.d / "log" / "mainlog").read_text().splitlines()
        new, self.seen = lines[self.seen:], len(lines)
        return [log_body(line) for line in new]

    def dump(self):
        link = self.d / "exim_dumpdb"
        if not link.exists():
            os.symlink(self.bin, link)
        return subprocess.run([str(link), str(self.d / "spool"), "tls"], capture_output=True, text=True,
                              timeout=30).stdout


def outcome(lines):
    out = next((line for line in lines if line.startswith("out r=")), None)
    delivered = next((line for line in lines if line.startswith("=> ")), None)
    assert out and delivered, lines
    return out, re.search(r" X=(\S+)", delivered).group(1)


def test_postern_to_postern_second_delivery_resumed(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki)
    try:
        c = Client(postern_bin, tmp_path, srv.port)
        out1, x1 = outcome(c.deliver())
        assert out1 == "out r=11 client requested new ticket, server provided", out1
        assert not x1.endswith("*")
        assert re.fullmatch(r"  [0-9a-f]{64} stored .* expires .*\n", c.dump()), c.dump()
        out2, x2 = outcome(c.deliver())
        assert out2 == "out r=31 session resumed, also new ticket", out2
        assert x2 == x1 + "*"
        assert wait_for(lambda: srv.mainlog.count(" <= ") == 2), srv.mainlog
        assert re.findall(r"IN r=(\d+)", srv.mainlog) == ["11", "31"], srv.mainlog
        xs = re.findall(r" <= \S+ .* X=(\S+)", srv.mainlog)
        assert len(xs) == 2 and not xs[0].endswith("*") and xs[1] == xs[0] + "*", srv.mainlog
    finally:
        srv.stop()


def test_postern_to_postern_tls12(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki)
    try:
        c = Client(postern_bin, tmp_path, srv.port, main="openssl_options = +no_tlsv1_3")
        out1, x1 = outcome(c.deliver())
        assert out1.startswith("out r=11 "), out1
        out2, x2 = outcome(c.deliver())
        assert out2 == "out r=23 session resumed" and x2 == x1 + "*" and x1.startswith("TLS1.2:"), (out2, x2)
    finally:
        srv.stop()


def test_changed_settings_do_not_resume(postern_bin, tmp_path, pki):
    """The session key covers SNI (among others): another SNI starts a new session."""
    srv = postern_server(postern_bin, tmp_path, pki)
    try:
        c = Client(postern_bin, tmp_path, srv.port)
        outcome(c.deliver())
        c.conf.write_text(c.conf.read_text().replace("  tls_resumption_hosts = *", "  tls_resumption_hosts = *\n  tls_sni = other.example"))
        out, x = outcome(c.deliver())
        assert out.startswith("out r=11 ") and not x.endswith("*"), (out, x)
        assert len(c.dump().splitlines()) == 2
    finally:
        srv.stop()


def test_not_in_transport_resumption_hosts(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki)
    try:
        c = Client(postern_bin, tmp_path, srv.port)
        c.conf.write_text(c.conf.read_text().replace("  tls_resumption_hosts = *", "  tls_resumption_hosts = 192.0.2.1"))
        for _ in range(2):
            out, x = outcome(c.deliver())
            assert out.startswith("out r=1 ") and not x.endswith("*"), (out, x)
        assert c.dump() == ""
    finally:
        srv.stop()


@NEEDS_EXIM
def test_postern_to_exim_second_delivery_resumed(postern_bin, tmp_path, pki):
    srv = EximServer(pki)
    try:
        c = Client(postern_bin, tmp_path, srv.port)
        out1, x1 = outcome(c.deliver())
        assert out1.startswith("out r=11 "), out1
        out2, x2 = outcome(c.deliver())
        assert out2 == "out r=31 session resumed, also new ticket", out2
        assert x2 == x1 + "*"
        assert wait_for(lambda: srv.mainlog.count(" <= ") == 2), srv.mainlog
        xs = re.findall(r" <= \S+ .* X=(\S+)", srv.mainlog)
        assert len(xs) == 2 and not xs[0].endswith("*") and xs[1].endswith("*"), srv.mainlog
    finally:
        srv.stop()
