"""DNS entry points without a command-line mode of their own (the dnslists condition, host name
lookup with forward confirmation, host addresses, host-list names, @mx_* items, the cache),
driven through the dns_probe test program against a real DNS server (NSD). The dnslists
expectations were checked against `exim -bh` with the same zones (see test_dns_vs_exim.py)."""
import os
import pathlib
import subprocess

import pytest

from dns_server import DnsServer


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    server = DnsServer(tmp_path_factory.mktemp("dns")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def probe(postern_bin, dns, tmp_path_factory):
    exe = pathlib.Path(postern_bin).parent / "tests" / "unit" / "dns" / "dns_probe"
    if not exe.exists():
        pytest.fail(f"{exe} not built")
    conf = tmp_path_factory.mktemp("probe") / "probe.conf"
    conf.write_text(dns.config("host_lookup_order = bydns\n"))

    def run(*args):
        r = subprocess.run([str(exe), str(conf), *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout
    run.exe, run.conf = exe, conf
    return run


def dnslists(probe, spec, ip):
    lines = probe("dnslists", spec, ip).splitlines()
    if lines[0] != "rc=1":
        return lines[0]
    kv = dict(l.split("=", 1) for l in lines[1:])
    return f"rc=1 {kv['domain']}|{kv['matched']}|{kv['value']}|{kv['text']}"


DNSLISTS = [
    ("bl.test", "127.0.0.2", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl.test", "127.0.0.9", "rc=0"),
    # $dnslist_text is the first string of the first TXT record
    ("bl.test", "127.0.0.5", "rc=1 bl.test|127.0.0.5|127.0.0.2|first part"),
    ("bl.test", "127.0.0.3", "rc=1 bl.test|127.0.0.3|127.0.0.3, 127.0.0.10|"),
    ("bl.test", "127.0.0.4", "rc=0"),  # 192.168.1.1 is outside 127/8: discarded
    ("bl.test", "192.0.2.1", "rc=1 bl.test|192.0.2.1|127.0.0.2|"),
    ("nope.test : bl.test", "127.0.0.2", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl.test=127.0.0.2", "127.0.0.2", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl.test=127.0.0.3", "127.0.0.2", "rc=0"),
    ("bl.test=127.0.0.9,127.0.0.2", "127.0.0.2", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl.test&0.0.0.2", "127.0.0.2", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl.test&0.0.0.1", "127.0.0.2", "rc=0"),
    ("bl.test!=127.0.0.2", "127.0.0.2", "rc=0"),
    ("bl.test!=127.0.0.5", "127.0.0.2", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl.test==127.0.0.3", "127.0.0.3", "rc=0"),
    ("bl.test==127.0.0.3,127.0.0.10", "127.0.0.3", "rc=1 bl.test|127.0.0.3|127.0.0.3, 127.0.0.10|"),
    ("bl.test!==127.0.0.3", "127.0.0.3", "rc=1 bl.test|127.0.0.3|127.0.0.3, 127.0.0.10|"),
    ("bl.test!==127.0.0.3,127.0.0.10", "127.0.0.3", "rc=0"),
    ("bl.test!&0.0.0.1", "127.0.0.3", "rc=0"),
    ("bl.test!&0.0.0.4", "127.0.0.3", "rc=1 bl.test|127.0.0.3|127.0.0.3, 127.0.0.10|"),
    ("bl.test=&0.0.0.2", "127.0.0.3", "rc=1 bl.test|127.0.0.3|127.0.0.3, 127.0.0.10|"),
    ("bl.test!=&0.0.0.2", "127.0.0.3", "rc=0"),
    ("bl.test/127.0.0.2", "1.2.3.4", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl.test/1.2.3.4::127.0.0.2", "1.2.3.4", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl.test/<;127.0.0.9;127.0.0.2", "1.1.1.1", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl.test/example.com", "1.2.3.4", "rc=1 bl.test|example.com|127.0.0.2|"),
    ("bl.test=127.0.0.2/example.com", "1.2.3.4", "rc=1 bl.test|example.com|127.0.0.2|"),
    ("bl.test,bl2.test", "127.0.0.2", "rc=1 bl.test|127.0.0.2|127.0.0.2|listed: see http://bl.test/2"),
    ("bl2.test,bl.test=127.0.0.2", "127.0.0.2", "rc=1 bl2.test|127.0.0.2|127.0.0.4|"),
    ("bl2.test,bl.test=127.0.0.3", "127.0.0.2", "rc=0"),
    ("bl.test", "2001:db8::1", "rc=1 bl.test|2001:db8::1|127.0.0.5|"),
    ("bl.test", "::ffff:127.0.0.2", "rc=0"),  # reversed as IPv6 nibbles, as Exim does
    ("other.zone", "127.0.0.2", "rc=0"),  # REFUSED: unknown, excluded by default
    ("+include_unknown : other.zone", "127.0.0.2", "rc=1 other.zone|127.0.0.2||"),
    ("+include_unknown : other.zone/127.0.0.2", "1.1.1.1", "rc=1 other.zone|127.0.0.2||"),
    ("+defer_unknown : other.zone", "127.0.0.2", "rc=2"),
    ("+defer_unknown : other.zone : bl.test", "127.0.0.2", "rc=2"),
    ("bl.test", "", "rc=0"),
]


@pytest.mark.parametrize("spec,ip,want", DNSLISTS)
def test_dnslists(probe, spec, ip, want):
    assert dnslists(probe, spec, ip) == want


CSA = [
    ("good.test", "192.0.2.77", "ok [client SMTP authorization ok]"),
    ("good.test", "192.0.2.78", "fail [client SMTP authorization failed (client address mismatch)]"),
    ("bad.test", "192.0.2.77", "fail [client SMTP authorization failed (host name not authorized)]"),
    ("p00.test", "192.0.2.77", "fail [client SMTP authorization failed (host name not authorized)]"),
    ("p22.test", "192.0.2.77", "fail [client SMTP authorization failed (no authorized addresses)]"),
    ("p30.test", "192.0.2.77", "unknown [client SMTP authorization unknown]"),
    ("p32.test", "192.0.2.77", "unknown [client SMTP authorization unknown]"),
    ("x.strict2.test", "192.0.2.77", "unknown [client SMTP authorization unknown]"),
    # parent records asserting "explicit authorization required" have no effect in Exim 4.96
    ("x.strict.test", "192.0.2.77", "unknown [client SMTP authorization unknown]"),
    ("x.p11.test", "192.0.2.77", "unknown [client SMTP authorization unknown]"),
    ("nothing.test", "192.0.2.77", "unknown [client SMTP authorization unknown]"),
    ("v6good.test", "192.0.2.77", "fail [client SMTP authorization failed (client address mismatch)]"),
    ("multi2.test", "192.0.2.10", "ok [client SMTP authorization ok]"),
    ("multi2.test", "192.0.2.20", "fail [client SMTP authorization failed (client address mismatch)]"),
    ("prio2.test", "192.0.2.77", "unknown [client SMTP authorization unknown]"),
    ("[192.0.2.77]", "192.0.2.77", "unknown [client SMTP authorization unknown]"),
    ("192.0.2.77", "192.0.2.77", "unknown [client SMTP authorization unknown]"),
    ("other.zone", "192.0.2.77", "defer [client SMTP authorization deferred (SRV lookup failed)]"),
]


@pytest.mark.parametrize("domain,ip,want", CSA)
def test_verify_csa(probe, domain, ip, want):
    assert probe("csa", domain, ip) == want + "\n"


def test_host_name_lookup(probe):
    # 192.0.2.1 has PTRs ptrhost.test and host1.test; both resolve back to it.
    out = probe("hostname", "192.0.2.1")
    assert out.startswith("rc=0 name=")
    names = out.split("name=")[1].split(" aliases=")
    assert {names[0], names[1].strip()} == {"ptrhost.test", "host1.test"}
    assert probe("hostname", "2001:db8::1") == "rc=0 name=ptrhost.test aliases=\n"
    # A PTR whose name does not resolve back is not accepted: rc=2 (DNS_NODATA), a name that
    # was not confirmed, for which Exim logs no "no host name found" line; the name is left for
    # the failure's text ("192.0.2.99 does not match any IP address for notconfirmed.test").
    assert probe("hostname", "192.0.2.99") == "rc=2 name=notconfirmed.test aliases=\n"
    # No PTR at all.
    assert probe("hostname", "192.0.2.50") == "rc=1 name= aliases=\n"


def test_host_addresses(probe):
    assert probe("addresses", "host1.test") == "rc=0\n2001:db8::1\n192.0.2.1\n192.0.2.2\n"
    assert probe("addresses", "v6only.test") == "rc=0\n2001:db8::2\n"
    assert probe("addresses", "nope.test") == "rc=1\n"
    assert probe("addresses", "txt1.test") == "rc=2\n"
    assert probe("addresses", "alias2.test") == "rc=0\n2001:db8::1\n192.0.2.1\n192.0.2.2\n"


@pytest.mark.parametrize("setting", ["dns_ipv4_lookup = *.test", "disable_ipv6 = true"])
def test_no_aaaa(probe, dns, tmp_path, setting):
    conf = tmp_path / "v4.conf"
    conf.write_text(dns.config(setting + "\n"))
    r = subprocess.run([str(probe.exe), str(conf), "addresses", "host1.test"], capture_output=True,
                       text=True, timeout=30)
    assert r.stdout == "rc=0\n192.0.2.1\n192.0.2.2\n"
    r = subprocess.run([str(probe.exe), str(conf), "addresses", "v6only.test"], capture_output=True,
                       text=True, timeout=30)
    assert r.stdout == "rc=2\n"


def test_host_list_names(probe):
    """Plain host names in host lists are resolved (match_host_lookup_hook)."""
    assert probe("hostlist", "host1.test", "192.0.2.2") == "rc=0\n"
    assert probe("hostlist", "host1.test", "2001:db8::1") == "rc=0\n"
    assert probe("hostlist", "host1.test", "192.0.2.3") == "rc=1\n"
    assert probe("hostlist", "mx1.test : host1.test", "192.0.2.1") == "rc=0\n"
    # A name without addresses is "unknown": the match fails, +include_unknown makes it match.
    assert probe("hostlist", "nope.test", "192.0.2.1") == "rc=1\n"
    assert probe("hostlist", "+include_unknown : nope.test", "192.0.2.1") == "rc=0\n"
    # A temporary failure defers (the name is outside the server's zones: REFUSED -> no data;
    # an unreachable server is tested in test_dns_lookup).


def test_mx_items(probe, dns, tmp_path):
    # The test MX hosts are 192.0.2.x: not local.
    assert probe("mx", "test", "@mx_any") == "rc=1\n"
    zones = dict(dns.zones)
    # A zone whose MX points at 127.0.0.1 (a local interface) as primary, 192.0.2.10 secondary.
    zones["local"] = ("$ORIGIN local.\n$TTL 300\n@ IN SOA ns.test. h.test. 1 3600 600 86400 60\n"
                      "@ IN NS ns.test.\n@ IN MX 10 lo.local.\n@ IN MX 20 mx.local.\n"
                      "sec IN MX 5 mx.local.\nsec IN MX 10 lo.local.\n"
                      "lo IN A 127.0.0.1\nmx IN A 192.0.2.10\n")
    server = DnsServer(tmp_path, zones).start()
    try:
        conf = tmp_path / "mx.conf"
        conf.write_text(server.config())

        def mx(domain, item):
            return subprocess.run([str(probe.exe), str(conf), "mx", domain, item], capture_output=True,
                                  text=True, timeout=30).stdout
        assert mx("local", "@mx_any") == "rc=0\n"
        assert mx("local", "@mx_primary") == "rc=0\n"
        assert mx("local", "@mx_secondary") == "rc=1\n"
        assert mx("sec.local", "@mx_primary") == "rc=1\n"
        assert mx("sec.local", "@mx_secondary") == "rc=0\n"
        assert mx("local", "@mx_any/ignore=127.0.0.1") == "rc=1\n"
        assert mx("nope.local", "@mx_any") == "rc=1\n"
    finally:
        server.stop()


def test_cache_survives_server_stop(probe, dns, tmp_path):
    """The second identical question is answered from the per-process cache: the server is
    stopped between the two."""
    zones = dict(dns.zones)
    server = DnsServer(tmp_path, zones).start()
    conf = tmp_path / "c.conf"
    conf.write_text(server.config("dns_retrans = 1s\ndns_retry = 1\n"))
    p = subprocess.Popen([str(probe.exe), str(conf), "lookup", "host1.test", "1", "again"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = []
        while True:
            line = p.stdout.readline()
            assert line, "probe ended early"
            if line == "READY\n":
                break
            first.append(line)
        server.stop()
        out, _ = p.communicate("go\n", timeout=30)
    finally:
        server.stop()
        if p.poll() is None:
            p.kill()
    assert first[0].startswith("rc=0 ")
    assert out.splitlines()[0] == first[0].strip()
    assert out.splitlines()[1:] == [l.strip() for l in first[1:]]


def test_negative_cache(probe, dns, tmp_path):
    """NXDOMAIN is cached for the SOA's negative TTL (60 s here), so it also survives a stop."""
    server = DnsServer(tmp_path, dict(dns.zones)).start()
    conf = tmp_path / "n.conf"
    conf.write_text(server.config("dns_retrans = 1s\ndns_retry = 1\n"))
    p = subprocess.Popen([str(probe.exe), str(conf), "lookup", "nope.test", "1", "again"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("rc=1 ")
        assert p.stdout.readline() == "READY\n"
        server.stop()
        out, _ = p.communicate("go\n", timeout=30)
    finally:
        server.stop()
        if p.poll() is None:
            p.kill()
    assert out.startswith("rc=1 ")


def test_lookup_uncached_after_stop_defers(probe, dns, tmp_path):
    """Control for the two cache tests: a name not asked before defers once the server is gone."""
    server = DnsServer(tmp_path, dict(dns.zones)).start()
    conf = tmp_path / "u.conf"
    conf.write_text(server.config("dns_retrans = 1s\ndns_retry = 1\n"))
    server.stop()
    r = subprocess.run([str(probe.exe), str(conf), "lookup", "host1.test", "1"], capture_output=True,
                       text=True, timeout=30)
    assert r.stdout.startswith("rc=3 ")
