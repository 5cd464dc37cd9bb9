"""OCSP on the client side: the smtp transport's hosts_request_ocsp / hosts_require_ocsp
(docs/tls.md, OCSP section; facts §2).

Servers: Exim 4.96 (Debian's GnuTLS build) stapling from its tls_ocsp_file, and
`openssl s_server -status_file` (smtps) for a staple Exim would not send (another certificate's).
Certificates and responses: ocsp_pki.py. The client is `postern -odi` (test_tls_client's harness).
"""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from daemon_helpers import free_ports, wait_for
from ocsp_pki import HOST, Pki
from test_tls_client import deliver, find

NEEDS_EXIM = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")


@pytest.fixture(scope="module")
def pki():
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-ocsp-pki-"))
    os.chmod(d, 0o755)
    p = Pki(d)
    p.leaf("good")
    p.leaf("other")
    p.leaf("bad")
    p.revoke("bad")
    p.response("good", "good.der")
    p.response("other", "other.der")
    p.response("bad", "bad.der")
    p.response("good", "stale.der", fake="-3 days")
    for f in d.iterdir():
        os.chmod(f, 0o644)
    yield p
    shutil.rmtree(d, ignore_errors=True)


class EximServer:
    def __init__(self, pki, cert, ocsp_file=None, extra=""):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="postern-ocsp-eximsrv-"))
        (self.dir / "spool").mkdir()
        (self.dir / "log").mkdir()
        self.port = free_ports(1)[0]
        ocsp = f"tls_ocsp_file = {ocsp_file}" if ocsp_file else ""
        (self.dir / "srv.conf").write_text(f"""primary_hostname = {HOST}
spool_directory = {self.dir}/spool
log_file_path = {self.dir}/log/%slog
exim_user = root
exim_group = root
never_users =
keep_environment =
daemon_smtp_ports = {self.port}
tls_advertise_hosts = *
tls_certificate = {pki.d}/{cert}-chain.pem
tls_privatekey = {pki.d}/{cert}.key
{ocsp}
{extra}
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


@pytest.fixture
def exim_server(pki):
    started = []

    def start(cert, ocsp_file=None, extra=""):
        s = EximServer(pki, cert, ocsp_file, extra)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


OCSP_VAR = "begin acl\nev:\n  warn logwrite = OUT o=$tls_out_ocsp\n  accept\n"
ON_DELIVERY = "  event_action = ${if eq{$event_name}{msg:delivery}{${acl{ev}}}}\n"


def transport(pki, require=True, request=None):
    t = f"  tls_verify_certificates = {pki.d}/ca.pem\n  tls_verify_cert_hostnames =\n"
    if require:
        t += "  hosts_require_ocsp = *\n"
    if request is not None:
        t += f"  hosts_request_ocsp = {request}\n"
    return t + ON_DELIVERY


DEFER = r"^== rcpt@r\.test R=r T=t defer \(-37\) H=127\.0\.0\.1 \[127\.0\.0\.1\]: TLS session: "


REQUIRE_TLS = "  hosts_require_tls = *\n"


@NEEDS_EXIM
def test_good_staple_required_delivers(postern_bin, pki, exim_server):
    srv = exim_server("good", f"{pki.d}/good.der")
    for who in ("postern", "exim"):
        lines = deliver(who, postern_bin, srv.port, transport(pki), main=OCSP_VAR)
        assert find(lines, r"^=> rcpt@r\.test .* X=TLS1\.3:"), (who, lines)
        assert find(lines, r"^OUT o=") == ["OUT o=4"], (who, lines)


@NEEDS_EXIM
def test_missing_staple_required_defers_as_exim(postern_bin, pki, exim_server):
    srv = exim_server("good")
    lines = deliver("postern", postern_bin, srv.port, transport(pki) + REQUIRE_TLS, main=OCSP_VAR)
    assert "Required TLS certificate status not received" in lines, lines
    assert find(lines, DEFER), lines
    assert not find(lines, r"^=> "), lines
    exim = deliver("exim", postern_bin, srv.port, transport(pki) + REQUIRE_TLS, main=OCSP_VAR)
    assert find(exim, DEFER) and not find(exim, r"^=> "), exim


@NEEDS_EXIM
def test_missing_staple_required_tries_clear_as_exim(postern_bin, pki, exim_server):
    # hosts_require_ocsp alone does not forbid tls_tempfail_tryclear (Exim 4.96 likewise).
    srv = exim_server("good")
    for who in ("postern", "exim"):
        lines = deliver(who, postern_bin, srv.port, transport(pki), main=OCSP_VAR)
        assert find(lines, r"^TLS session: \(.*: delivering unencrypted to H=127\.0\.0\.1 \[127\.0\.0\.1\] "
                           r"\(not in hosts_require_tls\)$"), (who, lines)
        assert find(lines, r"^=> rcpt@r\.test R=r T=t H=127\.0\.0\.1 \[127\.0\.0\.1\] (K )?C="), (who, lines)


@NEEDS_EXIM
def test_missing_staple_requested_delivers(postern_bin, pki, exim_server):
    srv = exim_server("good")
    lines = deliver("postern", postern_bin, srv.port, transport(pki, require=False), main=OCSP_VAR)
    assert find(lines, r"^=> rcpt@r\.test .* X=TLS1\.3:"), lines
    assert find(lines, r"^OUT o=") == ["OUT o=1"], lines


@NEEDS_EXIM
def test_not_requested(postern_bin, pki, exim_server):
    srv = exim_server("good", f"{pki.d}/good.der")
    lines = deliver("postern", postern_bin, srv.port, transport(pki, require=False, request=""), main=OCSP_VAR)
    assert find(lines, r"^=> rcpt@r\.test .* X=TLS1\.3:"), lines
    assert find(lines, r"^OUT o=") == ["OUT o=0"], lines


def s_server(pki, cert, status_file):
    """openssl s_server on a free port, TLS on connect, stapling status_file whatever it says."""
    port, = free_ports(1)
    p = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", str(pki.d / f"{cert}-chain.pem"),
                          "-key", str(pki.d / f"{cert}.key"), "-status_file", str(pki.d / status_file),
                          "-naccept", "1", "-quiet"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    assert wait_for(lambda: f":{port} " in subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout)
    return p, port


# The staples Exim (GnuTLS) refuses to send, from a server that sends anything: another
# certificate's (Exim's OpenSSL client would accept it), a revoked one, an expired one.
@pytest.mark.parametrize("cert,staple,require,line", [
    ("good", "other.der", True, "Received TLS cert status response, not for the server certificate"),
    ("good", "stale.der", True, "OCSP dates invalid"),
    ("bad", "bad.der", True, "Server certificate revoked; reason: keyCompromise"),
    ("bad", "bad.der", False, "Server certificate revoked; reason: keyCompromise"),
])
def test_bad_staple_defers(postern_bin, pki, cert, staple, require, line):
    srv, port = s_server(pki, cert, staple)
    try:
        lines = deliver("postern", postern_bin, port, transport(pki, require=require) + "  protocol = smtps\n",
                        main=OCSP_VAR)
        assert line in lines, lines
        assert find(lines, DEFER), lines
        assert not find(lines, r"^=> "), lines
    finally:
        srv.kill()
        srv.wait()


@pytest.mark.parametrize("staple,line", [
    ("other.der", "Received TLS cert status response, not for the server certificate"),
    ("stale.der", "OCSP dates invalid"),
])
def test_bad_staple_only_requested_does_not_fail_tls(postern_bin, pki, staple, line):
    # Not required: the failure is logged and the handshake goes on (s_server then says nothing,
    # so the delivery ends in a timeout, not in a TLS failure).
    srv, port = s_server(pki, "good", staple)
    try:
        lines = deliver("postern", postern_bin, port, transport(pki, require=False) + "  protocol = smtps\n",
                        main=OCSP_VAR)
        assert line in lines, lines
        assert not find(lines, r"defer \(-37\)"), lines
        assert find(lines, r"^== rcpt@r\.test .* defer "), lines
    finally:
        srv.kill()
        srv.wait()


@NEEDS_EXIM
def test_resumed_session_satisfies_require(postern_bin, pki, exim_server):
    # The second delivery resumes the first session: no certificate and no staple are sent, so
    # $tls_out_ocsp says "no response" (facts §2), and require is met by the staple verified in
    # the full handshake that made the session.
    srv = exim_server("good", f"{pki.d}/good.der", "tls_resumption_hosts = *")
    lines = deliver("postern", postern_bin, srv.port, transport(pki) + "  tls_resumption_hosts = *\n",
                    selector="+tls_resumption", main=OCSP_VAR, times=2)
    d = find(lines, r"^=> ")
    assert len(d) == 2 and "* CV=yes" not in d[0] and re.search(r"X=TLS1\.3:\S+\* CV=yes", d[1]), lines
    assert find(lines, r"^OUT o=") == ["OUT o=4", "OUT o=1"], lines
