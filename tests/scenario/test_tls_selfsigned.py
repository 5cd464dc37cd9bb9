"""STARTTLS without tls_certificate: Exim's self-signed stand-in (docs/tls.md).

What Exim 4.96 does, observed live (exim -bd, openssl s_client -starttls smtp): STARTTLS is
advertised to tls_advertise_hosts whether or not tls_certificate is set; without one the daemon
logs "Warning: No server certificate defined; will use a selfsigned one." (with a "Suggested
action" continuation line) before its "daemon started" line, and every connection gets the same
certificate: version 3, serial 0x0100000000000000, subject = issuer = C=UK, O=Exim Developers,
CN=<primary_hostname>, valid for two hours from its making, RSA 3072, sha256WithRSAEncryption, no
extensions. A tls_certificate that expands to empty gets one too, without the warning. An empty
tls_advertise_hosts: no STARTTLS and no warning.
"""
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
from datetime import datetime, timezone

import pytest

from daemon_helpers import Daemon, free_ports, wait_for

HOST = "mx.example"
WARNING = ("Warning: No server certificate defined; will use a selfsigned one.\n"
           " Suggested action: either install a certificate or change tls_advertise_hosts option\n")


def start(postern_bin, tmp_path, extra="", ports=None):
    """A daemon on ports (a list; default one free port); d.port is the first."""
    ports = ports or free_ports(1)
    port = ports[0]
    d = Daemon(postern_bin, tmp_path, "", tls_default=True)
    d.conf.write_text(f"""spool_directory = {d.spool}
exim_user = root
exim_group = root
daemon_startup_retries = 0
primary_hostname = {HOST}
daemon_smtp_ports = {' : '.join(map(str, ports))}
queue_only
acl_smtp_rcpt = accept
acl_smtp_data = acl_data
{extra}
begin acl
acl_data:
  warn encrypted = *
       logwrite = OURCERT S=${{certextract{{subject}}{{$tls_in_ourcert}}}} I=${{certextract{{issuer}}{{$tls_in_ourcert}}}} V=$tls_in_certificate_verified B=$tls_in_bits
  accept
""")
    d.port = port
    d.start()
    try:
        d.wait_listening(None, timeout=30)   # an RSA-3072 key may take seconds on a loaded machine
    except BaseException:
        d.stop()
        raise
    return d


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def starttls(d, send=False):
    """EHLO, STARTTLS, EHLO; the server's certificate (DER)."""
    s = smtplib.SMTP("127.0.0.1", d.port, timeout=20)
    s.ehlo("client.example")
    assert s.has_extn("starttls"), s.esmtp_features
    s.starttls(context=ctx())
    s.ehlo("client.example")
    der = s.sock.getpeercert(binary_form=True)
    if send:
        s.sendmail("a@b.example", ["d@e.example"], "Subject: t\r\n\r\nbody\r\n")
    s.quit()
    return der


def cert_text(der):
    return subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-text"], input=der,
                          capture_output=True, check=True).stdout.decode()


def cert_date(der, which):
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", f"-{which}"], input=der,
                         capture_output=True, check=True).stdout.decode().strip()
    return datetime.strptime(out.split("=", 1)[1], "%b %d %H:%M:%S %Y GMT").replace(tzinfo=timezone.utc)


def test_unset_certificate_gets_exims_selfsigned_one(postern_bin, tmp_path):
    d = start(postern_bin, tmp_path)
    try:
        log = d.mainlog
        # The warning precedes the daemon's start line, once.
        assert log.count(WARNING) == 1, log
        assert log.index(WARNING) < log.index("daemon started"), log
        der1 = starttls(d, send=True)
        der2 = starttls(d)
        assert der1 == der2   # made once in the daemon, not per connection
        text = cert_text(der1)
        assert "Version: 3 (0x2)" in text
        assert "Serial Number: 72057594037927936 (0x100000000000000)" in text
        assert f"Subject: C = UK, O = Exim Developers, CN = {HOST}\n" in text
        assert f"Issuer: C = UK, O = Exim Developers, CN = {HOST}\n" in text
        assert "Public-Key: (3072 bit)" in text and "rsaEncryption" in text
        assert "Signature Algorithm: sha256WithRSAEncryption" in text
        assert "X509v3" not in text   # no extensions
        nb, na = cert_date(der1, "startdate"), cert_date(der1, "enddate")
        assert (na - nb).total_seconds() == 2 * 3600
        assert abs((datetime.now(timezone.utc) - nb).total_seconds()) < 120
        assert wait_for(lambda: " <= a@b.example" in d.mainlog), d.mainlog
        log = d.mainlog
        # Exim built with OpenSSL gives the RFC 2253 order (Debian's GnuTLS build: C=UK,O=...,CN=...).
        dn = f"CN={HOST},O=Exim Developers,C=UK"
        assert f"OURCERT S={dn} I={dn} V=0 B=256" in log, log
        assert re.search(r" <= a@b\.example H=\(client\.example\) \[127\.0\.0\.1\] P=esmtps X=TLS1\.3:\S+ CV=no ", log), log
        assert log.count("Warning: No server certificate") == 1, log
        assert not d.paniclog
    finally:
        d.stop()


