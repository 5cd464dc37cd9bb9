"""PROXY protocol in front of the listening daemon: a real HAProxy (send-proxy, send-proxy-v2,
health checks) and raw headers, run against Exim 4.96 (the reference, so the expectations are
checked live) and against Postern's daemon. The client connects from 127.0.0.2 so that the real client and
the proxy (127.0.0.1) differ. Cases where Postern follows the PROXY spec strictly and Exim does not
run against Postern only."""
import os
import pathlib
import re
import shutil
import smtplib
import socket
import struct
import subprocess
import time

import pytest

from test_proxy_haproxy import HAPROXY, free_port, haproxy  # noqa: F401  (haproxy is a fixture)

EXIM = shutil.which("exim") or "/usr/sbin/exim"

CONFIG = """
primary_hostname = mx.test
spool_directory = {d}/spool
tls_advertise_hosts =
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
host_lookup =
hosts_proxy = 127.0.0.1
proxy_protocol_timeout = 1s
log_selector = +proxy
queue_only
acl_smtp_connect = acl_conn
acl_smtp_rcpt = accept
begin acl
acl_conn:
  warn logwrite = PROXYTEST session=$proxy_session local=[$proxy_local_address]:$proxy_local_port \\
        ext=[$proxy_external_address]:$proxy_external_port remote=[$sender_host_address]:$sender_host_port
  accept
"""


