"""STARTTLS and tls_on_connect_ports on the server side (OpenSSL 3; docs/tls.md).

A private CA, an RSA and an ECDSA server certificate and a client certificate are made with
`openssl req` at run time. Peers: Python's smtplib/ssl, and `openssl s_client -starttls smtp`.
Names follow Exim built with OpenSSL: X=TLS1.3:TLS_AES_256_GCM_SHA384:256 and $tls_in_ver TLS1.3.
"""
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from daemon_helpers import Daemon, free_ports, reachable_by_exim_user, wait_for

HOST = "mx.example"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Test CA", cwd=d)

    def issue(name, keyspec, subj, ext):
        openssl("req", "-newkey", keyspec[0], *keyspec[1:], "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", subj, cwd=d)
        (d / f"{name}.ext").write_text(ext)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    issue("rsa", ["rsa:2048"], f"/CN={HOST}", f"subjectAltName=DNS:{HOST}\n")
    issue("ec", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], f"/CN={HOST}", f"subjectAltName=DNS:{HOST}\n")
    issue("client", ["rsa:2048"], "/O=Client Org/CN=client.example", "extendedKeyUsage=clientAuth\n")
    return d


def config(spool, pki, port, tlsport, extra="", acls=""):
    return f"""spool_directory = {spool}
exim_user = root
exim_group = root
daemon_startup_retries = 0
primary_hostname = {HOST}
daemon_smtp_ports = {port} : {tlsport}
tls_on_connect_ports = {tlsport}
tls_certificate = {pki}/rsa.pem : {pki}/ec.pem
tls_privatekey = {pki}/rsa.key : {pki}/ec.key
log_selector = +tls_sni +tls_peerdn +tls_certificate_verified
queue_only
acl_smtp_rcpt = accept
acl_smtp_data = acl_data
{extra}
begin acl
acl_data:
  warn encrypted = *
       logwrite = V=$tls_in_ver C=$tls_in_cipher S=$tls_in_sni P=$received_protocol CV=$tls_in_certificate_verified DN=$tls_in_peerdn
  accept
{acls}
"""


@pytest.fixture
def server(postern_bin, tmp_path, pki):
    started = []

    def make(extra="", acls=""):
        port, tlsport = free_ports(2)
        d = Daemon(postern_bin, tmp_path, "")
        text = config(d.spool, pki, port, tlsport, extra, acls)
        for line in extra.splitlines():   # a setting in extra replaces the default one
            name = line.split("=")[0].strip()
            text = re.sub(rf"(?m)^{name} = .*\n(?=(.|\n)*^{re.escape(line)}$)", "", text, count=1)
        d.conf.write_text(text)
        d.port, d.tlsport = port, tlsport
        d.start()
        started.append(d)
        d.wait_listening(None)
        return d
    yield make
    for d in started:
        d.stop()