def test_certificate_expanding_to_empty_selfsigns_without_warning(postern_bin, tmp_path):
    d = start(postern_bin, tmp_path, "tls_certificate = ${if eq{1}{2}{/nonexistent}}")
    try:
        text = cert_text(starttls(d))
        assert f"Subject: C = UK, O = Exim Developers, CN = {HOST}\n" in text
        assert "Warning: No server certificate" not in d.mainlog, d.mainlog
    finally:
        d.stop()


def test_empty_advertise_hosts_offers_nothing_and_warns_not(postern_bin, tmp_path):
    d = start(postern_bin, tmp_path, "tls_advertise_hosts =")
    try:
        s = smtplib.SMTP("127.0.0.1", d.port, timeout=20)
        s.ehlo("client.example")
        assert not s.has_extn("starttls")
        code, _ = s.docmd("STARTTLS")
        assert code == 503
        s.quit()
        assert "Warning: No server certificate" not in d.mainlog, d.mainlog
    finally:
        d.stop()


def test_bh_advertises_starttls(postern_bin, tmp_path):
    conf = tmp_path / "bh.conf"
    conf.write_text(f"spool_directory = {tmp_path}/spool\nprimary_hostname = {HOST}\nexim_user = root\n"
                    "exim_group = root\n")
    r = subprocess.run([postern_bin, "-C", str(conf), "-bh", "1.2.3.4"], input=b"EHLO x\r\nQUIT\r\n",
                       capture_output=True, timeout=30)
    out = r.stdout.decode()
    assert "250-STARTTLS\r\n" in out or "250-STARTTLS\n" in out, out
    assert "No server certificate" not in out + r.stderr.decode()   # Exim's -bh does not warn


def test_bs_session_selfsigns_without_warning(postern_bin, tmp_path):
    """inetd style (-bs on a socket): the certificate is made at STARTTLS, and Exim logs nothing."""
    spool = tmp_path / "spool"
    conf = tmp_path / "bs.conf"
    conf.write_text(f"spool_directory = {spool}\nprimary_hostname = {HOST}\nexim_user = root\n"
                    "exim_group = root\n")
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    result = {}

    def serve():
        c, _ = lsock.accept()
        result["rc"] = subprocess.run([postern_bin, "-C", str(conf), "-bs", "-oMa", "127.0.0.1"], stdin=c.fileno(),
                                      stdout=c.fileno(), stderr=subprocess.PIPE, timeout=60).returncode
        c.close()
    t = threading.Thread(target=serve)
    t.start()
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.ehlo("client.example")
        assert s.has_extn("starttls")
        s.starttls(context=ctx())
        text = cert_text(s.sock.getpeercert(binary_form=True))
        s.quit()
    finally:
        t.join(60)
        lsock.close()
    assert f"Subject: C = UK, O = Exim Developers, CN = {HOST}\n" in text
    log = spool / "log" / "mainlog"
    assert "Warning: No server certificate" not in (log.read_text() if log.exists() else "")


