"""${certextract}, the certificate operators, the tls:cert and tls:fail:connect events and the
handshake-failure log line, on the server side (docs/tls.md).

A private CA and a client certificate with every extractable field (SANs of each kind, OCSP and
CRL URIs, a multi-valued subject with an escaped comma) are made at run time; the expected values
come from `openssl x509` on the same files, in the formats of Exim 4.96 built with OpenSSL
(facts and goldens: Exim's test suite 2102/5720 and a live Exim 4.96 session recorded in
test_be_cert_vars_without_a_certificate).
"""
import datetime
import shutil
import re
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from daemon_helpers import Daemon, free_ports, wait_for

HOST = "mx.example"


def openssl(*args, cwd, text=True):
    return subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=text).stdout


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/C=GB/O=Test Org/CN=Test CA", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
            "-subj", f"/CN={HOST}", cwd=d)
    (d / "srv.ext").write_text(f"subjectAltName=DNS:{HOST}\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x1001",
            "-days", "2", "-extfile", "srv.ext", "-out", "srv.pem", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "cl.key", "-out", "cl.csr", "-subj",
            "/DC=org/DC=example/O=Client, Org/OU=Unit A/OU=Unit B/CN=client.example", cwd=d)
    (d / "cl.ext").write_text(
        "subjectAltName=DNS:client.example,DNS:alt.example,email:me@client.example,"
        "URI:https://client.example/x,IP:192.0.2.7\n"
        "authorityInfoAccess=OCSP;URI:http://ocsp.example/,caIssuers;URI:http://ca.example/ca.crt,"
        "OCSP;URI:http://ocsp2.example/a;b\n"
        "crlDistributionPoints=URI:http://crl.example/ca.crl,URI:http://crl2.example/b.crl\n"
        "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", "cl.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial",
            "0x0ABCDEF0123456789A", "-days", "2", "-extfile", "cl.ext", "-out", "cl.pem", cwd=d)
    return d


ACL_FIELDS = r"""
  warn logwrite = F version=<${certextract{version}{$tls_in_peercert}}> serial=<${certextract{serial_number}{$tls_in_peercert}}>
  warn logwrite = F subject=<${certextract{subject}{$tls_in_peercert}}> issuer=<${certextract{issuer}{$tls_in_peercert}}>
  warn logwrite = F CN=<${certextract{subject,CN}{$tls_in_peercert}}> OU=<${certextract{subject,OU,>;}{$tls_in_peercert}}> O=<${certextract{subject,O}{$tls_in_peercert}}> L=<${certextract{subject,L}{$tls_in_peercert}{y}{n}}> IO=<${certextract{issuer,O}{$tls_in_peercert}}>
  warn logwrite = F nbi=<${certextract{notbefore,int}{$tls_in_peercert}}> nai=<${certextract{notafter,int}{$tls_in_peercert}}> nb=<${certextract{notbefore}{$tls_in_peercert}}> nar=<${certextract{notafter,raw}{$tls_in_peercert}}>
  warn logwrite = F sigalg=<${certextract{sig_algorithm}{$tls_in_peercert}}>
  warn logwrite = F sig=<${certextract{signature}{$tls_in_peercert}}>
  warn logwrite = F san=<${certextract{subj_altname}{$tls_in_peercert}}> dns=<${certextract{subj_altname,dns,>;}{$tls_in_peercert}}> mail=<${certextract{subj_altname,mail}{$tls_in_peercert}}>
  warn logwrite = F ocsp=<${certextract{ocsp_uri,>,}{$tls_in_peercert}}> crl=<${certextract{crl_uri}{$tls_in_peercert}}> srvocsp=<${certextract{ocsp_uri}{$tls_in_ourcert}{y}{n}}>
  warn logwrite = F md5=<${md5:$tls_in_peercert}> sha1=<${sha1:$tls_in_peercert}> sha256=<${sha256:$tls_in_peercert}> ours=<${sha256:$tls_in_ourcert}>
  warn logwrite = F b64=<${base64:$tls_in_peercert}>
  warn logwrite = F raw=<$tls_in_peercert> braced=<${sha256:${tls_in_peercert}}> def=<${if def:tls_in_peercert{y}{n}}>
"""


