"""The dovecot authenticator against a real Dovecot auth service (Debian dovecot-core), over its
Unix auth-client socket and an inet listener, plus a scripted fake server for the handshake
errors. Until the SMTP session is on main the exchange is driven by build/.../auth_probe, which
prints what the SMTP client would see (334 challenges, the final reply) and Exim's log detail.
Expected replies and log texts were observed with Exim 4.96 against the same Dovecot."""
import os
import pathlib
import shutil
import socket
import subprocess
import threading
import time

import pytest
from daemon_helpers import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot-core not installed")


@pytest.fixture(scope="module")
def probe(postern_bin):
    path = pathlib.Path(postern_bin).parent / "tests" / "unit" / "auth" / "auth_probe"
    if not path.exists():
        pytest.skip(f"{path} not built")
    return str(path)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory):
    d = tmp_path_factory.mktemp("dovecot")
    port = free_port()
    # The auth processes run as root: pytest's tmp dirs are private to root (mode 0700).
    (d / "passwd").write_text("userx:{PLAIN}secret\nother:{PLAIN}pw2\n")
    conf = d / "dovecot.conf"
    conf.write_text(f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = postern-test-{port}
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
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
  unix_listener auth-client {{
    mode = 0666
  }}
  inet_listener auth-inet {{
    address = 127.0.0.1
    port = {port}
  }}
}}
""")
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    sock = d / "run" / "auth-client"
    deadline = time.time() + 10
    while time.time() < deadline:
        if sock.exists():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                pass
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("dovecot did not start: " + proc.stderr.read().decode())
    yield {"unix": str(sock), "inet": f"127.0.0.1 {port}", "dir": d}
    proc.terminate()
    proc.wait(timeout=10)


def config(tmp_path, socket_spec, extra=""):
    conf = tmp_path / "auth.conf"
    conf.write_text(f"""
begin authenticators
dp:
  driver = dovecot
  public_name = PLAIN
  server_socket = {socket_spec}
  server_set_id = $auth1
{extra}
dl:
  driver = dovecot
  public_name = LOGIN
  server_socket = {socket_spec}
  server_set_id = $auth1
""")
    return str(conf)


def run(probe, conf, mech, initial, answers=(), rip="192.0.2.1", lip="127.0.0.1"):
    r = subprocess.run([probe, conf, mech, initial, rip, lip], input="".join(a + "\n" for a in answers),
                       capture_output=True, text=True, timeout=30)
    assert r.stderr == ""
    return r.stdout.splitlines()


# (mechanism, initial response, client answers, expected output): one per row, both sockets.
CASES = [
    ("PLAIN", "AHVzZXJ4AHNlY3JldA==", [], ["235 Authentication succeeded", "set_id=userx"]),
    ("PLAIN", "AHVzZXJ4AHdyb25n", [], ["535 Incorrect authentication data",
        "LOG: dp authenticator failed: 535 Incorrect authentication data (set_id=userx)", "set_id=userx"]),
    ("PLAIN", "-", ["AHVzZXJ4AHNlY3JldA=="], ["334 ", "235 Authentication succeeded", "set_id=userx"]),
    ("PLAIN", "-", ["AG90aGVyAHB3Mg=="], ["334 ", "235 Authentication succeeded", "set_id=other"]),
    ("PLAIN", "AG5vYm9keQB4", [], ["535 Incorrect authentication data",
        "LOG: dp authenticator failed: 535 Incorrect authentication data (set_id=nobody)", "set_id=nobody"]),
    ("PLAIN", "!!!", [], ["535 Incorrect authentication data",
        "LOG: dp authenticator failed: 535 Incorrect authentication data"]),
    ("PLAIN", "AHVzZXJ4AHNlY3JldA\tx==", [], ["535 Incorrect authentication data",
        "LOG: dp authenticator failed: 535 Incorrect authentication data"]),
    ("LOGIN", "-", ["dXNlcng=", "c2VjcmV0"], ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
        "235 Authentication succeeded", "set_id=userx"]),
    ("LOGIN", "dXNlcng=", ["d3Jvbmc="], ["334 UGFzc3dvcmQ6", "535 Incorrect authentication data",
        "LOG: dl authenticator failed: 535 Incorrect authentication data (set_id=userx)", "set_id=userx"]),
    ("LOGIN", "-", ["dXNlcng=", "*"], ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
        "501 Authentication cancelled", "LOG: dl authenticator failed: 501 Authentication cancelled"]),
    ("LOGIN", "-", ["dXNlcng=", "c2Vj\tcmV0"], ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
        "535 Incorrect authentication data", "LOG: dl authenticator failed: 535 Incorrect authentication data"]),
]


@pytest.mark.parametrize("kind", ["unix", "inet"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_real_dovecot(probe, dovecot, tmp_path, kind, case):
    mech, initial, answers, want = CASES[case]
    conf = config(tmp_path, dovecot[kind])
    # A client address of its own per case: Dovecot delays clients with recent failures.
    rip = f"198.51.100.{case + (100 if kind == 'inet' else 1)}"
    assert run(probe, conf, mech, initial, answers, rip=rip) == want


def test_server_condition_applies_after_dovecot_ok(probe, dovecot, tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text(f"""
begin authenticators
dp:
  driver = dovecot
  public_name = PLAIN
  server_socket = {dovecot['unix']}
  server_condition = ${{if eq{{$auth1}}{{other}}}}
  server_set_id = $auth1
