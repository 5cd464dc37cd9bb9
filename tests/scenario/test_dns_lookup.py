"""The dnsdb lookup end to end: postern -be against a real DNS server (NSD) serving the zones of
dns_server.py, reached through the dns_servers option. The expected values were checked against
Exim 4.96 pointed at the same zones (test_dns_vs_exim.py repeats that comparison live)."""
import subprocess

import pytest

from dns_server import DnsServer


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    server = DnsServer(tmp_path_factory.mktemp("dns")).start()
    yield server
    server.stop()


def be(postern_bin, tmp_path, config, *exprs, timeout=60):
    conf = tmp_path / "dns.conf"
    conf.write_text(config)
    r = subprocess.run([postern_bin, "-C", str(conf), "-be", *exprs], capture_output=True,
                       text=True, timeout=timeout)
    return r.stdout


CASES = [
    ("${lookup dnsdb{a=host1.test}}", "192.0.2.1\n192.0.2.2"),
    ("${lookup dnsdb{>: a+=host1.test}}", "2001:db8::1:192.0.2.1:192.0.2.2"),
    ("${lookup dnsdb{aaaa=v6only.test}}", "2001:db8::2"),
    ("${lookup dnsdb{a=v6only.test}{$value}{fail}}", "fail"),
    ("${lookup dnsdb{mx=test}}", "10 mx1.test\n20 mx2.test"),
    ("${lookup dnsdb{>:,- mx=test}}", "10-mx1.test:20-mx2.test"),
    ("${lookup dnsdb{mxh=test}}", "mx1.test\nmx2.test"),
    ("${lookup dnsdb{txt=multi.test}}", "part one"),
    ("${lookup dnsdb{>\n,: txt=multi.test}}", "part one:part two:part three"),
    ("${lookup dnsdb{>\n; txt=multi.test}}", "part onepart twopart three"),
    ("${lookup dnsdb{txt1.test}}", "v=spf1 -all"),
    ("${lookup dnsdb{spf=spf.test}}", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("${lookup dnsdb{>/,: spf=spf.test}}", "v=spf1: ip4:192.0.2.0/24: -all"),
    ("${lookup dnsdb{srv=_smtp._tcp.test}}", "10 5 25 mx1.test"),
    ("${lookup dnsdb{tlsa=_25._tcp.mx1.test}}",
     "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("${lookup dnsdb{a=alias2.test}}", "192.0.2.1\n192.0.2.2"),
    ("${lookup dnsdb{cname=alias2.test}}", "alias.test"),
    ("${lookup dnsdb{a=dangling.test}{$value}{fail}}", "fail"),
    ("${lookup dnsdb{ptr=192.0.2.1}}", "ptrhost.test\nhost1.test"),
    ("${lookup dnsdb{ptr=2001:db8::1}}", "ptrhost.test"),
    ("${lookup dnsdb{ptr=<;192.0.2.99;2001:db8::1}}", "notconfirmed.test\nptrhost.test"),
    ("${lookup dnsdb{a=nope.test}{$value}{fail}}", "fail"),
    ("${lookup dnsdb{mx=host1.test}{$value}{fail}}", "fail"),
    ("${lookup dnsdb{soa=a.b.test}}", "ns.test"),
    ("${lookup dnsdb{>:,; soa=a.b.test}}", "ns.test;hostmaster.test;2024010101;3600;600;86400;60"),
    ("${lookup dnsdb{zns=x.y.test}}", "ns.test"),
    ("${lookup dnsdb{csa=good.test}}", "Y good.test"),
    ("${lookup dnsdb{csa=bad.test}}", "N bad.test"),
    ("${lookup dnsdb{csa=x.strict.test}{$value}{fail}}", "fail"),
    ("${lookup dnsdb{>, a=host1.test:mx1.test:nope.test}}", "192.0.2.1,192.0.2.2,192.0.2.10"),
    ("${lookup dnsdb{ a = mx1.test }}", "192.0.2.10"),
    ("${lookup dnsdb{A=mx1.test}}", "192.0.2.10"),
    ("${lookup dnsdb{defer_never,retrans_2s,retry_1,dnssec_never,a=mx1.test}}", "192.0.2.10"),
    # A name outside the server's zones is REFUSED: a temporary error; lax defers only when no
    # other key gave data, strict always, never not at all.
    ('${lookup dnsdb{a=foo.other}{$value}{fail}}', 'Failed: lookup of "a=foo.other" gave DEFER: '),
    ("${lookup dnsdb{a=foo.other:mx1.test}{$value}{fail}}", "192.0.2.10"),
    ('${lookup dnsdb{defer_strict,a=foo.other:mx1.test}{$value}{fail}}',
     'Failed: lookup of "defer_strict,a=foo.other:mx1.test" gave DEFER: '),
    ("${lookup dnsdb{defer_never,a=foo.other}{$value}{fail}}", "fail"),
    # NSD does not sign: dnssec_strict treats the unauthenticated answer as a temporary error.
    ('${lookup dnsdb{dnssec_strict,a=mx1.test}{$value}{fail}}',
     'Failed: lookup of "dnssec_strict,a=mx1.test" gave DEFER: '),
    ('${lookup dnsdb{foo=bar}{$value}{no}}', 'Failed: lookup of "foo=bar" gave DEFER: unsupported DNS record type'),
    ('${lookup dnsdb{retrans_x,a=host1.test}}',
     'Failed: lookup of "retrans_x,a=host1.test" gave DEFER: unsupported dnsdb timeout value'),
    ('${lookup dnsdb{retry_x,a=host1.test}}',
     'Failed: lookup of "retry_x,a=host1.test" gave DEFER: dnsdb modifier syntax error'),
    ("${lookup dnsdb{a=a..b}{$value}{fail}}", "fail"),
    # dns_check_names_pattern (default: letters, digits, - / _) is not applied to TXT and PTR.
    ("${lookup dnsdb{a=sp ace.test}{$value}{fail}}", "fail"),
    ("${lookup dnsdb{mx=sp ace.test}{$value}{fail}}", "fail"),
    ("${lookup dnsdb{spf=sp ace.test}{$value}{fail}}", "fail"),
    ("${lookup dnsdb{txt=sp ace.test}{$value}{fail}}", "spaced"),
    ("${lookup dnsdb{cname=sp c.test}{$value}{fail}}", "fail"),
]


def test_dnsdb_outputs(postern_bin, tmp_path, dns):
    out = be(postern_bin, tmp_path, dns.config(), *[c[0] for c in CASES])
    want = "\n".join(c[1] for c in CASES) + "\n"
    got_lines, want_lines = out.split("\n"), want.split("\n")
    assert got_lines == want_lines


def test_names_pattern_unset(postern_bin, tmp_path, dns):
    out = be(postern_bin, tmp_path, dns.config("dns_check_names_pattern =\n"),
             "${lookup dnsdb{a=sp ace.test}{$value}{fail}}", "${lookup dnsdb{cname=sp c.test}{$value}{fail}}",
             "${lookup dnsdb{a=sp\\\\032ace.test}{$value}{fail}}")
    assert out == "192.0.2.5\nhost1.test\n192.0.2.5\n"


def test_tcp_fallback(postern_bin, tmp_path, dns):
    """40 TXT records do not fit a 512-byte UDP reply: NSD sets TC and the answer comes over TCP."""
    out = be(postern_bin, tmp_path, dns.config(), "${lookup dnsdb{>| txt=big.test}}").strip()
    parts = out.split("|")
    assert len(parts) == 40
    assert sorted(p[:2] for p in parts) == [f"{i:02d}" for i in range(40)]
    assert all(len(p) == 60 for p in parts)


def test_edns0_avoids_truncation(postern_bin, tmp_path, dns):
    """With dns_use_edns0 the 4096-byte buffer takes the whole answer over UDP."""
    out = be(postern_bin, tmp_path, dns.config("dns_use_edns0 = 1\n"), "${lookup dnsdb{>| txt=big.test}}")
    assert len(out.strip().split("|")) == 40


def test_dns_servers_forms(postern_bin, tmp_path, dns):
    """The server list: dead servers first are skipped after their timeout; "[ip]:port" and
    "ip::port" forms work."""
    for servers in (f"<; [127.0.0.1]:{dns.port}", f"127.0.0.1::{dns.port}",
                    f"<; 127.0.0.1.1 ; 127.0.0.1.{dns.port}"):
        conf = f"primary_hostname = test.example\ndns_servers = {servers}\ndns_retrans = 1s\ndns_retry = 1\n"
        assert be(postern_bin, tmp_path, conf, "${lookup dnsdb{a=mx1.test}}") == "192.0.2.10\n", servers


def test_ipv6_server(postern_bin, tmp_path):
    """A server on an IPv6 address, in both spellings, over UDP and (truncated reply) TCP."""
    server = DnsServer(tmp_path, ipv6=True).start()
    try:
        for servers in (f"<; ::1.{server.port}", f"<; [::1]:{server.port}"):
            conf = f"primary_hostname = test.example\ndns_servers = {servers}\n"
            out = be(postern_bin, tmp_path, conf, "${lookup dnsdb{a=mx1.test}}", "${lookup dnsdb{>| txt=big.test}}")
            lines = out.split("\n")
            assert lines[0] == "192.0.2.10", servers
            assert len(lines[1].split("|")) == 40, servers
    finally:
        server.stop()


def test_timeout_and_retry_bounds(postern_bin, tmp_path):
    """A server that never answers: the lookup defers after retrans x retry (x servers)."""
    import socket
    import time
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))  # receives queries, never replies
    port = sink.getsockname()[1]
    conf = f"primary_hostname = test.example\ndns_servers = 127.0.0.1.{port}\ndns_retrans = 1s\ndns_retry = 2\n"
    t0 = time.monotonic()
    out = be(postern_bin, tmp_path, conf, "${lookup dnsdb{a=mx1.test}{$value}{fail}}")
    elapsed = time.monotonic() - t0
    assert out == 'Failed: lookup of "a=mx1.test" gave DEFER: \n'
    assert 1.9 <= elapsed < 4.5
    sink.setblocking(False)
    queries = 0
    while True:
        try:
            sink.recv(512)
            queries += 1
        except BlockingIOError:
            break
    assert queries == 2
    sink.close()


