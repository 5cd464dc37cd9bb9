"""The daemon's self-refreshing OCSP staples (tls_ocsp_refresh; docs/tls.md).

The certificates name a responder at http://127.0.0.1:<port>/ in their AIA; the responder is
`openssl ocsp -port` over the CA's index (or a small Python server sending canned bytes). The
daemon is started with a stale, fresh or missing response file and the file is watched.
"""
import http.server
import pathlib
import pwd
import re
import subprocess
import threading
import time

import pytest

from daemon_helpers import Daemon, free_ports, wait_for
from ocsp_pki import HOST, Pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    port, = free_ports(1)
    p = Pki(tmp_path_factory.mktemp("pki"), f"http://127.0.0.1:{port}/")
    p.port = port
    p.leaf("good")
    p.leaf("other")
    p.leaf("bad")
    p.revoke("bad")
    p.leaf("noaia", aia=False)
    return p


@pytest.fixture
def responder(pki):
    procs = []

    def start():
        procs.append(pki.responder(pki.port))
    yield start
    for p in procs:
        p.terminate()
        p.wait()


@pytest.fixture
def canned(pki):
    """An HTTP server on the responder's port that answers every POST with fixed bytes."""
    servers = []

    def start(body, status=200):
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(status)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass
        s = http.server.HTTPServer(("127.0.0.1", pki.port), H)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture
