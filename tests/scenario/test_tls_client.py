"""The smtp transport's TLS (STARTTLS, protocol = smtps; docs/tls.md "TLS client").

A private CA, a second unrelated CA and a server certificate for mx.example are made with
`openssl req` at run time. Servers: Postern's own daemon (STARTTLS and tls_on_connect_ports),
Exim 4.96 (GnuTLS) as a daemon, and a scripted server. The client is `postern -odi` through a
manualroute router to 127.0.0.1; where the server is the same, Exim 4.96 as the client gives
the expected log lines (texts of the TLS library itself differ: GnuTLS there, OpenSSL here).
"""
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from daemon_helpers import Daemon, free_ports, wait_for
from dns_server import DnsServer
from smtpclient_helpers import ScriptedServer
from smtp_transport_helpers import log_body

HOST = "mx.example"
NEEDS_EXIM = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki():
    # Exim's transport runs as Debian-exim: the files must be readable by it.
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-pki-"))
    os.chmod(d, 0o755)
    for ca in ("ca", "other"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN={ca} CA", cwd=d)

    def issue(name, subj, ext):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=d)
        (d / f"{name}.ext").write_text(ext)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    issue("srv", f"/O=Srv Org/CN={HOST}", f"subjectAltName=DNS:{HOST}\n")
    issue("client", "/O=Client Org/CN=client.example", "extendedKeyUsage=clientAuth\n")
    for f in d.iterdir():
        os.chmod(f, 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


# ---- servers ----

def postern_server(postern_bin, tmp_path, pki, extra=""):
    port, tlsport = free_ports(2)
    (tmp_path / "server").mkdir(exist_ok=True)
    d = Daemon(postern_bin, tmp_path / "server", "")
    d.conf.write_text(f"""spool_directory = {d.spool}
exim_user = root
exim_group = root
daemon_startup_retries = 0
primary_hostname = {HOST}
daemon_smtp_ports = {port} : {tlsport}
tls_on_connect_ports = {tlsport}
tls_certificate = {pki}/srv.pem
tls_privatekey = {pki}/srv.key
tls_verify_certificates = {pki}/ca.pem
tls_try_verify_hosts = *
log_selector = +tls_peerdn +tls_sni
queue_only
acl_smtp_rcpt = accept
{extra}
""")
    d.port, d.tlsport = port, tlsport
    d.start()
    d.wait_listening(None)
    return d


class EximServer:
    def __init__(self, pki, extra=""):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="postern-eximsrv-"))
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
queue_only
acl_smtp_rcpt = accept
log_selector = +tls_peerdn +tls_sni
{extra}
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
            pid = int((self.dir / "pid").read_text())
            os.kill(pid, 15)
        except (OSError, ValueError):
            pass
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- clients ----

CLIENT = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
{users}
never_users =
trusted_users = root
keep_environment =
log_selector = {selector}
{main}
begin routers
bounces:
  driver = redirect
  domains = s.test
  data = :blackhole:
