"""dovecot authenticator with server_tls (Postern's extension; docs/authentication.md): the
auth-client exchange with a real Dovecot inside TLS, the server's certificate verified against
server_tls_verify_certificates and the name in server_tls_sni or the socket's host.

Dovecot 2.3's auth service takes no TLS itself (`ssl = yes` on its inet_listener is ignored: the
listener answers in clear, checked below), so the TLS end is haproxy in front of it, as a
deployment would terminate it (or stunnel)."""
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from test_auth_dovecot import DOVECOT, dovecot, free_port, probe  # noqa: F401 (fixtures)

HAPROXY = shutil.which("haproxy")
pytestmark = [pytest.mark.skipif(not shutil.which(DOVECOT) and not DOVECOT, reason="no dovecot"),
              pytest.mark.skipif(not HAPROXY, reason="haproxy not installed")]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("dpki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Auth CA", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem",
            "-days", "2", "-subj", "/CN=Other CA", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "auth.key", "-out", "auth.csr",
            "-subj", "/CN=auth.example", cwd=d)
    (d / "auth.ext").write_text("subjectAltName=DNS:auth.example,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "auth.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "auth.ext", "-out", "auth.pem", cwd=d)
    (d / "combined.pem").write_text((d / "auth.pem").read_text() + (d / "auth.key").read_text())
    return d


@pytest.fixture(scope="module")
def tls_front(dovecot, pki, tmp_path_factory):  # noqa: F811
    d = tmp_path_factory.mktemp("haproxy")
    port = free_port()
    dport = dovecot["inet"].split()[1]
    (d / "h.cfg").write_text(f"""global
  maxconn 50
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend ft
  bind 127.0.0.1:{port} ssl crt {pki}/combined.pem
  default_backend bk
backend bk
  server dv 127.0.0.1:{dport}
""")
    proc = subprocess.Popen([HAPROXY, "-f", str(d / "h.cfg"), "-db"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("haproxy did not start: " + proc.stderr.read().decode())
    yield f"127.0.0.1 {port}"
    proc.terminate()
    proc.wait(timeout=10)


def config(tmp_path, socket_spec, tls_options):
    conf = tmp_path / "auth.conf"
    opts = "\n".join(f"  {o}" for o in tls_options)
    conf.write_text(f"""
begin authenticators
dp:
  driver = dovecot
  public_name = PLAIN
  server_socket = {socket_spec}
  server_set_id = $auth1
{opts}
dl:
  driver = dovecot
  public_name = LOGIN
  server_socket = {socket_spec}
  server_set_id = $auth1
{opts}
""")
    return str(conf)


def run(probe, conf, mech, initial, answers=()):  # noqa: F811
    r = subprocess.run([probe, conf, mech, initial, "192.0.2.1", "127.0.0.1"],
                       input="".join(a + "\n" for a in answers), capture_output=True, text=True, timeout=30)
    return r.stdout.splitlines(), r.stderr


def test_plain_listener_speaks_clear(dovecot):  # noqa: F811
    host, port = dovecot["inet"].split()
    with socket.create_connection((host, int(port)), timeout=5) as s:
        assert s.recv(100).startswith(b"VERSION\t1\t")


def test_auth_listener_with_ssl_yes_still_speaks_clear(pki, tmp_path):
    """Why haproxy (docs/tls.md, "Dovecot's auth service and TLS"): with ssl = yes globally and
    on the auth service's inet listener, and a certificate configured, doveconf accepts the
    setting, yet the listener answers a TLS ClientHello with the auth protocol in clear."""
    port = free_port()
    d = tmp_path
    (d / "passwd").write_text("userx:{PLAIN}secret\n")
    conf = d / "dovecot.conf"
    conf.write_text(f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = postern-ssl-{port}
protocols =
listen = 127.0.0.1
ssl = required
ssl_cert = <{pki}/auth.pem
ssl_key = <{pki}/auth.key
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home=/tmp
}}
service auth-worker {{
  user = root
}}
service auth {{
  user = root
  inet_listener auth-inet {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
""")
    shown = subprocess.run(["doveconf", "-n", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    listener = shown.stdout[shown.stdout.index("inet_listener auth-inet"):]
    assert "ssl = yes" in listener.split("}")[0], shown.stdout
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("dovecot did not start: " + proc.stderr.read().decode())
                time.sleep(0.1)
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with pytest.raises(ssl.SSLError) as e:
                ctx.wrap_socket(raw, server_hostname="auth.example")
        assert "WRONG_VERSION_NUMBER" in str(e.value) or "wrong version number" in str(e.value), e.value
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            assert s.recv(100).startswith(b"VERSION\t1\t")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("names", [[], ["server_tls_sni = auth.example"]])
def test_authenticates_over_tls(probe, tls_front, pki, tmp_path, names):  # noqa: F811
    conf = config(tmp_path, tls_front, ["server_tls = true", f"server_tls_verify_certificates = {pki}/ca.pem", *names])
    out, _ = run(probe, conf, "PLAIN", "AHVzZXJ4AHNlY3JldA==")
    assert out == ["235 Authentication succeeded", "set_id=userx"]
    out, _ = run(probe, conf, "PLAIN", "AHVzZXJ4AHdyb25n")
    assert out == ["535 Incorrect authentication data",
                   "LOG: dp authenticator failed: 535 Incorrect authentication data (set_id=userx)", "set_id=userx"]
    # challenges and answers cross TLS too
    out, _ = run(probe, conf, "LOGIN", "-", ["dXNlcng=", "c2VjcmV0"])
    assert out == ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 Authentication succeeded", "set_id=userx"]


@pytest.mark.parametrize("opts,why,logged", [
    (["server_tls_verify_certificates = {pki}/other.pem"], "certificate verify failed",
     "SSL verify error: depth=0 error=unable to get local issuer certificate cert=/CN=auth.example"),
    (["server_tls_verify_certificates = {pki}/ca.pem", "server_tls_sni = wrong.example"], "certificate verify failed",
     'SSL verify error: certificate name mismatch: DN="/CN=auth.example" H="wrong.example"'),
])
def test_unverified_dovecot_gets_no_credentials(probe, tls_front, pki, tmp_path, opts, why, logged):  # noqa: F811
    conf = config(tmp_path, tls_front, ["server_tls = true", *(o.format(pki=pki) for o in opts)])
    out, err = run(probe, conf, "PLAIN", "AHVzZXJ4AHNlY3JldA==")
    assert out[0] == "435 Unable to authenticate at present", out
    assert out[1].startswith("LOG: dp authenticator failed: 435 Unable to authenticate at present: "
                             "TLS session with dovecot failed: (SSL_connect): error:") and why in out[1], out
    assert logged in err


def test_tls_to_a_plain_listener_defers(probe, dovecot, pki, tmp_path):  # noqa: F811
    conf = config(tmp_path, dovecot["inet"], ["server_tls = true", f"server_tls_verify_certificates = {pki}/ca.pem"])
    out, _ = run(probe, conf, "PLAIN", "AHVzZXJ4AHNlY3JldA==")
    assert out[0] == "435 Unable to authenticate at present"
    assert "TLS session with dovecot failed: (SSL_connect): " in out[1]
