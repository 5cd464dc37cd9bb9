"""Plaintext sent in the same write as STARTTLS (CVE-2011-0411), compared with live Exim 4.96.

Exim answers "220 TLS go ahead", throws the clear-text bytes away before the handshake (they
never run inside TLS) and logs nothing about it, also with log_selector = +all. A daemon of each
runs with the same configuration; the client sends "STARTTLS\\r\\n<command>\\r\\n" in one write,
then EHLO and QUIT inside TLS. Replies and main-log lines (times, pids, ports masked) must match.
Under +all the "no MAIL in SMTP connection" line carries the TLS fields (X=, CV=, SNI=) as the
arrival line does.
"""
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from daemon_helpers import free_ports, wait_for

EXIM = shutil.which("exim")
pytestmark = pytest.mark.skipif(EXIM is None or os.geteuid() != 0 or not shutil.which("openssl"),
                                reason="needs root, openssl and Exim 4.96 for the comparison")

CONF = """spool_directory = {d}/spool
exim_user = mail
exim_group = mail
keep_environment =
log_file_path = {d}/spool/log/%slog
primary_hostname = test.example
tls_certificate = {pki}/cert.pem
tls_privatekey = {pki}/key.pem
tls_advertise_hosts = *
daemon_smtp_ports = {port}
local_interfaces = 127.0.0.1
acl_smtp_rcpt = accept
log_selector = {selector}
"""


@pytest.fixture(scope="module")
def pki():
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-stls-pki-"))
    os.chmod(d, 0o755)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
                    "cert.pem", "-days", "2", "-subj", "/CN=test.example"], cwd=d, check=True, capture_output=True)
    os.chmod(d / "key.pem", 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def read_reply(s):
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data.decode()
        data += chunk
        lines = data.split(b"\r\n")
        if len(lines) >= 2 and lines[-2][3:4] == b" ":
            return data.decode()


def converse(port, after):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    out = [read_reply(s)]
    s.sendall(b"EHLO c\r\n")
    out.append(read_reply(s))
    s.sendall(b"STARTTLS\r\n" + after)
    out.append(read_reply(s))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(s, server_hostname="test.example")
    t.sendall(b"EHLO d\r\n")
    out.append(read_reply(t))
    t.sendall(b"QUIT\r\n")
    out.append(read_reply(t))
    t.close()
    return out


def mask(text, port):
    text = re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? ", "", text)
    text = re.sub(r"\[\d+\] ", "", text)
    text = re.sub(r"pid=\d+", "pid=N", text)
    text = text.replace(str(port), "PORT")
    text = re.sub(r"\]:\d+", "]:CPORT", text)
    text = re.sub(r"D=[\d.]+m?s", "D=T", text)
    # Exim's build names ciphers as GnuTLS does, Postern as OpenSSL does (docs/tls.md).
    text = re.sub(r"X=(TLS1\.\d):\S+:(\d+)", r"X=\1:CIPHER:\2", text)
    text = re.sub(r"ESMTP Exim 4\.96 .*", "ESMTP Exim 4.96 DATE", text)
    return re.sub(r"(?m)^cwd=.*\n", "", text)


def run(binary, pki, after, selector):
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-stls-"))
    os.chmod(d, 0o755)
    (port,) = free_ports(1)
    (d / "c.conf").write_text(CONF.format(d=d, pki=pki, port=port, selector=selector))
    # Made beforehand: with +all Exim logs its arguments before it creates the spool, and then
    # cannot create the log directory (and stops).
    mail = pwd.getpwnam("mail")
    for sub in ("spool", "spool/log"):
        (d / sub).mkdir()
        os.chown(d / sub, mail.pw_uid, mail.pw_gid)
    p = subprocess.Popen([binary, "-C", str(d / "c.conf"), "-bdf"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    log = d / "spool" / "log" / "mainlog"
    try:
        assert wait_for(lambda: log.exists() and "daemon started" in log.read_text(), timeout=15)
        replies = converse(port, after)
        # The session's last line ("no MAIL", or the QUIT line) is written as it ends.
        wait_for(lambda: "QUIT" in log.read_text() or "no MAIL" in log.read_text(), timeout=20)
        time.sleep(0.2)
        lines = [line for line in mask(log.read_text(), port).splitlines()
                 if "daemon started" not in line and "args:" not in line]
        return [mask(r, port) for r in replies], lines
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("after", [b"NOOP\r\n", b"MAIL FROM:<evil@inject.example>\r\n", b"EHLO z\r\n"])
@pytest.mark.parametrize("selector", ["", "+all"])
def test_plaintext_behind_starttls(postern_bin, pki, after, selector):
    exim = run(EXIM, pki, after, selector)
    postern = run(postern_bin, pki, after, selector)
    replies, lines = postern
    assert replies[2] == "220 TLS go ahead\r\n"
    assert replies[4].startswith("221 ")
    assert not any("plaintext" in line or "evil" in line for line in lines), lines
    if selector:
        # EHLO, STARTTLS, EHLO, QUIT: the injected command was never read as one.
        assert any("C=EHLO,STARTTLS,EHLO,QUIT" in line for line in lines), lines
    assert postern == exim
