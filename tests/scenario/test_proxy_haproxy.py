"""PROXY protocol end to end with a real HAProxy (Debian haproxy) in front of proxy_probe, a
listener that reads the header with src/smtp/proxy_read (the reader the SMTP daemon uses) and
then shows what the client sent after it. Covers send-proxy (v1), send-proxy-v2 with CRC32C and
UNIQUE_ID TLVs, IPv6 clients, and HAProxy's health checks (v1 and v2 LOCAL)."""
import pathlib
import shutil
import socket
import subprocess
import time

import pytest

from daemon_helpers import free_ports

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
pytestmark = pytest.mark.skipif(not pathlib.Path(HAPROXY).exists(), reason="haproxy not installed")


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port free on every address (family and host are kept for the callers' clarity)."""
    return free_ports(1)[0]


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
def probe(postern_bin, tmp_path):
    """Start proxy_probe for n connections; returns (port, function giving its output lines)."""
    exe = pathlib.Path(postern_bin).parent / "tests" / "unit" / "proxy" / "proxy_probe"
    if not exe.exists():
        pytest.skip(f"{exe} not built")
    procs = []

    def start(n, timeout_ms=3000):
        portfile = tmp_path / f"probe{len(procs)}.port"
        out = open(tmp_path / f"probe{len(procs)}.out", "w+")
        p = subprocess.Popen([str(exe), str(portfile), str(timeout_ms), str(n)], stdout=out)
        procs.append(p)
        for _ in range(100):
            if portfile.exists() and portfile.read_text().strip():
                break
            time.sleep(0.02)

        def output():
            p.wait(timeout=20)
            out.seek(0)
            return out.read().splitlines()
        return int(portfile.read_text()), output
    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.fixture
def haproxy(tmp_path):
    procs = []

    def start(body):
        cfg = tmp_path / f"haproxy{len(procs)}.cfg"
        cfg.write_text("global\n  maxconn 100\ndefaults\n  mode tcp\n  timeout connect 2s\n"
                       "  timeout client 5s\n  timeout server 5s\n" + body)
        check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        p = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        procs.append(p)
        time.sleep(0.3)
        return p
    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def smtp_client(port, host="127.0.0.1", family=socket.AF_INET):
    """Connect through HAProxy, wait for the banner, send one line; returns (banner, client port)."""
    for _ in range(50):
        try:
            s = socket.socket(family)
            s.connect((host, port))
            break
        except OSError:
            s.close()
            time.sleep(0.05)
    with s:
        s.settimeout(5)
        banner = s.recv(100)
        s.sendall(b"EHLO client.example\r\n")
        return banner, s.getsockname()[1]


def test_send_proxy_v1(probe, haproxy):
    port, output = probe(1)
    fe = free_port()
    haproxy(f"frontend f\n  bind 127.0.0.1:{fe}\n  default_backend b\n"
            f"backend b\n  server s 127.0.0.1:{port} send-proxy\n")
    banner, cport = smtp_client(fe)
    assert banner == b"220 probe\r\n"
    assert output() == [f"ok v=1 local=0 src=127.0.0.1 sport={cport} dst=127.0.0.1 dport={fe}",
                        r" rest=EHLO\x20client.example\x0d\x0a"]


def test_send_proxy_v2_with_tlvs(probe, haproxy):
    port, output = probe(1)
    fe = free_port()
    haproxy(f"frontend f\n  bind 127.0.0.1:{fe}\n  unique-id-format conn-%{{+X}}o%ci\n  default_backend b\n"
            f"backend b\n  server s 127.0.0.1:{port} send-proxy-v2 proxy-v2-options crc32c,unique-id\n")
    banner, cport = smtp_client(fe)
    assert banner == b"220 probe\r\n"
    assert output() == [f"ok v=2 local=0 src=127.0.0.1 sport={cport} dst=127.0.0.1 dport={fe} "
                        "unique_id=conn-7F000001 crc32c=ok",
                        r" rest=EHLO\x20client.example\x0d\x0a"]


@pytest.mark.skipif(not have_ipv6(), reason="no IPv6 loopback")
@pytest.mark.parametrize("send,version", [("send-proxy", 1), ("send-proxy-v2", 2)])
def test_ipv6_client(probe, haproxy, send, version):
    port, output = probe(1)
    fe = free_port(socket.AF_INET6, "::1")
    haproxy(f"frontend f\n  bind [::1]:{fe}\n  default_backend b\n"
            f"backend b\n  server s 127.0.0.1:{port} {send}\n")
    banner, cport = smtp_client(fe, "::1", socket.AF_INET6)
    assert output()[0] == f"ok v={version} local=0 src=::1 sport={cport} dst=::1 dport={fe}"


@pytest.mark.parametrize("send,want", [
    ("send-proxy-v2", "ok v=2 local=1"),   # v2 health checks use the LOCAL command
    ("send-proxy", "ok v=1 local=0 src="),  # v1 health checks carry HAProxy's own addresses
])
def test_health_check(probe, haproxy, send, want):
    port, output = probe(1)
    # The check waits for the banner, so the header is read before HAProxy hangs up.
    haproxy(f"backend b\n  option tcp-check\n  tcp-check expect string 220\n"
            f"  server s 127.0.0.1:{port} {send} check check-send-proxy inter 200\n"
            f"frontend f\n  bind 127.0.0.1:{free_port()}\n  default_backend b\n")
    lines = output()
    assert lines[0].startswith(want)
