"""A real authoritative DNS server (NSD, Debian package nsd) on a loopback port for the DNS tests.

`DnsServer(tmp_path).start()` writes nsd.conf and the test zones into tmp_path, runs
`nsd -d` on 127.0.0.1:<free port> (UDP and TCP), waits until it answers, and `stop()` ends it.
The zones are below: `test.` (hosts, MX, TXT, SRV, TLSA, CNAME chains, a DNS block list
bl.test), `2.0.192.in-addr.arpa.`, `127.in-addr.arpa.` and an ip6.arpa zone for PTRs.
"""
import shutil
import socket
import struct
import subprocess
import time

import pytest

# 40 TXT strings of 60 bytes: the reply does not fit 512 bytes, so NSD truncates it over UDP
# without EDNS0 and the resolver must retry over TCP.
_BIG_TXT = "\n".join(f'big     IN TXT "{i:02d}' + "x" * 58 + '"' for i in range(40))

ZONES = {
    "test": f"""$ORIGIN test.
$TTL 300
@       IN SOA ns.test. hostmaster.test. 2024010101 3600 600 86400 60
@       IN NS  ns.test.
@       IN MX  10 mx1.test.
@       IN MX  20 mx2.test.
ns      IN A   127.0.0.1
host1   IN A   192.0.2.1
host1   IN A   192.0.2.2
host1   IN AAAA 2001:db8::1
v6only  IN AAAA 2001:db8::2
mx1     IN A   192.0.2.10
mx2     IN A   192.0.2.20
txt1    IN TXT "v=spf1 -all"
multi   IN TXT "part one" "part two" "part three"
spf     IN SPF "v=spf1" " ip4:192.0.2.0/24" " -all"
_smtp._tcp      IN SRV 10 5 25 mx1.test.
_25._tcp.mx1    IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
alias   IN CNAME host1.test.
alias2  IN CNAME alias.test.
dangling IN CNAME nowhere.test.
outside IN CNAME www.other.
emptyname IN TXT "x"
sp\\032ace IN A 192.0.2.5
sp\\032ace IN TXT "spaced"
sp\\032ace IN MX 1 mx1.test.
sp\\032ace IN SPF "spf spaced"
sp\\032c IN CNAME host1.test.
sub.zone IN NS ns.test.
ptrhost IN A   192.0.2.1
ptrhost IN AAAA 2001:db8::1
fakeptr IN A   192.0.2.99
_client._smtp.good      IN SRV 1 2 0 good.test.
good    IN A   192.0.2.77
_client._smtp.v6good    IN SRV 1 2 0 v6only.test.
_client._smtp.multi2    IN SRV 1 2 0 mx1.test.
_client._smtp.multi2    IN SRV 1 1 0 mx2.test.
_client._smtp.prio2     IN SRV 2 2 0 good.test.
_client._smtp.bad       IN SRV 1 1 0 bad.test.
_client._smtp.strict    IN SRV 1 1 1 strict.test.
_client._smtp.strict2   IN SRV 1 1 2 strict2.test.
_client._smtp.strict3   IN SRV 1 3 3 strict3.test.
_client._smtp.y.strict2   IN SRV 1 2 0 y.strict2.test.
_client._smtp.p00   IN SRV 1 0 0 p00.test.
_client._smtp.p01   IN SRV 1 0 1 p01.test.
_client._smtp.p02   IN SRV 1 0 2 p02.test.
_client._smtp.p03   IN SRV 1 0 3 p03.test.
_client._smtp.p10   IN SRV 1 1 0 p10.test.
_client._smtp.p11   IN SRV 1 1 1 p11.test.
_client._smtp.p12   IN SRV 1 1 2 p12.test.
_client._smtp.p13   IN SRV 1 1 3 p13.test.
_client._smtp.p20   IN SRV 1 2 0 p20.test.
_client._smtp.p21   IN SRV 1 2 1 p21.test.
_client._smtp.p22   IN SRV 1 2 2 p22.test.
_client._smtp.p23   IN SRV 1 2 3 p23.test.
_client._smtp.p30   IN SRV 1 3 0 p30.test.
_client._smtp.p31   IN SRV 1 3 1 p31.test.
_client._smtp.p32   IN SRV 1 3 2 p32.test.
_client._smtp.p33   IN SRV 1 3 3 p33.test.
{_BIG_TXT}
; a DNS block list
2.0.0.127.bl    IN A   127.0.0.2
2.0.0.127.bl    IN TXT "listed: see http://bl.test/2"
3.0.0.127.bl    IN A   127.0.0.3
5.0.0.127.bl    IN A   127.0.0.2
5.0.0.127.bl    IN TXT "first part" " second part"
5.0.0.127.bl    IN TXT "another record"
3.0.0.127.bl    IN A   127.0.0.10
4.0.0.127.bl    IN A   192.168.1.1
1.2.0.192.bl    IN A   127.0.0.2
2.0.0.127.bl2   IN A   127.0.0.4
example.com.bl  IN A   127.0.0.2
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl IN A 127.0.0.5
""",
    "2.0.192.in-addr.arpa": """$ORIGIN 2.0.192.in-addr.arpa.
$TTL 300
@       IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@       IN NS  ns.test.
1       IN PTR ptrhost.test.
1       IN PTR host1.test.
99      IN PTR notconfirmed.test.
""",
    "8.b.d.0.1.0.0.2.ip6.arpa": """$ORIGIN 8.b.d.0.1.0.0.2.ip6.arpa.
$TTL 300
@       IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@       IN NS  ns.test.
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR ptrhost.test.
""",
}


