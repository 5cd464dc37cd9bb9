"""The daemon's cached server TLS context (docs/tls.md, "Server context caching").

When tls_certificate/tls_privatekey have no expansion, the daemon loads them once and its
connection processes inherit them; a change of a file (inode, size or modification time) rebuilds
the cache before the next connection. Options with an expansion are still expanded per connection.

How the tests can tell a cached certificate from one read per connection: two certificates with
the same key, subject, validity and serial length have PEM files of the same size. Writing the
second over the first in place and putting the old modification time back leaves the file's
signature unchanged: a daemon that caches still sends the first certificate, one that reads per
connection would send the second. Touching the file then makes the cache reload it.
"""
import os
import smtplib
import ssl
import subprocess

import pytest

from daemon_helpers import Daemon, free_ports, wait_for

HOST = "mx.example"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Cache CA", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
            "-subj", f"/CN={HOST}", cwd=d)
    (d / "srv.ext").write_text(f"subjectAltName=DNS:{HOST}\n")
    for name, serial in (("a", "0x1111111111111111"), ("b", "0x2222222222222222")):
        openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", serial,
                "-days", "2", "-extfile", "srv.ext", "-out", f"{name}.pem", cwd=d)
    (d / "live.pem").write_bytes((d / "a.pem").read_bytes())
    return d


def start(postern_bin, tmp_path, pki, cert, extra=""):
    port, = free_ports(1)
    d = Daemon(postern_bin, tmp_path, "")
    d.conf.write_text(f"""spool_directory = {d.spool}
exim_user = root
exim_group = root
daemon_startup_retries = 0
primary_hostname = {HOST}
daemon_smtp_ports = {port}
tls_certificate = {cert}
tls_privatekey = {pki}/srv.key
queue_only
acl_smtp_rcpt = accept
{extra}
""")
    d.port = port
    d.start()
    d.wait_listening(None)
    return d


def served_serial(d, sni=HOST):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
    s.ehlo("client.example")
    s._host = sni
    s.starttls(context=ctx)
    s.ehlo("client.example")
    der = s.sock.getpeercert(binary_form=True)
    s.quit()
    return der


def der(pki, name):
    return ssl.PEM_cert_to_DER_cert((pki / f"{name}.pem").read_text())


def overwrite_keeping_signature(path, data):
    st = path.stat()
    assert len(data) == st.st_size
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_static_certificate_is_cached_and_reloaded_on_change(postern_bin, tmp_path, pki):
    live = pki / "live.pem"
    d = start(postern_bin, tmp_path, pki, live)
    try:
        assert served_serial(d) == der(pki, "a")
        overwrite_keeping_signature(live, (pki / "b.pem").read_bytes())
        assert served_serial(d) == der(pki, "a"), "the daemon's cached certificate was not used"
        os.utime(live)   # a new modification time: the daemon rebuilds its context
        assert served_serial(d) == der(pki, "b")
        # A replacement by rename (how certificates are usually renewed) is a new inode.
        tmp = pki / "live.tmp"
        tmp.write_bytes((pki / "a.pem").read_bytes())
        os.replace(tmp, live)
        assert served_serial(d) == der(pki, "a")
    finally:
        d.stop()


def test_expanded_certificate_is_read_per_connection(postern_bin, tmp_path, pki):
    live = pki / "live.pem"
    d = start(postern_bin, tmp_path, pki, "${if eq{$tls_in_sni}{other.example}{" + str(pki / "b.pem") + "}{" + str(live) + "}}")
    try:
        assert served_serial(d) == der(pki, "a")
        assert served_serial(d, "other.example") == der(pki, "b")
        overwrite_keeping_signature(live, (pki / "b.pem").read_bytes())
        assert served_serial(d) == der(pki, "b")
    finally:
        d.stop()


def test_missing_file_then_restored(postern_bin, tmp_path, pki):
    live = pki / "live.pem"
    saved = live.read_bytes()
    live.unlink()
    d = start(postern_bin, tmp_path, pki, live)
    try:
        with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
            served_serial(d)
        assert wait_for(lambda: "live.pem" in d.mainlog), d.mainlog
        live.write_bytes(saved)
        assert served_serial(d) == der(pki, "a")
    finally:
        d.stop()


def test_client_certificate_ca_cached_with_per_host_verify(postern_bin, tmp_path, pki):
    """The CA bundle is in the cached context; whether a client is asked is decided per connection."""
    d = start(postern_bin, tmp_path, pki, pki / "live.pem",
              f"tls_try_verify_hosts = 127.0.0.2\ntls_verify_hosts = 127.0.0.1\ntls_verify_certificates = {pki}/ca.pem")
    try:
        with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
            served_serial(d)   # 127.0.0.1 must present a certificate
        assert wait_for(lambda: "TLS error on connection from" in d.mainlog), d.mainlog
    finally:
        d.stop()