def config(spool, pki, port, extra="", acl_mail=""):
    text = f"""spool_directory = {spool}
exim_user = root
exim_group = root
daemon_startup_retries = 0
primary_hostname = {HOST}
daemon_smtp_ports = {port}
timezone = UTC
tls_certificate = {pki}/srv.pem
tls_privatekey = {pki}/srv.key
tls_verify_certificates = {pki}/ca.pem
queue_only
acl_smtp_mail = acl_mail
acl_smtp_rcpt = accept
{extra}
begin acl
acl_mail:
{acl_mail}
  accept
ev:
  warn logwrite = EV $event_name D=<$event_data> S=<${{certextract{{subject}}{{$tls_in_peercert}}}}> IP=$sender_host_address
  accept
"""
    for line in extra.splitlines():   # a setting in extra replaces the default one
        name = line.split("=")[0].strip()
        text = re.sub(rf"(?m)^{name} = .*\n(?=(.|\n)*^{re.escape(line)}$)", "", text, count=1)
    return text


@pytest.fixture
def server(postern_bin, tmp_path, pki):
    started = []

    def make(extra="", acl_mail=""):
        (port,) = free_ports(1)
        sub = tmp_path / f"d{len(started)}"
        sub.mkdir()
        d = Daemon(postern_bin, sub, "")
        d.conf.write_text(config(d.spool, pki, port, extra, acl_mail))
        d.port = port
        d.start()
        started.append(d)
        d.wait_listening(None)
        return d
    yield make
    for d in started:
        d.stop()