r:
  driver = manualroute
  route_list = * {route}
  self = send
  transport = t
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
  command_timeout = 5s
{tpuser}
{extra}
begin retry
* * F,1h,1h
"""


def deliver(who, postern_bin, port, extra="", selector="+tls_peerdn", main="", times=1, route=None,
            rcpt="rcpt@r.test"):
    """times messages delivered one after the other by who ("postern" or "exim") with -odi;
    returns the main log lines without time stamps and ids."""
    d = pathlib.Path(tempfile.mkdtemp(prefix=f"postern-{who}-client-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        if who == "exim":
            users, tpuser, cmd = "exim_user = Debian-exim\nexim_group = Debian-exim", "  user = Debian-exim", "exim"
            for p in ["spool", "spool/db", "log"]:
                shutil.chown(d / p, "Debian-exim")
        else:
            users, tpuser, cmd = "exim_user = root\nexim_group = root", "", postern_bin
        conf = d / "c.conf"
        conf.write_text(CLIENT.format(d=d, users=users, tpuser=tpuser, port=port, extra=extra,
                                      selector=selector, main=main, route=route or f"127.0.0.1::{port}"))
        for _ in range(times):
            subprocess.run([cmd, "-C", str(conf), "-odi", "-f", "sender@s.test", rcpt],
                           input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
        lines = (d / "log" / "mainlog").read_text().splitlines()
        return [log_body(l) for l in lines if "lock file" not in l and " <= " not in l]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def find(lines, pattern):
    return [l for l in lines if re.search(pattern, l)]


X13 = r"X=TLS1\.3:TLS_AES_256_GCM_SHA384:256"


# ---- Postern to Postern ----

OUT_VARS = ("begin acl\nev:\n  warn logwrite = OUT c=$tls_out_cipher b=$tls_out_bits v=$tls_out_ver "
            "cv=$tls_out_certificate_verified dn=$tls_out_peerdn sni=$tls_out_sni "
            "pc=${if def:tls_out_peercert{yes}{no}} r=$tls_out_resumption o=$tls_out_ocsp\n  accept\n")
OURCERT_VARS = "begin acl\nev:\n  warn logwrite = OUT ours=${certextract{subject}{$tls_out_ourcert}}\n  accept\n"
ON_DELIVERY = "  event_action = ${if eq{$event_name}{msg:delivery}{${acl{ev}}}}\n"


def test_starttls_verified_with_peer_dn_and_variables(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki)
    try:
        extra = (f"  tls_verify_certificates = {pki}/ca.pem\n  tls_verify_hosts = *\n"
                 "  tls_verify_cert_hostnames =\n  tls_sni = mx.example\n" + ON_DELIVERY)
        lines = deliver("postern", postern_bin, srv.port, extra, main=OUT_VARS)
        d = find(lines, r"^=> ")
        assert d and re.search(rf"=> rcpt@r\.test R=r T=t H=127\.0\.0\.1 \[127\.0\.0\.1\] {X13} CV=yes "
                               r'DN="/O=Srv Org/CN=mx\.example" K C="250', d[0]), lines
        # o=1: hosts_request_ocsp defaults to *, and this server staples nothing (facts §2).
        assert ("OUT c=TLS1.3:TLS_AES_256_GCM_SHA384:256 b=256 v=TLS1.3 cv=1 dn=/O=Srv Org/CN=mx.example "
                "sni=mx.example pc=yes r=1 o=1") in lines, lines
        assert wait_for(lambda: " <= sender@s.test" in srv.mainlog)
        assert re.search(rf"P=esmtps {X13} CV=no SNI=mx\.example K S=", srv.mainlog), srv.mainlog
    finally:
        srv.stop()


def test_client_certificate_and_smtps(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki)
    try:
        extra = (f"  protocol = smtps\n  tls_certificate = {pki}/client.pem\n  tls_privatekey = {pki}/client.key\n"
                 f"  tls_verify_certificates = {pki}/ca.pem\n" + ON_DELIVERY)
        lines = deliver("postern", postern_bin, srv.tlsport, extra, main=OURCERT_VARS)
        # Our certificate, in the delivery process's msg:delivery event.
        assert "OUT ours=CN=client.example,O=Client Org" in lines, lines
        # The host is 127.0.0.1, not the certificate's name: verified chain, failed name.
        assert find(lines, rf"^=> rcpt@r\.test .* {X13} CV=no DN=\"/O=Srv Org/CN=mx\.example\""), lines
        assert ('[127.0.0.1] SSL verify error: certificate name mismatch: DN="/O=Srv Org/CN=mx.example" '
                'H="127.0.0.1"') in lines, lines
        assert wait_for(lambda: " <= sender@s.test" in srv.mainlog)
        assert re.search(rf"P=esmtps {X13} CV=yes DN=\"/O=Client Org/CN=client\.example\" K S=", srv.mainlog), \
            srv.mainlog
    finally:
        srv.stop()


def test_verification_failure_tries_clear_or_defers(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki)
    try:
        extra = f"  tls_verify_certificates = {pki}/other.pem\n  tls_verify_hosts = *\n"
        lines = deliver("postern", postern_bin, srv.port, extra)
        fail = "TLS session: (SSL_connect): error:0A000086:SSL routines::certificate verify failed"
        assert (f"{fail}: delivering unencrypted to H=127.0.0.1 [127.0.0.1] (not in hosts_require_tls)"
                in lines), lines
        assert find(lines, r"^\[127\.0\.0\.1\] SSL verify error: depth=1 error=self-signed certificate in "
                           r"certificate chain cert=/CN=ca CA$"), lines
        d = find(lines, r"^=> ")
        assert d and " X=" not in d[0] and " CV=" not in d[0], lines
        lines = deliver("postern", postern_bin, srv.port, extra + "  tls_tempfail_tryclear = false\n")
        assert f"== rcpt@r.test R=r T=t defer (-37) H=127.0.0.1 [127.0.0.1]: {fail}" in lines, lines
        # A required session fails the same way, never in clear.
        lines = deliver("postern", postern_bin, srv.port, extra + "  hosts_require_tls = *\n")
        assert f"== rcpt@r.test R=r T=t defer (-37) H=127.0.0.1 [127.0.0.1]: {fail}" in lines, lines
        assert not find(lines, "delivering unencrypted")
    finally:
        srv.stop()


def test_try_verify_records_failure(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki)
    try:
        lines = deliver("postern", postern_bin, srv.port, f"  tls_verify_certificates = {pki}/other.pem\n",
                        selector="+tls_peerdn -tls_certificate_verified")
        assert find(lines, rf"^=> rcpt@r\.test R=r T=t H=127\.0\.0\.1 \[127\.0\.0\.1\] {X13} "
                           r'DN="/O=Srv Org/CN=mx\.example" K C='), lines
        # tls_verify_cert_hostnames = * (the default) against a matching name list: verified.
        lines = deliver("postern", postern_bin, srv.port, f"  tls_verify_certificates = {pki}/ca.pem\n"
                        "  hosts_avoid_tls = 127.0.0.2\n  tls_verify_cert_hostnames = 127.0.0.2\n")
        assert find(lines, rf"^=> rcpt@r\.test .* {X13} CV=yes"), lines
        lines = deliver("postern", postern_bin, srv.port, "  hosts_avoid_tls = *\n")
        assert find(lines, r"^=> rcpt@r\.test R=r T=t H=127\.0\.0\.1 \[127\.0\.0\.1\] K C="), lines
    finally:
        srv.stop()


# ---- the same server, Exim 4.96 as the client beside Postern ----

def both(postern_bin, port, extra, keep):
    """Postern's and Exim's log lines for the delivery, those matching keep."""
    out = []
    for who in ("exim", "postern"):
        out.append([re.sub(r'C="[^"]*"', 'C=...', l) for l in deliver(who, postern_bin, port, extra)
                    if re.search(keep, l)])
    return out


@NEEDS_EXIM
def test_require_tls_without_starttls_as_exim(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki, "tls_advertise_hosts =")
    try:
        exim, postern = both(postern_bin, srv.port, "  hosts_require_tls = *\n", r"^(H=|==|=>)")
        assert exim == postern, (exim, postern)
        assert postern == ["H=127.0.0.1 [127.0.0.1]: a TLS session is required, but the server did not "
                           "offer TLS support",
                           "== rcpt@r.test R=r T=t defer (-38) H=127.0.0.1 [127.0.0.1]: a TLS session is "
                           "required, but the server did not offer TLS support"]
    finally:
        srv.stop()


EHLO_TLS = "250-x\r\n250-PIPELINING\r\n250 STARTTLS\r\n"


def scripted_both(postern_bin, steps, extra, keep=r"^(H=|==|=>|TLS session)"):
    out = []
    for who in ("exim", "postern"):
        srv = ScriptedServer("220 hi\r\n", steps)
        out.append([re.sub(r'C="[^"]*"', 'C=...', l) for l in deliver(who, postern_bin, srv.port, extra)
                    if re.search(keep, l)])
        srv.abandon()
    return out


@NEEDS_EXIM
@pytest.mark.parametrize("code", ["454 not now", "554 never"])
def test_starttls_refused_as_exim(postern_bin, code):
    # Not required: the session goes on in clear without a second EHLO.
    steps = [("EHLO", EHLO_TLS), ("STARTTLS", code + "\r\n"), ("MAIL", "250 ok\r\n"), ("RCPT", "250 ok\r\n"),
             ("DATA", "354 go\r\n"), ("BODY", "250 accepted\r\n")]
    exim, postern = scripted_both(postern_bin, steps, "")
    assert exim == postern and postern and postern[0].startswith("=> rcpt@r.test"), (exim, postern)
    steps = [("EHLO", EHLO_TLS), ("STARTTLS", code + "\r\n"), ("QUIT", "221 bye\r\n")]
    exim, postern = scripted_both(postern_bin, steps, "  hosts_require_tls = *\n")
    assert exim == postern, (exim, postern)
    assert postern[-1] == ("== rcpt@r.test R=r T=t defer (-38) H=127.0.0.1 [127.0.0.1]: a TLS session is "
                           "required, but an attempt to start TLS failed")


@NEEDS_EXIM
def test_broken_handshake_as_exim(postern_bin):
    """The server answers the ClientHello with a closed connection."""
    steps = [("EHLO", EHLO_TLS), ("STARTTLS", "220 go\r\n"), ("X", None)]
    exim, postern = scripted_both(postern_bin, steps, "  hosts_require_tls = *\n")
    shape = [re.sub(r"TLS session: \(\w+\): .*", "TLS session: (...): ...", l) for l in exim]
    assert shape == [re.sub(r"TLS session: \(\w+\): .*", "TLS session: (...): ...", l) for l in postern], \
        (exim, postern)
    assert postern == ["== rcpt@r.test R=r T=t defer (-37) H=127.0.0.1 [127.0.0.1]: TLS session: "
                       "(SSL_connect): error:0A000126:SSL routines::unexpected eof while reading"], postern
    # Not required: tried again in clear (the scripted server is gone, so that is refused).
    exim, postern = scripted_both(postern_bin, steps, "")
    shape = [re.sub(r"TLS session: \(\w+\): .*?: delivering", "TLS session: (...): ...: delivering", l)
             for l in exim]
    assert shape == [re.sub(r"TLS session: \(\w+\): .*?: delivering", "TLS session: (...): ...: delivering", l)
                     for l in postern], (exim, postern)


@NEEDS_EXIM
def test_postern_to_exim_server(postern_bin, pki):
    srv = EximServer(pki)
    try:
        extra = f"  tls_verify_certificates = {pki}/ca.pem\n  tls_verify_hosts = *\n  tls_verify_cert_hostnames =\n"
        lines = deliver("postern", postern_bin, srv.port, extra)
        assert find(lines, r'^=> rcpt@r\.test .* X=TLS1\.3:TLS_\w+:\d+ CV=yes DN="/O=Srv Org/CN=mx\.example" '), lines
        assert wait_for(lambda: " <= sender@s.test" in srv.mainlog)
        assert re.search(r"<= sender@s\.test H=\(client\.test\) \[127\.0\.0\.1\] P=esmtps X=TLS1\.3:", srv.mainlog), \
            srv.mainlog
        assert "TLS error" not in srv.mainlog, srv.mainlog
    finally:
        srv.stop()


RESUME_VARS = ("begin acl\nev:\n  warn logwrite = OUT r=$tls_out_resumption\n  accept\n")


def test_resumption_postern_to_postern(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki, "tls_resumption_hosts = *")
    try:
        lines = deliver("postern", postern_bin, srv.port, "  tls_resumption_hosts = *\n" + ON_DELIVERY,
                        selector="+tls_resumption", main=RESUME_VARS, times=2)
        d = find(lines, r"^=> ")
        assert len(d) == 2 and re.search(rf"{X13} CV=no K C=", d[0]) and re.search(rf"{X13}\* CV=no K C=", d[1]), lines
        # 11: ticket requested and issued; 31: resumed, and a new ticket (facts §11, as Exim).
        assert find(lines, r"^OUT r=") == ["OUT r=11", "OUT r=31"], lines
    finally:
        srv.stop()


@NEEDS_EXIM
def test_resumption_postern_to_exim(postern_bin, pki):
    srv = EximServer(pki, "tls_resumption_hosts = *")
    try:
        lines = deliver("postern", postern_bin, srv.port, "  tls_resumption_hosts = *\n" + ON_DELIVERY,
                        selector="+tls_resumption", main=RESUME_VARS, times=2)
        d = find(lines, r"^=> ")
        assert len(d) == 2 and "* CV" not in d[0] and re.search(r"X=TLS1\.3:\S+\* CV=no", d[1]), lines
        assert find(lines, r"^OUT r=") == ["OUT r=11", "OUT r=31"], lines
    finally:
        srv.stop()


def spki_sha256(pem):
    pub = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-pubkey"], capture_output=True,
                         check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, capture_output=True,
                         check=True).stdout
    return hashlib.sha256(der).hexdigest()


BOTH_EVENTS = "  event_action = ${if match{$event_name}{^(msg:delivery|tcp:close)\\$}{${acl{ev}}}}\n"


def test_dane(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki)
    good = spki_sha256(pki / "srv.pem")
    zone = f"""$ORIGIN dane.test.