def client_ctx(maxver=None, ciphers=None, cert=None, pki=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maxver:
        ctx.maximum_version = maxver
    if ciphers:
        ctx.set_ciphers(ciphers)
    if cert:
        ctx.load_cert_chain(pki / f"{cert}.pem", pki / f"{cert}.key")
    return ctx


def send(d, ctx, implicit=False):
    if implicit:
        s = smtplib.SMTP_SSL("127.0.0.1", d.tlsport, context=ctx, timeout=10)
    else:
        s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
        s.ehlo("client.example")
        assert s.has_extn("starttls")
        s._host = HOST   # SNI
        s.starttls(context=ctx)
    s.ehlo("client.example")
    assert not s.has_extn("starttls")   # not offered twice
    der = s.sock.getpeercert(binary_form=True)
    s.sendmail("a@b.example", ["d@e.example"], "Subject: t\r\n\r\nbody\r\n")
    s.quit()
    return der


def arrival(d):
    assert wait_for(lambda: " <= " in d.mainlog), d.mainlog
    return d.mainlog


@pytest.mark.parametrize("maxver,ver,cipher", [
    (ssl.TLSVersion.TLSv1_3, "TLS1.3", "TLS_AES_256_GCM_SHA384:256"),
    (ssl.TLSVersion.TLSv1_2, "TLS1.2", "ECDHE-RSA-AES256-GCM-SHA384:256"),
])
def test_starttls_variables_log_and_spool(server, maxver, ver, cipher):
    d = server()
    send(d, client_ctx(maxver, cipher.split(":")[0] if ver == "TLS1.2" else None))
    log = arrival(d)
    x = f"{ver}:{cipher}"
    assert f"V={ver} C={x} S={HOST} P=esmtps CV=0 DN=" in log
    m = re.search(r" <= a@b\.example H=\(client\.example\) \[127\.0\.0\.1\] P=esmtps X=(\S+) CV=no SNI=(\S+) S=", log)
    assert m and m.group(1) == x and m.group(2) == HOST, log
    h = next((d.spool / "input").rglob("*-H")).read_text()
    assert f"-tls_cipher {x}\n" in h and f"-tls_ver {ver}\n" in h and f"-tls_sni {HOST}\n" in h
    assert "-tls_ourcert -----BEGIN CERTIFICATE-----\\n" in h


def test_implicit_tls_on_connect_port(server):
    d = server()
    send(d, client_ctx(), implicit=True)
    log = arrival(d)
    assert re.search(r" <= a@b\.example .* P=esmtps .*X=TLS1\.3:TLS_AES_\w+:\d+ CV=no", log), log


def test_ecdsa_and_rsa_side_by_side(server, pki):
    d = server()
    ec = send(d, client_ctx(ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"))
    rsa = send(d, client_ctx(ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256"))
    assert ec == ssl.PEM_cert_to_DER_cert((pki / "ec.pem").read_text())
    assert rsa == ssl.PEM_cert_to_DER_cert((pki / "rsa.pem").read_text())
    assert "X=TLS1.2:ECDHE-ECDSA-AES128-GCM-SHA256:128" in d.mainlog


def read_reply(sock):
    data = b""
    while not re.search(rb"(^|\n)\d{3} [^\n]*\n$", data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


def test_pipelined_after_starttls_is_a_sync_error(server):
    """With smtp_enforce_sync (the default) input behind STARTTLS breaks synchronisation (for a
    host that may not use PIPECONNECT: Exim 4.96 does not check those before their first message,
    and answers "220 TLS go ahead" there, dropping what was pipelined)."""
    d = server("pipelining_connect_advertise_hosts = :")
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    assert read_reply(raw).startswith("220 ")
    raw.sendall(b"EHLO c\r\n")
    assert "STARTTLS" in read_reply(raw)
    raw.sendall(b"STARTTLS\r\nMAIL FROM:<evil@inject.example>\r\n")
    assert read_reply(raw).startswith("554 ")
    raw.close()


def test_plaintext_pipelined_after_starttls_is_discarded(server):
    """CVE-2011-0411: a MAIL command injected in clear behind STARTTLS must not count."""
    d = server("smtp_enforce_sync = false")
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    assert read_reply(raw).startswith("220 ")
    raw.sendall(b"EHLO c\r\n")
    assert "STARTTLS" in read_reply(raw)
    raw.sendall(b"STARTTLS\r\nMAIL FROM:<evil@inject.example>\r\n")
    assert read_reply(raw).startswith("220 ")
    tls = client_ctx().wrap_socket(raw, server_hostname=HOST)
    tls.sendall(b"EHLO c\r\n")
    assert "250 " in read_reply(tls)
    tls.sendall(b"RCPT TO:<d@e.example>\r\n")
    assert read_reply(tls).startswith("503 ")   # no sender: the injected MAIL was dropped
    tls.sendall(b"QUIT\r\n")
    read_reply(tls)
    tls.close()
    # (the discarding happens before the handshake, long before the 221 read above)
    # Dropped without a word, as Exim 4.96 drops it (test_starttls_pipelined_exim.py).
    assert "plaintext input" not in d.mainlog and "evil@inject" not in d.mainlog


def test_new_ehlo_required_after_starttls(server):
    d = server()
    s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
    s.ehlo("c")
    s.starttls(context=client_ctx())
    code, _ = s.docmd("MAIL FROM:<a@b.example>")
    assert code == 503
    s.quit()


def test_no_certificate_still_offers_starttls(postern_bin, tmp_path):
    """As Exim: without tls_certificate STARTTLS is offered and a self-signed certificate is
    presented (its fields: test_tls_selfsigned.py); only an empty tls_advertise_hosts hides it."""
    (port,) = free_ports(1)
    reachable_by_exim_user(tmp_path)  # the sessions run as the default exim user and must log
    d = Daemon(postern_bin, tmp_path, f"daemon_smtp_ports = {port}", tls_default=True)
    d.conf.write_text(d.conf.read_text().replace("exim_user = mail\nexim_group = mail\n", ""))
    d.start()
    try:
        d.wait_listening(None, timeout=30)   # the RSA-3072 key takes a while
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.ehlo("c")
        assert s.has_extn("starttls")
        s.starttls(context=client_ctx())
        s.ehlo("c")
        assert not s.has_extn("starttls")
        s.quit()
    finally:
        d.stop()


def test_client_certificate_verified(server, pki):
    d = server(f"tls_verify_hosts = 127.0.0.1\ntls_verify_certificates = {pki}/ca.pem")
    send(d, client_ctx(cert="client", pki=pki))
    log = arrival(d)
    assert "CV=1 DN=/O=Client Org/CN=client.example" in log
    assert 'CV=yes DN="/O=Client Org/CN=client.example"' in log or "CV=yes DN=/O=Client" in log


def test_client_certificate_required_but_missing(server, pki):
    d = server(f"tls_verify_hosts = 127.0.0.1\ntls_verify_certificates = {pki}/ca.pem")
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
        send(d, client_ctx(ssl.TLSVersion.TLSv1_2))
    assert wait_for(lambda: "TLS error on connection from" in d.mainlog), d.mainlog


def test_bad_certificate_file_fails_handshake_and_logs(server, pki):
    d = server(f"tls_certificate = {pki}/missing.pem")
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
        send(d, client_ctx())
    assert wait_for(lambda: "TLS error on connection from" in d.mainlog and "missing.pem" in d.mainlog), d.mainlog


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
@pytest.mark.parametrize("flag", ["-tls1_2", "-tls1_3"])
def test_openssl_s_client_starttls(server, pki, flag):
    d = server()
    p = subprocess.Popen(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{d.port}",
                          "-servername", HOST, "-CAfile", str(pki / "ca.pem"), "-verify_return_error",
                          flag, "-ign_eof"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    cmds = [b"EHLO s.example\r\n", b"MAIL FROM:<s@c.example>\r\n", b"RCPT TO:<d@e.example>\r\n",
            b"DATA\r\n", b"Subject: s\r\n\r\nhello\r\n.\r\n", b"QUIT\r\n"]
    for c in cmds:   # one at a time: the server enforces synchronisation
        p.stdin.write(c)
        p.stdin.flush()
        time.sleep(0.3)
    out, _ = p.communicate(timeout=20)
    out = out.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, out
    assert re.search(r"250 OK id=\S+", out), out
    ver = "TLS1.2" if flag == "-tls1_2" else "TLS1.3"
    assert re.search(rf" <= s@c\.example .* P=esmtps .*X={re.escape(ver)}:", arrival(d)), d.mainlog


def test_openssl_options_applied(server):
    d = server("openssl_options = +no_tlsv1_3")
    send(d, client_ctx())
    assert re.search(r" <= a@b\.example .* X=TLS1\.2:", arrival(d)), d.mainlog


def test_openssl_options_unknown_name_fails_handshake(server):
    d = server("openssl_options = +no_such_flag")
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
        send(d, client_ctx())
    assert wait_for(lambda: 'unknown option "+no_such_flag"' in d.mainlog), d.mainlog


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks not installed")
def test_swaks_tls(server):
    d = server()
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{d.port}", "--tls", "--from", "w@s.example",
                        "--to", "d@e.example", "--helo", "swaks.example", "--timeout", "10"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r" <= w@s\.example H=\(swaks\.example\) \[127\.0\.0\.1\] P=esmtps X=TLS1\.\d:\S+:\d+ CV=no",
                     arrival(d)), d.mainlog


def test_handshake_timeout_is_bounded(server):
    d = server("smtp_receive_timeout = 2s")
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    assert read_reply(raw).startswith("220 ")
    raw.sendall(b"EHLO c\r\n")
    read_reply(raw)
    raw.sendall(b"STARTTLS\r\n")
    assert read_reply(raw).startswith("220 ")
    t0 = time.time()
    assert raw.recv(100) == b""          # the server gives up and closes
    assert time.time() - t0 < 8
    assert wait_for(lambda: "(SSL_accept): timed out" in d.mainlog), d.mainlog


def test_acl_smtp_starttls_can_refuse(server):
    d = server("acl_smtp_starttls = acl_tls", "acl_tls:\n  deny message = no TLS for you\n")
    s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
    s.ehlo("c")
    code, msg = s.docmd("STARTTLS")
    assert (code, msg) == (550, b"no TLS for you")   # as Exim 4.96 -bh replies
    s.quit()


@pytest.mark.parametrize("offer,ok", [
    (None, True), (["smtp"], True), (["esmtp"], True), (["http/1.1"], False), (["smtp", "esmtp"], False),
])
def test_alpn_default_list(server, offer, ok):
    """tls_alpn (default "smtp : esmtp"): a client offering ALPN must offer one allowed name."""
    d = server()
    ctx = client_ctx()
    if offer:
        ctx.set_alpn_protocols(offer)
    if ok:
        s = smtplib.SMTP("127.0.0.1", d.port, timeout=10)
        s.ehlo("client.example")
        s.starttls(context=ctx)
        assert s.sock.selected_alpn_protocol() == (offer[0] if offer else None)
        s.quit()
    else:
        with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
            send(d, ctx)
        assert wait_for(lambda: "TLS error on connection from" in d.mainlog), d.mainlog
        assert "no application protocol" in d.mainlog, d.mainlog
        assert "TLS ALPN (smtp:esmtp) rejected" in d.mainlog, d.mainlog   # as Exim 4.96 logs it


def test_alpn_empty_list_accepts_anything(server):
    d = server("tls_alpn =")
    ctx = client_ctx()
    ctx.set_alpn_protocols(["http/1.1"])
    send(d, ctx)
    assert " <= " in arrival(d)