def session(d, pki, cert=True, mail=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(pki / "cl.pem", pki / "cl.key")
    s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
    s.ehlo("client.example")
    s.starttls(context=ctx)
    s.ehlo("client.example")
    if mail:
        s.docmd("MAIL FROM:<a@b.example>")
    s.quit()


def logged(d, key):
    """The value of key=<...> on the F lines."""
    m = re.search(rf" {key}=<(.*?)>(?: \w+=<|$)", d.mainlog, re.M)
    assert m, (key, d.mainlog)
    return m.group(1)


def fingerprint(pki, md):
    out = openssl("x509", "-in", "cl.pem", "-noout", "-fingerprint", f"-{md}", cwd=pki)
    return out.strip().split("=", 1)[1].replace(":", "")


def not_time(pki, which):
    out = openssl("x509", "-in", "cl.pem", "-noout", f"-{which}", cwd=pki).strip().split("=", 1)[1]
    return datetime.datetime.strptime(out, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=datetime.timezone.utc), out


def test_certextract_fields_and_fingerprints(server, pki):
    d = server("tls_verify_hosts = *", ACL_FIELDS)
    session(d, pki)
    assert wait_for(lambda: " b64=<" in d.mainlog), d.mainlog
    assert logged(d, "version") == "2"          # OpenSSL's number: v3 is stored as 2
    assert logged(d, "serial") == "0abcdef0123456789a"
    assert logged(d, "subject") == "CN=client.example,OU=Unit B,OU=Unit A,O=Client\\, Org,DC=example,DC=org"
    assert logged(d, "issuer") == "CN=Test CA,O=Test Org,C=GB"
    assert logged(d, "CN") == "client.example"
    assert logged(d, "OU") == "Unit B;Unit A"
    assert logged(d, "O") == "Client, Org"
    assert logged(d, "L") == "n"
    assert logged(d, "IO") == "Test Org"
    nb, _ = not_time(pki, "startdate")
    na, na_raw = not_time(pki, "enddate")
    assert logged(d, "nbi") == str(int(nb.timestamp()))
    assert logged(d, "nai") == str(int(na.timestamp()))
    assert logged(d, "nb") == nb.strftime("%b %e %H:%M:%S %Y +0000")
    assert logged(d, "nar") == na_raw
    assert logged(d, "sigalg") == "sha256WithRSAEncryption"
    sig = logged(d, "sig")
    dump = openssl("x509", "-in", "cl.pem", "-noout", "-text", cwd=pki)
    hexbytes = re.search(r"Signature Value:\n((?:\s+[0-9a-f:]+\n)+)", dump).group(1).replace(" ", "").replace("\n", "")
    assert sig.replace("\\n", "").replace(" ", "") == hexbytes
    assert sig.startswith(" " * 9) and sig.endswith("\\n") and len(sig.split("\\n")[0].strip()) == 18 * 3
    # last entry first; the IP address is not shown; a ';' inside a URI is doubled by ">;"
    assert logged(d, "san") == "URI=https://client.example/x\\nMAIL=me@client.example\\nDNS=alt.example\\nDNS=client.example"
    assert logged(d, "dns") == "alt.example;client.example"
    assert logged(d, "mail") == "me@client.example"
    assert logged(d, "ocsp") == "http://ocsp.example/,http://ocsp2.example/a;b"
    assert logged(d, "crl") == "http://crl.example/ca.crl\\nhttp://crl2.example/b.crl"
    assert logged(d, "srvocsp") == "n"
    for md in ("md5", "sha1", "sha256"):
        assert logged(d, md) == fingerprint(pki, md)
    srv = openssl("x509", "-in", "srv.pem", "-noout", "-fingerprint", "-sha256", cwd=pki)
    assert logged(d, "ours") == srv.strip().split("=", 1)[1].replace(":", "")
    der = openssl("x509", "-in", "cl.pem", "-outform", "DER", cwd=pki, text=False)
    import base64
    assert logged(d, "b64") == base64.b64encode(der).decode()
    assert logged(d, "raw") == "<cert>"
    # braced, the variable is just text: the hash of "<cert>" (as Exim 4.96)
    import hashlib
    assert logged(d, "braced") == hashlib.sha256(b"<cert>").hexdigest().upper()
    assert logged(d, "def") == "y"


def test_be_cert_vars_without_a_certificate(run_postern):
    """Recorded from Exim 4.96 -be: without a certificate the operators hash the variable's name."""
    r = run_postern("-be", "${md5:$tls_in_peercert}|${certextract{subject}{$tls_in_peercert}{y}{n}}|"
                    "${certextract{bogus}{$tls_in_peercert}{y}{n}}|${base64:$tls_in_peercert}|"
                    "${sha1:$tls_in_ourcert}|${md5:${tls_in_peercert}}|${md5:$tls_in_peercert }|[$tls_in_peercert]")
    assert r.stdout.strip() == ("788d96d479353504267a61f7a5c259d7|n|n|dGxzX2luX3BlZXJjZXJ0|"
                                "C65152CF675F3C0FDDE31A2CE7B811928E6978E7|d41d8cd98f00b204e9800998ecf8427e|"
                                "7215ee9c7d9dc229d2921a40e899ec5f|[]"), r.stdout + r.stderr
    r = run_postern("-be", "${certextract{subject}{$sender_host_address}{y}{n}}")
    assert 'Failed: "sender_host_address" is not a certificate' in r.stdout + r.stderr


def test_bad_field_selector_is_an_error(server, pki):
    d = server("tls_verify_hosts = *", "  warn logwrite = X ${certextract{bogus}{$tls_in_peercert}{y}{n}}")
    session(d, pki)
    assert wait_for(lambda: 'bad field selector "bogus" for certextract' in d.mainlog), d.mainlog


def test_tls_cert_event_per_chain_element(server, pki):
    d = server("tls_verify_hosts = *\nevent_action = ${acl{ev}}")
    session(d, pki)
    assert wait_for(lambda: " <= " in d.mainlog or "temporarily" in d.mainlog or "D=<0>" in d.mainlog), d.mainlog
    lines = [l.split(" ", 2)[2] for l in d.mainlog.splitlines() if " EV " in l]
    assert lines[:2] == [
        "EV tls:cert D=<1> S=<CN=Test CA,O=Test Org,C=GB> IP=127.0.0.1",
        "EV tls:cert D=<0> S=<CN=client.example,OU=Unit B,OU=Unit A,O=Client\\, Org,DC=example,DC=org> IP=127.0.0.1",
    ], d.mainlog


def test_tls_cert_event_refusal_fails_required_verification(server, pki):
    d = server("tls_verify_hosts = *\nevent_action = ${acl{ev}}${if eq{$event_name:$event_data}{tls:cert:0}{refused}}")
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
        session(d, pki)
    assert wait_for(lambda: "TLS error on connection" in d.mainlog), d.mainlog
    assert re.search(r"\[127\.0\.0\.1\] SSL verify denied by event-action: depth=0 "
                     r"cert=/DC=org/DC=example/O=Client, Org/OU=Unit A/OU=Unit B/CN=client.example: ", d.mainlog), d.mainlog
    assert re.search(r"TLS error on connection from \(client\.example\) \[127\.0\.0\.1\] \(SSL_accept\): error:", d.mainlog)


def test_tls_cert_event_refusal_under_try_verify_gives_cv_no(server, pki):
    d = server("tls_try_verify_hosts = *\nevent_action = ${acl{ev}}${if eq{$event_name:$event_data}{tls:cert:0}{refused}}\nlog_selector = +tls_certificate_verified",
               "  warn logwrite = CV=$tls_in_certificate_verified")
    session(d, pki)
    assert wait_for(lambda: "CV=0" in d.mainlog or "CV=1" in d.mainlog), d.mainlog
    assert "CV=0" in d.mainlog and "SSL verify denied by event-action: depth=0" in d.mainlog


def test_verify_error_logged(server, pki, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "o.key", "-out", "o.pem",
            "-days", "2", "-subj", "/CN=Other CA", cwd=other)
    d = server(f"tls_verify_hosts = *\ntls_verify_certificates = {other}/o.pem")
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
        session(d, pki)
    assert wait_for(lambda: "SSL verify error" in d.mainlog), d.mainlog
    assert re.search(r"\[127\.0\.0\.1\] SSL verify error: depth=0 error=unable to get local issuer certificate "
                     r"cert=/DC=org/DC=example/O=Client, Org/OU=Unit A/OU=Unit B/CN=client.example", d.mainlog), d.mainlog


def raw_starttls(port, after):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.recv(1000)
    s.sendall(b"EHLO x\r\n")
    time.sleep(0.3)
    s.recv(4000)
    s.sendall(b"STARTTLS\r\n")
    assert s.recv(1000).startswith(b"220")
    after(s)
    s.close()


def test_tls_fail_connect_event_and_log_wording(server, pki):
    d = server("event_action = ${acl{ev}}\nlog_selector = +incoming_interface")
    raw_starttls(d.port, lambda s: (s.sendall(b"NOT A CLIENT HELLO\r\n\r\n"), time.sleep(0.5)))
    raw_starttls(d.port, lambda s: None)
    assert wait_for(lambda: d.mainlog.count("TLS error on connection") == 2), d.mainlog
    p = d.port
    wrong = (f"TLS error on connection from (x) [127.0.0.1] I=[127.0.0.1]:{p} "
             "(SSL_accept (TLSv1.3)): error:0A00010B:SSL routines::wrong version number")
    assert wrong in d.mainlog
    assert ("EV tls:fail:connect D=<(SSL_accept (TLSv1.3)): error:0A00010B:SSL routines::wrong version number>"
            in d.mainlog)
    # the event comes before the log line, as in Exim
    assert d.mainlog.index("EV tls:fail:connect") < d.mainlog.index("TLS error on connection")
    assert re.search(r"TLS error on connection from \(x\) \[127\.0\.0\.1\] I=\[127\.0\.0\.1\]:\d+ "
                     r"\((SSL_accept\): error:0A000126:SSL routines::unexpected eof while reading|"
                     r"SSL_accept: TCP connection closed by peer)", d.mainlog), d.mainlog


def test_certificate_load_failure_is_454_and_the_session_goes_on(server, pki):
    """As Exim 4.96: a certificate that cannot be loaded is found before the go-ahead."""
    d = server(f"tls_certificate = {pki}/missing.pem")
    s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
    s.ehlo("client.example")
    assert s.docmd("STARTTLS") == (454, b"TLS currently unavailable")
    assert s.docmd("MAIL FROM:<a@b.example>")[0] == 250     # still in clear, still served
    s.quit()
    assert wait_for(lambda: "SSL_CTX_use_certificate_chain_file" in d.mainlog), d.mainlog
    assert re.search(rf"TLS error on connection from \(client\.example\) \[127\.0\.0\.1\] "
                     rf"\(SSL_CTX_use_certificate_chain_file file={re.escape(str(pki))}/missing\.pem\): error:",
                     d.mainlog), d.mainlog


def test_sni_dependent_certificate_loads_in_the_handshake(server, pki):
    d = server(f"tls_certificate = ${{if eq{{$tls_in_sni}}{{{HOST}}}{{{pki}/srv.pem}}{{{pki}/missing.pem}}}}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
    s.ehlo("client.example")
    s._host = HOST
    s.starttls(context=ctx)          # the right name: the certificate loads
    s.ehlo("client.example")
    s.quit()
    s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
    s.ehlo("client.example")
    s._host = "other.example"
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
        s.starttls(context=ctx)      # another name: 220, then the handshake fails
    assert wait_for(lambda: "missing.pem" in d.mainlog), d.mainlog


def test_bV_reports_unknown_openssl_option_with_file_and_line(postern_bin, tmp_path):
    conf = tmp_path / "o.conf"
    conf.write_text(f"# comment\n\nspool_directory = {tmp_path}/spool\nopenssl_options = +no_sslv3 +no_such_flag\n")
    r = subprocess.run([postern_bin, "-C", str(conf), "-bV"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.strip() == (f"Exim configuration error in line 4 of {conf}:\n"
                                "  openssl_options parse error: +no_sslv3 +no_such_flag")
    conf.write_text(f"spool_directory = {tmp_path}/spool\nopenssl_options = +no_sslv3 -no_tlsv1_3 +cipher_server_preference\n")
    r = subprocess.run([postern_bin, "-C", str(conf), "-bV"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and f"Configuration file is {conf}" in r.stdout, r.stderr


class TlsEcho:
    """A TLS server answering one request per connection with "got <request> sni=<name>"."""

    def __init__(self, pki, close_notify=True):
        import threading
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki / "srv.pem", pki / "srv.key")
        self.sni = []
        self.ctx.sni_callback = lambda sock, name, ctx: self.sni.append(name) and None
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.close_notify = close_notify
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            try:
                s = self.ctx.wrap_socket(raw, server_side=True)
                s.settimeout(5)
                req = s.recv(1000)
                s.sendall(b"got " + req + b" sni=" + str(self.sni[-1] if self.sni else None).encode())
                if self.close_notify:
                    s.unwrap()
                s.close()
            except (OSError, ssl.SSLError):
                raw.close()


def test_readsocket_tls(run_postern, pki):
    srv = TlsEcho(pki)
    r = run_postern("-be", f"${{readsocket{{inet:127.0.0.1:{srv.port}}}{{hello}}{{5s:tls=yes}}}}")
    assert r.stdout.strip() == "got hello sni=None", r.stdout + r.stderr
    r = run_postern("-be", f"${{readsocket{{inet:localhost:{srv.port}}}{{hi}}{{5s:tls=yes:shutdown=yes}}{{}}{{FAILED}}}}")
    assert r.stdout.strip() == "got hi sni=localhost", r.stdout + r.stderr
    # without tls=yes the server sees a plain request it cannot read: the fail string
    r = run_postern("-be", f"${{readsocket{{inet:127.0.0.1:{srv.port}}}{{plain}}{{2s}}{{}}{{FAILED}}}}")
    assert "got" not in r.stdout


def test_readsocket_tls_to_a_plain_server_fails(run_postern):
    import threading
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    def serve():
        c, _ = sock.accept()
        c.recv(1000)
        c.sendall(b"220 plain text, not TLS\r\n")
        c.close()
    threading.Thread(target=serve, daemon=True).start()
    r = run_postern("-be", f"${{readsocket{{inet:127.0.0.1:{port}}}{{x}}{{3s:tls=yes}}}}")
    assert "TLS session failed: (SSL_connect): " in r.stdout + r.stderr, r.stdout + r.stderr


# Fields whose text is the same in every Exim 4.96 build (Debian's is GnuTLS; Postern follows the
# OpenSSL build where they differ, e.g. the order of RDNs and SANs: see docs/tls.md).
SAME_IN_EXIM = ["CN", "O", "L", "IO", "nbi", "nai", "mail", "crl", "md5", "sha1", "sha256", "ours",
                "b64", "raw", "braced", "def"]


@pytest.mark.skipif(not shutil.which("exim"), reason="Exim 4.96 not installed")
def test_fields_agree_with_exim(server, pki, tmp_path):
    # Exim's GnuTLS build fails ocsp_uri with a GnuTLS error: leave it out on both sides
    acl = ACL_FIELDS.replace(" ocsp=<${certextract{ocsp_uri,>,}{$tls_in_peercert}}>", "").replace(
        " srvocsp=<${certextract{ocsp_uri}{$tls_in_ourcert}{y}{n}}>", "")
    d = server("tls_verify_hosts = *", acl)
    session(d, pki)
    assert wait_for(lambda: " b64=<" in d.mainlog), d.mainlog
    (port,) = free_ports(1)
    ex = tmp_path / "exim"
    ex.mkdir()
    conf = ex / "conf"
    conf.write_text(config(ex / "spool", pki, port, "tls_verify_hosts = *\ntls_advertise_hosts = *\n"
                           f"log_file_path = {ex}/%slog", acl).replace(f"daemon_smtp_ports = {port}\n", ""))
    proc = subprocess.Popen(["exim", "-C", str(conf), "-bdf", "-oX", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        e = type("E", (), {})()
        e.port = port
        session(e, pki)
        log = ex / "mainlog"
        assert wait_for(lambda: log.exists() and " b64=<" in log.read_text()), log.read_text() if log.exists() else ""
        e.mainlog = log.read_text()
        for key in SAME_IN_EXIM:
            assert logged(d, key) == logged(e, key), key
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_failing_certificate_in_tls_fail_connect(server, pki, tmp_path):
    """As Exim: when verification ends the handshake, $tls_in_peercert is the certificate that
    failed while tls:fail:connect runs (the handshake recorded no session)."""
    other = tmp_path / "other2"
    other.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "o.key", "-out", "o.pem",
            "-days", "2", "-subj", "/CN=Other CA", cwd=other)
    d = server(f"tls_verify_hosts = *\ntls_verify_certificates = {other}/o.pem\nevent_action = ${{acl{{ev}}}}")
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
        session(d, pki)
    assert wait_for(lambda: "EV tls:fail:connect" in d.mainlog), d.mainlog
    assert re.search(r"EV tls:fail:connect D=<[^>]*verify failed> S=<CN=client\.example,OU=Unit B", d.mainlog), d.mainlog