@pytest.fixture(params=["exim", "postern"])
def mta(request, postern_bin, tmp_path):
    """Start the MTA's daemon on a free port; yields (port, mainlog reader, kind)."""
    kind = request.param
    binary = EXIM if kind == "exim" else postern_bin
    if kind == "exim" and not os.path.exists(EXIM):
        pytest.skip("exim not installed")
    conf = tmp_path / "mta.conf"
    conf.write_text(CONFIG.format(d=tmp_path))
    port = free_port()
    proc = subprocess.Popen([binary, "-C", str(conf), "-bdf", "-oX", str(port), "-oP", str(tmp_path / "pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.2", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    mainlog = tmp_path / "log" / "mainlog"

    def log(wait_for=None):
        for _ in range(100):
            text = mainlog.read_text() if mainlog.exists() else ""
            if wait_for is None or re.search(wait_for, text):
                return text
            time.sleep(0.05)
        return text
    yield port, log, kind
    proc.terminate()
    proc.wait(timeout=10)


def send_message(port):
    for _ in range(50):  # HAProxy may still be starting
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    with smtplib.SMTP("127.0.0.1", port, source_address=("127.0.0.2", 0), timeout=10) as s:
        code, hello = s.ehlo("client.example")
        cport = s.sock.getsockname()[1]
        s.sendmail("a@b.example", ["c@d.example"], "Subject: t\r\n\r\nhi\r\n")
    return hello.decode(), cport


@pytest.mark.parametrize("send", ["send-proxy", "send-proxy-v2"])
def test_haproxy_sets_client_and_prx(mta, haproxy, send):  # noqa: F811
    port, log, kind = mta
    fe = free_port()
    haproxy(f"frontend f\n  bind 127.0.0.1:{fe}\n  default_backend b\n"
            f"backend b\n  server s 127.0.0.1:{port} {send}\n")
    hello, cport = send_message(fe)
    assert hello.startswith("mx.test Hello client.example [127.0.0.2]")
    text = log(r"<= a@b\.example")
    assert re.search(r"PROXYTEST session=yes local=\[127\.0\.0\.1\]:\d+ "
                     rf"ext=\[127\.0\.0\.1\]:{fe} remote=\[127\.0\.0\.2\]:{cport}", text), text
    assert re.search(r"<= a@b\.example H=\(client\.example\) \[127\.0\.0\.2\] P=esmtp PRX=127\.0\.0\.1 S=\d+",
                     text), text


@pytest.mark.parametrize("send", ["send-proxy", "send-proxy-v2"])
def test_haproxy_health_check(mta, haproxy, send):  # noqa: F811
    """HAProxy health checks (made to wait for the banner, so the header is read before HAProxy
    hangs up): v2 sends LOCAL, so the session is the proxy itself with empty proxy variables;
    v1 sends HAProxy's own addresses. Real traffic through the same backend still works."""
    port, log, kind = mta
    fe = free_port()
    haproxy(f"backend b\n  option tcp-check\n  timeout check 5s\n  tcp-check expect string 220\n"
            f"  server s 127.0.0.1:{port} {send} check check-send-proxy inter 1s\n"
            f"frontend f\n  bind 127.0.0.1:{fe}\n  default_backend b\n")
    # Checks repeat every second; an early one may lose the race with daemon start-up.
    if send == "send-proxy-v2":  # LOCAL: the proxy is the client, no external address
        want = r"PROXYTEST session=yes local=\S* ext=\[\]:0? remote=\[127\.0\.0\.1\]:\d+"
    else:                         # v1 checks carry HAProxy's own addresses
        want = (r"PROXYTEST session=yes local=\[127\.0\.0\.1\]:\d+ ext=\[127\.0\.0\.1\]:\d+ "
                r"remote=\[127\.0\.0\.1\]:\d+")
    text = log(want)
    assert re.search(want, text), text
    hello, cport = send_message(fe)
    assert hello.startswith("mx.test Hello client.example [127.0.0.2]")
    assert re.search(r"<= a@b\.example H=\(client\.example\) \[127\.0\.0\.2\] P=esmtp PRX=127\.0\.0\.1 ",
                     log(r"<= a@b\.example")), text


def raw_session(port, header, commands=(b"EHLO x\r\n", b"QUIT\r\n")):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    with s:
        if header:
            s.sendall(header)
        f = s.makefile("rb")
        start = time.time()
        banner = f.readline()
        waited = time.time() - start
        replies = []
        for c in commands:
            s.sendall(c)
            line = first = f.readline()
            while line[3:4] == b"-":  # keep the first line of a multi-line reply
                line = f.readline()
            replies.append(first.decode().rstrip())
        return banner.decode(), waited, replies


REFUSED = "503 Command refused, required Proxy negotiation failed"


def test_no_header_times_out(mta):
    port, log, kind = mta
    banner, waited, replies = raw_session(port, b"")
    assert banner.startswith("220 mx.test")
    assert 0.8 < waited < 3
    assert replies == [REFUSED, "221 mx.test closing connection"]


@pytest.mark.parametrize("header", [b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00", b"PROXY UNKNOWN\r\n"])
def test_local_and_unknown_keep_the_peer(mta, header):
    """v2 LOCAL and v1 UNKNOWN: the session goes on as the proxy's own address; Exim leaves the
    proxy variables empty (ports 0), as after a failure."""
    port, log, kind = mta
    banner, waited, replies = raw_session(port, header)
    assert replies == ["250-mx.test Hello x [127.0.0.1]", "221 mx.test closing connection"]
    assert re.search(r"PROXYTEST session=yes local=\[\]:0 ext=\[\]:0 remote=\[127\.0\.0\.1\]:\d+",
                     log("PROXYTEST"))


def v2(cmd, fam, block, tlvs=b""):
    body = block + tlvs
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([cmd, fam]) + struct.pack(">H", len(body)) + body


V4_BLOCK = bytes([192, 0, 2, 7, 198, 51, 100, 9]) + struct.pack(">HH", 40000, 25)


@pytest.mark.parametrize("header,accepted", [
    (b"PROXY TCP4 192.0.2.7 198.51.100.9 40000 25\r\n", True),
    (v2(0x21, 0x11, V4_BLOCK), True),
    (b"PROXY TCP4 192.0.2.7  198.51.100.9 40000 25\r\n", False),   # double space
    (v2(0x21, 0x12, V4_BLOCK), False),                              # UDP
    (v2(0x21, 0x21, b""), False),                                   # IPv6 family, no address
])
def test_raw_headers_like_exim(mta, header, accepted):
    port, log, kind = mta
    banner, waited, replies = raw_session(port, header)
    if kind == "postern":
        assert waited < 0.8  # decided at once, without waiting for the timeout
    if accepted:
        assert replies[0] == "250-mx.test Hello x [192.0.2.7]"
        assert "PROXYTEST session=yes" in log(r"remote=\[192\.0\.2\.7\]:40000")
    else:
        assert replies == [REFUSED, "221 mx.test closing connection"]


@pytest.mark.parametrize("header", [
    b"PROXY TCP4 2001:db8::1 198.51.100.9 40000 25\r\n",     # family mismatch (Exim accepts)
    b"PROXY TCP4 192.0.2.7 198.51.100.9 65536 25\r\n",        # port > 65535 (Exim accepts)
    v2(0x21, 0x11, V4_BLOCK, b"\x03\x00\x04\x00\x00\x00\x01"),  # CRC32C mismatch (Exim ignores TLVs)
])
def test_strict_where_exim_is_lax(mta, header):
    port, log, kind = mta
    banner, waited, replies = raw_session(port, header)
    if kind == "exim":
        assert replies[0].startswith("250-mx.test Hello x [")  # documents Exim's laxness
    else:
        assert replies == [REFUSED, "221 mx.test closing connection"]


def test_v2_tlv_variables(postern_bin, tmp_path):
    """Postern only (Exim has no such variables): the v2 header's TLVs are visible to ACLs as
    $proxy_alpn, $proxy_authority, $proxy_unique_id; absent ones read empty."""
    conf = tmp_path / "mta.conf"
    conf.write_text(CONFIG.format(d=tmp_path).replace(
        "  accept\n", "  warn logwrite = TLVTEST alpn=$proxy_alpn auth=$proxy_authority "
        "uid=$proxy_unique_id netns=[$proxy_netns] ssl=$proxy_ssl\n  accept\n", 1))
    port = free_port()
    proc = subprocess.Popen([postern_bin, "-C", str(conf), "-bdf", "-oX", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.2", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        tlvs = (b"\x01\x00\x02h2" + b"\x02\x00\x0bmx.test.org" + b"\x05\x00\x03abc")
        raw_session(port, v2(0x21, 0x11, V4_BLOCK, tlvs))
        mainlog = tmp_path / "log" / "mainlog"
        for _ in range(100):
            text = mainlog.read_text() if mainlog.exists() else ""
            if "TLVTEST" in text:
                break
            time.sleep(0.05)
        assert "TLVTEST alpn=h2 auth=mx.test.org uid=abc netns=[] ssl=no" in text, text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