def daemon(postern_bin, tmp_path, pki):
    started = []

    def make(cert, ocsp_file, extra=""):
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
smtp_enforce_sync = false
{extra}
""")
        d.port = port
        d.start()
        d.wait_listening(None)
        started.append(d)
        return d
    yield make
    for d in started:
        d.stop()


def resp_text(path):
    return subprocess.run(["openssl", "ocsp", "-respin", str(path), "-resp_text", "-noverify"],
                          capture_output=True, text=True).stdout


def this_update(path):
    m = re.search(r"This Update: (.*)", resp_text(path))
    return m and m.group(1)


def stapled(d, pki):
    p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{d.port}",
                        "-servername", HOST, "-CAfile", str(pki.d / "ca.pem"), "-crlf", "-status"],
                       input=b"QUIT\n", capture_output=True, timeout=20)
    return p.stdout.decode(errors="replace")


def test_stale_staple_is_replaced_while_running(daemon, pki, responder, tmp_path):
    staple = tmp_path / "good.der"
    pki.response("good", staple, fake="-3 days")      # expired: not stapled, due at once
    old = staple.read_bytes()
    responder()
    d = daemon("good", staple)
    assert wait_for(lambda: "refreshed from" in d.mainlog), d.mainlog
    assert re.search(rf"OCSP staple for {pki.d}/good-chain.pem refreshed from {pki.url}: certificate good, "
                     r"response valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", d.mainlog), d.mainlog
    assert staple.read_bytes() != old
    assert "Cert Status: good" in resp_text(staple)
    out = stapled(d, pki)
    assert "OCSP Response Status: successful" in out and "Cert Status: good" in out, out
    assert not list(tmp_path.glob(".good.der.tmp*"))


def test_responder_down_keeps_file_and_logs(daemon, pki, tmp_path):
    staple = tmp_path / "good.der"
    pki.response("good", staple, fake="-3 days")
    old = staple.read_bytes()
    d = daemon("good", staple)
    assert wait_for(lambda: "OCSP staple refresh for" in d.mainlog), d.mainlog
    assert (f"OCSP staple refresh for {pki.d}/good-chain.pem from {pki.url} failed: cannot connect to "
            f"127.0.0.1 port {pki.port}: Connection refused; the file is unchanged, next attempt in 1m") in d.mainlog
    assert staple.read_bytes() == old


def test_fresh_staple_left_alone(daemon, pki, responder, tmp_path):
    staple = tmp_path / "good.der"
    pki.response("good", staple, days=2)
    old = staple.read_bytes()
    responder()
    d = daemon("good", staple)
    assert "OCSP Response Status: successful" in stapled(d, pki)
    time.sleep(1.5)
    assert "OCSP staple" not in d.mainlog
    assert staple.read_bytes() == old


def test_missing_file_is_created_in_pem_when_asked(daemon, pki, responder, tmp_path):
    staple = tmp_path / "good.pem"
    responder()
    d = daemon("good", f"PEM {staple}")
    assert wait_for(lambda: "refreshed from" in d.mainlog), d.mainlog
    assert staple.read_text().startswith("-----BEGIN OCSP RESPONSE-----\n")
    assert "OCSP Response Status: successful" in stapled(d, pki)


def test_revoked_is_written_and_logged(daemon, pki, responder, tmp_path):
    staple = tmp_path / "bad.der"
    responder()
    d = daemon("bad", staple)
    assert wait_for(lambda: "refreshed from" in d.mainlog), d.mainlog
    assert "certificate REVOKED" in d.mainlog
    assert "Cert Status: revoked" in resp_text(staple)


def test_foreign_response_rejected(daemon, pki, canned, tmp_path):
    pki.response("other", "other.der")
    canned((pki.d / "other.der").read_bytes())
    staple = tmp_path / "good.der"
    d = daemon("good", staple)
    assert wait_for(lambda: "failed:" in d.mainlog), d.mainlog
    assert "failed: unusable response: not for the server certificate; the file is unchanged" in d.mainlog
    assert not staple.exists()


def test_http_error_rejected(daemon, pki, canned, tmp_path):
    canned(b"busy", status=503)
    staple = tmp_path / "good.der"
    d = daemon("good", staple)
    assert wait_for(lambda: "failed:" in d.mainlog), d.mainlog
    assert "failed: HTTP status 503 Service Unavailable;" in d.mainlog


@pytest.mark.parametrize("cert,extra", [("noaia", ""), ("good", "tls_ocsp_refresh = false")])
def test_not_refreshed_without_responder_or_when_off(daemon, pki, responder, tmp_path, cert, extra):
    staple = tmp_path / "x.der"
    responder()
    d = daemon(cert, staple, extra)
    time.sleep(1.5)
    assert "OCSP staple" not in d.mainlog
    assert not staple.exists()


def test_past_half_life_refreshed_but_never_with_an_older_answer(daemon, pki, canned, tmp_path):
    staple = tmp_path / "good.der"
    pki.response("good", staple, fake="-20 hours")        # valid 4 more hours: past its half-life
    old = staple.read_bytes()
    pki.response("good", "older.der", fake="-22 hours")   # what a stale cache might serve
    canned((pki.d / "older.der").read_bytes())
    d = daemon("good", staple)
    assert wait_for(lambda: "failed:" in d.mainlog), d.mainlog
    assert "failed: the responder's answer is older than the response in the file; the file is unchanged" \
        in d.mainlog, d.mainlog
    assert staple.read_bytes() == old
    # The old response is still current, so it is still stapled meanwhile.
    assert "OCSP Response Status: successful" in stapled(d, pki)


def test_past_half_life_is_refreshed(daemon, pki, responder, tmp_path):
    staple = tmp_path / "good.der"
    pki.response("good", staple, fake="-13 hours")        # 13 of 24 hours gone
    before = this_update(staple)
    responder()
    d = daemon("good", staple)
    assert wait_for(lambda: "refreshed from" in d.mainlog), d.mainlog
    assert this_update(staple) != before


def peer_uid(port):
    """The uid owning the 127.0.0.1:port end of a loopback TCP connection (/proc/net/tcp)."""
    for line in pathlib.Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port:
            return int(f[7])
    return None


def test_fetch_runs_as_the_exim_user(postern_bin, tmp_path, pki):
    """The HTTP exchange runs in a process of the Exim user; the verified staple is then
    written by the refresher with the daemon's privileges."""
    pki.response("good", "good.der")
    body = (pki.d / "good.der").read_bytes()
    uids = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            uids.append(peer_uid(self.client_address[1]))
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    s = http.server.HTTPServer(("127.0.0.1", pki.port), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    port, = free_ports(1)
    d = Daemon(postern_bin, tmp_path, "")
    staple = tmp_path / "good.der"
    d.conf.write_text(f"""spool_directory = {d.spool}
exim_user = mail
exim_group = mail
daemon_startup_retries = 0
primary_hostname = {HOST}
daemon_smtp_ports = {port}
tls_certificate = {pki.d}/good-chain.pem
tls_privatekey = {pki.d}/good.key
tls_ocsp_file = {staple}
""")
    d.start()
    try:
        d.wait_listening(None)
        assert wait_for(lambda: "refreshed from" in d.mainlog, 15), d.mainlog
        assert staple.exists()
        assert uids and uids[0] == pwd.getpwnam("mail").pw_uid, uids
    finally:
        d.stop()
        s.shutdown()
        s.server_close()