def _free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        t.close()
        u.close()
        return port
    raise RuntimeError("no free port")


def _query(port, name, qtype=1):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        s.sendto(q, ("127.0.0.1", port))
        return s.recv(4096)
    finally:
        s.close()


class DnsServer:
    def __init__(self, tmp_path, zones=None, ipv6=False):
        self.ipv6 = ipv6  # also listen on [::1]:port
        self.dir = tmp_path / "nsd"
        self.zones = zones or ZONES
        self.port = None
        self.proc = None

    def start(self):
        if shutil.which("nsd") is None:
            pytest.skip("nsd is not installed (scripts/deps.sh)")
        self.dir.mkdir(exist_ok=True)
        self.port = _free_port()
        d = self.dir
        conf = [
            "server:",
            f"  ip-address: 127.0.0.1@{self.port}",
        ] + ([f"  ip-address: ::1@{self.port}"] if self.ipv6 else []) + [
            '  username: ""',
            f'  zonesdir: "{d}"',
            f'  pidfile: "{d}/nsd.pid"',
            f'  xfrdfile: "{d}/xfrd.state"',
            f'  zonelistfile: "{d}/zone.list"',
            '  database: ""',
            f'  logfile: "{d}/nsd.log"',
            '  chroot: ""',
            f'  xfrdir: "{d}"',
            "  server-count: 1",
            "  verbosity: 1",
            "  rrl-ratelimit: 0",  # no response rate limiting: tests ask many questions quickly
            "remote-control:",
            "  control-enable: no",
        ]
        for name, text in self.zones.items():
            (d / f"{name}.zone").write_text(text)
            conf += ["zone:", f"  name: {name}", f"  zonefile: {name}.zone"]
        (d / "nsd.conf").write_text("\n".join(conf) + "\n")
        self.proc = subprocess.Popen(["nsd", "-d", "-c", str(d / "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                if _query(self.port, "ns.test"):
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        log = (d / "nsd.log").read_text() if (d / "nsd.log").exists() else ""
        self.stop()
        raise RuntimeError("nsd did not start: " + log)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def config(self, extra=""):
        """A postern configuration that resolves through this server."""
        return ("primary_hostname = test.example\n"
                f"dns_servers = 127.0.0.1.{self.port}\n" + extra)