""")
    assert run(probe, str(conf), "PLAIN", "AHVzZXJ4AHNlY3JldA==") == [
        "535 Incorrect authentication data",
        "LOG: dp authenticator failed: 535 Incorrect authentication data (set_id=userx)", "set_id=userx"]
    assert run(probe, str(conf), "PLAIN", "AG90aGVyAHB3Mg==")[0] == "235 Authentication succeeded"


def test_connect_failures(probe, tmp_path):
    port = free_port()
    conf = config(tmp_path, str(tmp_path / "nosuch.sock"))
    assert run(probe, conf, "PLAIN", "YQ==") == [
        "435 Unable to authenticate at present",
        f"LOG: dp authenticator failed: 435 Unable to authenticate at present: unable to connect to UNIX "
        f"socket ({tmp_path}/nosuch.sock): No such file or directory"]
    conf = config(tmp_path, f"127.0.0.1 {port}")
    assert run(probe, conf, "PLAIN", "YQ==")[1] == (
        "LOG: dp authenticator failed: 435 Unable to authenticate at present: failed to connect to any "
        "address for 127.0.0.1: Connection refused")
    conf = config(tmp_path, "127.0.0.1")
    assert run(probe, conf, "PLAIN", "YQ==")[1] == (
        "LOG: dp authenticator failed: 435 Unable to authenticate at present: invalid socket '127.0.0.1'")


class FakeDovecot:
    """An auth-client server that sends a scripted handshake, records what it receives, and answers
    each AUTH/CONT line with the next scripted reply."""

    def __init__(self, handshake, replies):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.handshake, self.replies, self.received = handshake, list(replies), []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        conn, _ = self.sock.accept()
        conn.sendall(self.handshake.encode())
        if "DONE\n" not in self.handshake:
            conn.close()  # a premature end of the handshake
            return
        f = conn.makefile("rb")
        while True:
            try:
                line = f.readline()
            except OSError:
                break
            if not line:
                break
            self.received.append(line.decode())
            if line.startswith((b"AUTH", b"CONT")):
                if not self.replies:
                    break
                conn.sendall(self.replies.pop(0).encode())
        conn.close()


HS = "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t1\nCUID\t5\nCOOKIE\tabc\nDONE\n"


def test_request_format_and_cont(probe, tmp_path):
    fake = FakeDovecot(HS, ["CONT\t1\tVXNlcm5hbWU6\n", "OK\t1\tuser=bob\n"])
    conf = config(tmp_path, f"127.0.0.1 {fake.port}")
    assert run(probe, conf, "PLAIN", "AHVzZXJ4AHNlY3JldA==", ["YWJj"]) == [
        "334 VXNlcm5hbWU6", "235 Authentication succeeded", "set_id=bob"]
    pid_line = fake.received[1]
    assert fake.received[0] == "VERSION\t1\t0\n" and pid_line.startswith("CPID\t")
    assert fake.received[2] == ("AUTH\t1\tPLAIN\tservice=smtp\trip=192.0.2.1\tlip=127.0.0.1\tnologin\t"
                                "resp=AHVzZXJ4AHNlY3JldA==\n")
    assert fake.received[3] == "CONT\t1\tYWJj\n"


def test_secured_when_local(probe, tmp_path):
    fake = FakeDovecot(HS, ["FAIL\t1\tuser=x\treason=bad\n"])
    conf = config(tmp_path, f"127.0.0.1 {fake.port}")
    out = run(probe, conf, "PLAIN", "=", rip="127.0.0.1", lip="127.0.0.1")
    assert out[1] == "LOG: dp authenticator failed: 535 Incorrect authentication data (set_id=x)"
    assert fake.received[2] == ("AUTH\t1\tPLAIN\tservice=smtp\tsecured\trip=127.0.0.1\tlip=127.0.0.1\t"
                                "nologin\tresp==\n")


@pytest.mark.parametrize("handshake,replies,detail", [
    ("VERSION\t2\t0\nMECH\tPLAIN\nDONE\n", [], "authentication socket protocol version mismatch"),
    ("VERSION\t1\t1\nSPID\t1\nDONE\n", [], "authentication socket type mismatch (connected to auth-master "
                                           "instead of auth-client)"),
    ("VERSION\t1\t1\nMECH\tLOGIN\nDONE\n", [], 'Dovecot did not advertise mechanism "PLAIN" to us'),
    ("VERSION\t1\t1\nMECH\tPLAIN\n", [], "authentication socket read error or premature eof"),
    (HS, ["OK\t2\tuser=x\n"], "connection id mismatch"),
    (HS, ["OK\t1\tnouser\n"], "authentication socket protocol error, username missing"),
    (HS, ["WHAT\t1\n"], "authentication socket protocol error"),
    (HS, [], "authentication socket read error or premature eof"),
    ("VERSION\t1\t1\nMECH\tPLAIN\t" + "x" * 9000 + "\nDONE\n", [], "authentication socket read error or premature eof"),
])
def test_handshake_errors(probe, tmp_path, handshake, replies, detail):
    fake = FakeDovecot(handshake, replies)
    conf = config(tmp_path, f"127.0.0.1 {fake.port}")
    assert run(probe, conf, "PLAIN", "YQ==") == [
        "435 Unable to authenticate at present",
        "LOG: dp authenticator failed: 435 Unable to authenticate at present: " + detail]


def test_server_tls_needs_a_tls_peer(probe, tmp_path):
    """server_tls (test_auth_dovecot_tls.py): a peer that does not answer in TLS gets nothing."""
    fake = FakeDovecot("VERSION\t1\t1\nMECH\tPLAIN\n", [])   # in clear, then closed
    conf = config(tmp_path, f"127.0.0.1 {fake.port}", extra="  server_tls = true")
    out = run(probe, conf, "PLAIN", "YQ==")
    assert out[1].startswith("LOG: dp authenticator failed: 435 Unable to authenticate at present: "
                             "TLS session with dovecot failed: (SSL_connect): "), out
