"""OCSP stapling on the server side: tls_ocsp_file (docs/tls.md, OCSP section).

A private CA and responder are made at run time (ocsp_pki.py); responses come from `openssl ocsp`.
The peer is `openssl s_client -starttls smtp -status`, which prints the stapled response; the
server's $tls_in_ocsp is logged from the HELO ACL (run for the EHLO after STARTTLS).
"""
import re
import subprocess

import pytest

from daemon_helpers import Daemon, free_ports, wait_for
from ocsp_pki import HOST, Pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = Pki(tmp_path_factory.mktemp("pki"))
    p.leaf("good")
    p.leaf("other")
    p.leaf("bad")
    p.revoke("bad")
    return p


def start(postern_bin, tmp_path, pki, cert, ocsp_file, extra=""):
    port, = free_ports(1)
    d = Daemon(postern_bin, tmp_path, "")
    d.conf.write_text(f"""spool_directory = {d.spool}
exim_user = root
exim_group = root
daemon_startup_retries = 0
primary_hostname = {HOST}
daemon_smtp_ports = {port}
tls_certificate = {pki.d}/{cert}-chain.pem
tls_privatekey = {pki.d}/{cert}.key
tls_ocsp_file = {ocsp_file}
tls_ocsp_refresh = false
acl_smtp_helo = acl_helo
smtp_enforce_sync = false
{extra}
begin acl
acl_helo:
  warn condition = ${{if def:tls_in_cipher}}
       logwrite = OCSP=$tls_in_ocsp
  accept
""")
    d.port = port
    d.start()
    d.wait_listening(None)
    return d


def s_client(d, pki, status=True):
    args = ["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{d.port}",
            "-servername", HOST, "-CAfile", str(pki.d / "ca.pem"), "-crlf"]
    if status:
        args.append("-status")
    p = subprocess.run(args, input=b"EHLO client.example\nQUIT\n", capture_output=True, timeout=20)
    return p.stdout.decode(errors="replace")


def ocsp_logged(d):
    assert wait_for(lambda: "OCSP=" in d.mainlog), d.mainlog
    return re.search(r"OCSP=(\d)", d.mainlog).group(1)


@pytest.fixture
def daemon(postern_bin, tmp_path, pki):
    started = []

    def make(*a, **kw):
        d = start(postern_bin, tmp_path, pki, *a, **kw)
        started.append(d)
        return d
    yield make
    for d in started:
        d.stop()


def test_good_response_is_stapled(daemon, pki):
    pki.response("good", "good.der")
    d = daemon("good", f"{pki.d}/good.der")
    out = s_client(d, pki)
    assert "OCSP Response Status: successful" in out, out
    assert "Cert Status: good" in out
    assert "Serial Number: 1002" in out
    assert ocsp_logged(d) == "4"


def test_pem_prefix_and_second_list_item(daemon, pki):
    # The first item holds another certificate's response: the one for the certificate sent is
    # found in the second item, a PEM file.
    pki.response("other", "other.der")
    pki.response("good", "good-resp.pem", pem=True)
    d = daemon("good", f"{pki.d}/other.der : PEM {pki.d}/good-resp.pem")
    out = s_client(d, pki)
    assert "OCSP Response Status: successful" in out, out
    assert "Serial Number: 1002" in out
    assert ocsp_logged(d) == "4"


def test_not_asked(daemon, pki):
    pki.response("good", "good.der")
    d = daemon("good", f"{pki.d}/good.der")
    out = s_client(d, pki, status=False)
    assert "OCSP response" not in out
    assert ocsp_logged(d) == "0"


@pytest.mark.parametrize("make", [
    pytest.param(lambda p: p.response("good", "stale.der", fake="-3 days"), id="expired"),
    pytest.param(lambda p: p.response("good", "future.der", fake="+1 day"), id="not-yet-valid"),
    pytest.param(lambda p: p.response("good", "nonext.der", no_next=True), id="no-nextUpdate"),
    pytest.param(lambda p: p.response("other", "foreign.der"), id="foreign"),
    pytest.param(lambda p: (p.d / "junk.der").write_bytes(b"\x30\x03junk") and p.d / "junk.der", id="garbage"),
    pytest.param(lambda p: p.d / "missing.der", id="missing-file"),
])
def test_unusable_response_is_not_stapled(daemon, pki, make):
    path = make(pki)
    d = daemon("good", str(path))
    out = s_client(d, pki)
    assert "OCSP response: no response sent" in out, out
    assert "Verification: OK" in out or "Verify return code: 0" in out   # TLS went on
    assert ocsp_logged(d) == "1"


def test_revoked_response_still_valid_is_stapled(daemon, pki):
    # The server staples what the responder said, also "revoked": it is the client's to refuse.
    pki.response("bad", "bad.der")
    d = daemon("bad", f"{pki.d}/bad.der")
    out = s_client(d, pki)
    assert "OCSP Response Status: successful" in out, out
    assert "Cert Status: revoked" in out
    assert "Revocation Reason: keyCompromise" in out
    assert ocsp_logged(d) == "4"


def test_expanded_per_connection_with_sni(daemon, pki):
    pki.response("good", "mx.example.der")
    d = daemon("good", f"{pki.d}/${{tls_in_sni}}.der")
    out = s_client(d, pki)
    assert "OCSP Response Status: successful" in out, out
    assert ocsp_logged(d) == "4"
