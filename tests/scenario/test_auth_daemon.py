"""AUTH PLAIN and LOGIN through the listening daemon with Python's smtplib, against a real
Dovecot over its Unix socket and its inet listener, run against Exim 4.96 and Postern: the
client's replies and the daemon's main-log lines (timestamps, ids and ports removed) must be the
same."""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

from test_auth_dovecot import dovecot, free_port  # noqa: F401  (dovecot is a fixture)

EXIM = shutil.which("exim") or "/usr/sbin/exim"

CONFIG = """
primary_hostname = mx.test
spool_directory = {d}/spool
tls_advertise_hosts =
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
host_lookup =
auth_advertise_hosts = *
queue_only
acl_smtp_rcpt = accept
begin authenticators
dp:
  driver = dovecot
  public_name = PLAIN
  server_socket = {sock}
  server_set_id = $auth1
dl:
  driver = dovecot
  public_name = LOGIN
  server_socket = {sock}
  server_set_id = $auth1
"""


def start(binary, conf, tmp_path):
    port = free_port()
    proc = subprocess.Popen([binary, "-C", str(conf), "-bdf", "-oX", str(port), "-oP", str(tmp_path / "pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"{binary} daemon did not start")


def session(port, mech, user, password):
    """Log in with mech; on success send one message. Returns the reply codes/texts seen."""
    seen = []
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.ehlo("client.example")
        s.user, s.password = user, password
        auth = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login}[mech]
        try:
            code, text = s.auth(mech, auth, initial_response_ok=(mech == "PLAIN"))
            seen.append(f"{code} {text.decode()}")
            s.sendmail("a@b.example", ["c@d.example"], "Subject: t\r\n\r\nhi\r\n")
            seen.append("sent")
        except smtplib.SMTPAuthenticationError as e:
            seen.append(f"{e.smtp_code} {e.smtp_error.decode()}")
        except smtplib.SMTPRecipientsRefused as e:
            seen += [f"{code} {text.decode()}" for code, text in e.recipients.values()]
    return seen


def normalise(log):
    out = []
    for line in log.splitlines():
        if not re.match(r"^\d{4}-\d\d-\d\d ", line) or "daemon started" in line or "Warning:" in line:
            continue
        line = re.sub(r"^\S+ \S+ ", "", line)                         # timestamp
        line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2,4}\b", "ID", line)
        line = re.sub(r"S=\d+", "S=N", line)
        out.append(line)
    return out


CASES = [
    ("PLAIN", "userx", "secret"),
    ("PLAIN", "userx", "wrong"),
    ("LOGIN", "userx", "secret"),
    ("LOGIN", "other", "bad"),
]


@pytest.mark.parametrize("kind", ["unix", "inet"])
def test_dovecot_through_daemon_like_exim(postern_bin, dovecot, tmp_path, kind):  # noqa: F811
    if not os.path.exists(EXIM):
        pytest.skip("exim not installed")
    results = {}
    for name, binary in (("exim", EXIM), ("postern", postern_bin)):
        d = tmp_path / name
        d.mkdir()
        conf = d / "c.conf"
        conf.write_text(CONFIG.format(d=d, sock=dovecot[kind]))
        proc, port = start(binary, conf, d)
        try:
            replies = [session(port, *case) for case in CASES]
            time.sleep(0.3)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        results[name] = (replies, normalise((d / "log" / "mainlog").read_text()))
    assert results["postern"][0] == results["exim"][0]
    assert results["exim"][0][0] == ["235 Authentication succeeded", "sent"]
    assert results["exim"][0][1] == ["535 Incorrect authentication data"]
    assert results["postern"][1] == results["exim"][1]
    assert any(re.search(r"<= a@b\.example H=\(client\.example\) \[127\.0\.0\.1\] P=esmtpa A=dp:userx S=N", l)
               for l in results["postern"][1])
    assert ("dp authenticator failed for (client.example) [127.0.0.1]: 535 Incorrect authentication data "
            "(set_id=userx)") in results["postern"][1]