def test_again_means_nonexist(postern_bin, tmp_path):
    """dns_again_means_nonexist turns a temporary failure for matching names into "not found"."""
    import socket
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    conf = (f"primary_hostname = test.example\ndns_servers = 127.0.0.1.{port}\ndns_retrans = 1s\n"
            "dns_retry = 1\ndns_again_means_nonexist = *.test\n")
    out = be(postern_bin, tmp_path, conf, "${lookup dnsdb{a=mx1.test}{$value}{fail}}",
             "${lookup dnsdb{a=mx1.other}{$value}{fail}}")
    sink.close()
    assert out == 'fail\nFailed: lookup of "a=mx1.other" gave DEFER: \n'


def test_bad_dns_servers_value(postern_bin, tmp_path):
    """A malformed dns_servers is logged (panic) and leaves no server: lookups defer at once
    instead of going to some other server."""
    conf = tmp_path / "bad.conf"
    conf.write_text(f"spool_directory = {tmp_path}/spool\nexim_user = root\nprimary_hostname = test.example\n"
                    "dns_servers = not-an-address\n")
    r = subprocess.run([postern_bin, "-C", str(conf), "-be", "${lookup dnsdb{a=mx1.test}{$value}{fail}}",
                        "${lookup dnsdb{defer_never,a=mx1.test}{$value}{fail}}"],
                       capture_output=True, text=True, timeout=10)
    assert r.stdout == 'Failed: lookup of "a=mx1.test" gave DEFER: \nfail\n'
    assert 'dns_servers: "not-an-address" is not an IP address' in r.stderr