$TTL 300
@       IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 60
@       IN NS  ns.dane.test.
ns      IN A   127.0.0.1
mx      IN A   127.0.0.1
_{srv.port}._tcp.mx  IN TLSA 3 1 1 {good}
bad     IN A   127.0.0.1
_{srv.port}._tcp.bad IN TLSA 3 1 1 {'00' * 32}
plain   IN A   127.0.0.1
"""
    other = """$ORIGIN other.test.
$TTL 300
@       IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 60
@       IN NS  ns.dane.test.
@       IN MX  10 mx.dane.test.
"""
    dns = DnsServer(tmp_path, {"dane.test": zone, "other.test": other}).start()
    try:
        main = (f"dns_servers = 127.0.0.1.{dns.port}\ndns_trust_aa = *.dane.test\n"
                "begin acl\nev:\n  warn logwrite = OUT $event_name dane=$tls_out_dane usage=$tls_out_tlsa_usage "
                "sni=$tls_out_sni cv=$tls_out_certificate_verified\n  accept\n"
                "df:\n  warn logwrite = DANEFAIL $event_name $event_data $host\n  accept\n")

        def run(host, extra=""):
            return deliver("postern", postern_bin, srv.port, BOTH_EVENTS + extra, main=main,
                           route=f"{host}.dane.test::{srv.port} bydns")
        lines = run("mx")
        assert find(lines, rf"^=> rcpt@r\.test R=r T=t H=mx\.dane\.test \[127\.0\.0\.1\] {X13} CV=dane "), lines
        # In the transport (tcp:close) and in the delivery process afterwards (the usages come
        # over the result pipe).
        assert "OUT tcp:close dane=yes usage=8 sni=mx.dane.test cv=1" in lines, lines
        assert "OUT msg:delivery dane=yes usage=8 sni=mx.dane.test cv=1" in lines, lines
        # A key that does not match: no delivery, and never in clear.
        lines = run("bad")
        assert find(lines, r"^== rcpt@r\.test R=r T=t defer \(-37\) H=bad\.dane\.test \[127\.0\.0\.1\]: "
                           r"TLS session: \(SSL_connect\): .*certificate verify failed"), lines
        assert not find(lines, "delivering unencrypted")
        # No TLSA records: ordinary TLS, unless DANE is required.
        lines = run("plain")
        assert find(lines, rf"^=> rcpt@r\.test .* {X13} CV=no "), lines
        assert "OUT tcp:close dane=no usage=0 sni= cv=0" in lines, lines
        # Required but no TLSA records: as Exim, the addresses fail without a connection, a
        # host line or a host retry record, after dane:fail with "dane-required".
        before = srv.mainlog.count("SMTP connection from")
        lines = deliver("postern", postern_bin, srv.port, "  hosts_require_dane = *\n" + DANE_FAIL_EVENT, main=main,
                        route=f"plain.dane.test::{srv.port} bydns")
        assert "** rcpt@r.test R=r T=t: DANE error: tlsa lookup FAIL" in lines, lines
        assert "DANEFAIL dane:fail dane-required plain.dane.test" in lines, lines
        assert not find(lines, r"^H=plain"), lines
        assert srv.mainlog.count("SMTP connection from") == before, srv.mainlog
        # Not DNSSEC (the answers are not trusted): DANE is not tried.
        lines = deliver("postern", postern_bin, srv.port, BOTH_EVENTS, main=main.replace("dns_trust_aa = *.dane.test", ""),
                        route=f"mx.dane.test::{srv.port} bydns")
        assert "OUT tcp:close dane=no usage=0 sni= cv=0" in lines, lines
        # ... and with hosts_require_dane the addresses fail: the host is not secured.
        lines = deliver("postern", postern_bin, srv.port, "  hosts_require_dane = *\n" + DANE_FAIL_EVENT,
                        main=main.replace("dns_trust_aa = *.dane.test", ""), route=f"mx.dane.test::{srv.port} bydns")
        assert "** rcpt@r.test R=r T=t: DANE error: mx.dane.test lookup not DNSSEC" in lines, lines
        assert "DANEFAIL dane:fail dane-required mx.dane.test" in lines, lines
        # The MX record that named the host must be validated too (Exim: DNSSEC-secured MX, A
        # and TLSA records): other.test's MX answer is trusted only in the second run.
        for trust, dane in (("*.dane.test", "no"), ("*.dane.test : other.test", "yes")):
            lines = deliver("postern", postern_bin, srv.port, BOTH_EVENTS,
                            main=main.replace("dns_trust_aa = *.dane.test", f"dns_trust_aa = {trust}"),
                            route=f"mx.dane.test::{srv.port} bydns", rcpt="rcpt@other.test")
            assert find(lines, rf"^=> rcpt@other\.test .* CV={'dane' if dane == 'yes' else 'no'} "), (trust, lines)
            assert f"OUT tcp:close dane={dane} " in " ".join(lines) + " ", (trust, lines)
    finally:
        dns.stop()
        srv.stop()


DANE_FAIL_EVENT = "  event_action = ${if eq{$event_name}{dane:fail}{${acl{df}}}}\n"


def test_tls_cert_event(postern_bin, tmp_path, pki):
    srv = postern_server(postern_bin, tmp_path, pki)
    try:
        main = ("begin acl\nev:\n  warn logwrite = EV $event_name $event_data "
                "${certextract{subject}{$tls_out_peercert}}\n  accept\n")
        extra = (f"  tls_verify_certificates = {pki}/ca.pem\n  tls_verify_cert_hostnames =\n"
                 "  event_action = ${if eq{$event_name}{tls:cert}{${acl{ev}}}}\n")
        lines = deliver("postern", postern_bin, srv.port, extra, main=main)
        assert find(lines, r"^EV tls:cert") == ["EV tls:cert 1 CN=ca CA", "EV tls:cert 0 CN=mx.example,O=Srv Org"], lines
        assert find(lines, rf"^=> rcpt@r\.test .* {X13} CV=yes "), lines
        # A refusing action: unverified under try, a failed handshake under verify (then clear).
        refuse = extra.replace("${acl{ev}}", "${if eq{$event_data}{0}{no}{}}")
        lines = deliver("postern", postern_bin, srv.port, refuse)
        assert ("[127.0.0.1] SSL verify denied by event-action: depth=0 cert=/O=Srv Org/CN=mx.example: no"
                in lines), lines
        assert find(lines, rf"^=> rcpt@r\.test .* {X13} CV=no "), lines
        lines = deliver("postern", postern_bin, srv.port, refuse + "  tls_verify_hosts = *\n")
        assert find(lines, r"certificate verify failed: delivering unencrypted to H=127\.0\.0\.1"), lines
    finally:
        srv.stop()


def test_alpn_client(postern_bin, tmp_path, pki):
    """tls_alpn offers names; hosts_require_alpn wants one selected. Against Postern (which
    selects "smtp" from its default list) and a Postern with tls_alpn empty (selects none)."""
    srv = postern_server(postern_bin, tmp_path, pki)
    (tmp_path / "n").mkdir()
    plain = postern_server(postern_bin, tmp_path / "n", pki, "tls_alpn =")
    try:
        lines = deliver("postern", postern_bin, srv.port, "  tls_alpn = smtp\n  hosts_require_alpn = *\n")
        assert find(lines, rf"^=> rcpt@r\.test .* {X13} "), lines
        # A name the server does not accept: it declines the handshake.
        lines = deliver("postern", postern_bin, srv.port, "  tls_alpn = http/1.1\n  tls_tempfail_tryclear = false\n")
        assert find(lines, r"^== rcpt@r\.test R=r T=t defer \(-37\) .*no application protocol"), lines
        assert wait_for(lambda: "TLS ALPN (smtp:esmtp) rejected" in srv.mainlog), srv.mainlog
        # Nothing selected: fine, unless required.
        lines = deliver("postern", postern_bin, plain.port, "  tls_alpn = smtp\n")
        assert find(lines, rf"^=> rcpt@r\.test .* {X13} "), lines
        lines = deliver("postern", postern_bin, plain.port,
                        "  tls_alpn = smtp\n  hosts_require_alpn = *\n  tls_tempfail_tryclear = false\n")
        assert find(lines, r"^== rcpt@r\.test R=r T=t defer \(-37\) .*ALPN required but not negotiated"), lines
    finally:
        srv.stop()
        plain.stop()