def test_resumption_works_with_the_selfsigned_certificate(postern_bin, tmp_path):
    """Tickets (tls_resumption_hosts) do not depend on a configured certificate."""
    d = start(postern_bin, tmp_path, "tls_resumption_hosts = *")
    msg = ("EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<d@e.example>\r\nDATA\r\n"
           "Subject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    sess = tmp_path / "sess"
    try:
        outs = []
        for extra in (["-sess_out", str(sess)], ["-sess_in", str(sess)]):
            r = subprocess.run(["openssl", "s_client", "-ign_eof", "-nocommands", "-starttls", "smtp",
                                "-connect", f"127.0.0.1:{d.port}", "-tls1_3", *extra],
                               input=msg, capture_output=True, text=True, timeout=30)
            assert "250 OK id=" in r.stdout, r.stdout + r.stderr
            outs.append(r.stdout)
        assert re.search(r"^New, TLSv1\.3", outs[0], re.M), outs[0]
        assert re.search(r"^Reused, TLSv1\.3", outs[1], re.M), outs[1]
        assert "subject=C = UK, O = Exim Developers, CN = mx.example" in outs[0]
    finally:
        d.stop()


def test_explicitly_empty_certificate_selfsigns_without_warning(postern_bin, tmp_path):
    """`tls_certificate =` (set, empty) is not "undefined": Exim 4.96 logs no warning, and its
    STARTTLS still presents the self-signed certificate."""
    d = start(postern_bin, tmp_path, "tls_certificate =")
    try:
        text = cert_text(starttls(d))
        assert f"Subject: C = UK, O = Exim Developers, CN = {HOST}\n" in text
        assert "Warning: No server certificate" not in d.mainlog, d.mainlog
    finally:
        d.stop()


def test_tls_on_connect_port_alone_selfsigns_without_warning(postern_bin, tmp_path):
    """tls_advertise_hosts empty, tls_on_connect_ports set: Exim 4.96 logs no warning, offers no
    STARTTLS on the plain port, and its SMTPS port presents the self-signed certificate."""
    plain, tls = free_ports(2)
    d = start(postern_bin, tmp_path, f"tls_advertise_hosts =\ntls_on_connect_ports = {tls}", [plain, tls])
    try:
        s = smtplib.SMTP("127.0.0.1", plain, timeout=20)
        s.ehlo("client.example")
        assert not s.has_extn("starttls")
        s.quit()
        with socket.create_connection(("127.0.0.1", tls), timeout=20) as raw:
            with ctx().wrap_socket(raw) as t:
                assert t.recv(100).startswith(b"220 ")
                text = cert_text(t.getpeercert(binary_form=True))
        assert f"Subject: C = UK, O = Exim Developers, CN = {HOST}\n" in text
        assert "Warning: No server certificate" not in d.mainlog, d.mainlog
    finally:
        d.stop()


def queue_daemon_log(binary, tmp_path, extra):
    """The main log of a queue-runner daemon (-q1h, no listener) once it has started."""
    tmp_path.mkdir()
    conf = tmp_path / "q.conf"
    conf.write_text(f"spool_directory = {tmp_path}/spool\nlog_file_path = {tmp_path}/%slog\n"
                    f"exim_user = root\nexim_group = root\nkeep_environment =\n{extra}\n")
    pid = tmp_path / "pid"
    subprocess.run([binary, "-C", str(conf), "-q1h", "-oP", str(pid)], timeout=30, check=True)
    log = tmp_path / "mainlog"
    try:
        assert wait_for(lambda: log.exists() and "daemon started" in log.read_text(), timeout=10)
    finally:
        if wait_for(lambda: pid.exists() and pid.read_text().strip(), timeout=5):
            os.kill(int(pid.read_text()), signal.SIGTERM)
    return log.read_text()


@pytest.mark.parametrize("binary", ["postern", "exim"])
def test_queue_runner_daemon_warns_but_an_empty_advertise_list_does_not(postern_bin, tmp_path, binary):
    """Exim 4.96's -q1h daemon (no listener) logs the warning before its start line too; Postern
    logs it without making the key, which a daemon that never listens would not present."""
    if binary == "exim":
        if shutil.which("exim") is None or os.geteuid() != 0:
            pytest.skip("needs Debian's exim and root")
        binary = "exim"
    else:
        binary = postern_bin
    log = queue_daemon_log(binary, tmp_path / "default", "")
    assert log.count(WARNING) == 1, log
    assert log.index(WARNING) < log.index("daemon started: "), log
    assert re.search(r"daemon started: pid=\d+, -q1h, not listening for SMTP", log), log
    log = queue_daemon_log(binary, tmp_path / "empty", "tls_advertise_hosts =")
    assert "Warning: No server certificate" not in log, log
    assert "daemon started: " in log