def test_dns_trust_aa(postern_bin, tmp_path, dns):
    """NSD is authoritative (AA) but does not sign: with dns_trust_aa covering the names its
    answers count as authenticated, so dnssec_strict lookups succeed."""
    conf = dns.config("dns_trust_aa = test : *.test\n")
    out = be(postern_bin, tmp_path, conf, "${lookup dnsdb{dnssec_strict,a=mx1.test}{$value}{fail}}",
             "${lookup dnsdb{dnssec_strict,a=foo.other}{$value}{fail}}")
    assert out == '192.0.2.10\nFailed: lookup of "dnssec_strict,a=foo.other" gave DEFER: \n'


def _fake_server(ad, do_seen):
    """A one-thread UDP responder: answers every A query with 192.0.2.99, AD bit as given;
    records whether queries carried the DO bit."""
    import socket
    import struct
    import threading
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                q, peer = s.recvfrom(4096)
            except OSError:
                continue
            qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", q[:12])
            end = 12
            while q[end]:
                end += q[end] + 1
            end += 5
            question = q[12:end]
            do_seen.append(ar == 1 and len(q) >= end + 11 and q[end + 7] & 0x80 != 0)
            rflags = 0x8180 | (0x20 if ad else 0)
            reply = struct.pack(">HHHHHH", qid, rflags, 1, 1, 0, 0) + question
            reply += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 99])
            s.sendto(reply, peer)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return s, stop, t


def test_ad_bit_and_do_bit(postern_bin, tmp_path):
    """dnssec_strict accepts an answer with the AD bit and defers without it; dnsdb asks with
    the DO bit (EDNS0) unless dnssec_never."""
    for ad in (True, False):
        seen = []
        s, stop, t = _fake_server(ad, seen)
        port = s.getsockname()[1]
        conf = f"primary_hostname = test.example\ndns_servers = 127.0.0.1.{port}\ndns_retrans = 1s\ndns_retry = 1\n"
        out = be(postern_bin, tmp_path, conf, "${lookup dnsdb{dnssec_strict,a=x.test}{$value}{fail}}",
                 "${lookup dnsdb{dnssec_never,a=y.test}{$value}{fail}}")
        stop.set()
        t.join()
        s.close()
        first = "192.0.2.99" if ad else 'Failed: lookup of "dnssec_strict,a=x.test" gave DEFER: '
        assert out == first + "\n192.0.2.99\n"
        assert seen == [True, False]


def test_lookup_dnssec_authenticated(postern_bin, tmp_path):
    """$lookup_dnssec_authenticated after a dnsdb lookup: yes when the answer had the AD bit,
    no without it, and unset with dnssec_never (as Exim 4.96)."""
    for ad, want in ((True, "yes"), (False, "no")):
        s, stop, t = _fake_server(ad, [])
        port = s.getsockname()[1]
        conf = f"primary_hostname = test.example\ndns_servers = 127.0.0.1.{port}\ndns_retrans = 1s\ndns_retry = 1\n"
        out = be(postern_bin, tmp_path, conf,
                 "${lookup dnsdb{a=x.test}{$value}} <$lookup_dnssec_authenticated>",
                 "${lookup dnsdb{dnssec_never,a=y.test}{$value}} <$lookup_dnssec_authenticated>")
        stop.set()
        t.join()
        s.close()
        assert out == f"192.0.2.99 <{want}>\n192.0.2.99 <>\n"
