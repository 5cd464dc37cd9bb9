"""The dnslookup router against Exim 4.96: the same configuration and zones (MX, address records,
SRV with check_srv, null MX, MX hosts that are this machine or missing, ignore_target_hosts,
widen_domains, mx_domains, CNAMEs, dnssec_require_domains on unsigned zones) give the same -bt
output; so does Exim's example configuration
(its dnslookup router ignores 0.0.0.0 and 127/8) and Debian's generated one set to "internet". Runs in a private network namespace
(route_dns_compare.py) because Exim can only use the resolver of /etc/resolv.conf. Skipped unless
running as root with unshare, exim and nsd.

Also, without Exim: Postern's dnslookup through the `dns_servers` option on a loopback port."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import dns_server
from route_dns_compare import CONFIG, ROUTE_ZONES

HERE = pathlib.Path(__file__).resolve().parent

ADDRESSES = ["x@mx.test", "x@plain.test", "x@v6.test", "x@nullmx.test", "x@badmx.test", "x@mixmx.test",
             "x@selfmx.test", "x@secself.test", "x@srvdom.test", "x@nosrv.test", "x@priv.test",
             "x@privmx.test", "x@privmx2.test", "x@txtonly.test", "x@nxdomain.test", "x@wide",
             "x@mxonly.test", "x@alias.test", "x@lo.test", "x@viamx.test", "x@viamx2.test",
             "x@viamx3.test"]


def test_dnslookup_same_as_exim(postern_bin, tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("exim") \
            or not shutil.which("nsd"):
        pytest.skip("needs root, unshare, exim and nsd")
    f = tmp_path / "cases.json"
    cases = [["route", a] for a in ADDRESSES] + [["example", a] for a in ADDRESSES] + \
        [["debian-internet", a] for a in ADDRESSES] + \
        [["dnssec", a] for a in ("x@mx.test", "x@plain.test", "x@nullmx.test", "x@v6.test", "x@badmx.test")] + \
        [["options", a] for a in ("x@secself.test", "x@mx.test", "x@selfmx.test", "x@lo.test", "x@plain.test")]
    f.write_text(json.dumps(cases))
    r = subprocess.run(["unshare", "-mn", sys.executable, str(HERE / "route_dns_compare.py"), postern_bin,
                        str(f)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0 and "unshare" in r.stderr:
        pytest.skip("unshare is not permitted here: " + r.stderr.strip())
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    assert len(results) == len(cases)
    # The comparison means something only if Exim routed through DNS in each configuration.
    for conf in ("route", "example", "debian-internet"):
        assert sum("router = " in e and "MX=" in e for c, _, e, _ in results if c == conf) >= 5, conf
    bad = [f"{conf} {address}:\n--- exim\n{e}--- postern\n{p}" for conf, address, e, p in results
           if e != p]
    assert not bad, "\n".join(bad)


def test_dnslookup_with_dns_servers(run_postern, tmp_path):
    server = dns_server.DnsServer(tmp_path, zones=ROUTE_ZONES).start()
    try:
        (tmp_path / "spool").mkdir()
        conf = CONFIG.format(spool=tmp_path / "spool").replace(
            "primary_hostname = mail.example\n",
            f"primary_hostname = mail.example\ndns_servers = 127.0.0.1.{server.port}\n")
        r = run_postern("-bt", "x@mx.test", config=conf)
        assert r.stdout == ("x@mx.test\n  router = dnslookup, transport = t\n"
                            "  host mxa.test [192.0.2.10]   MX=10\n"
                            "  host mxb.test [2001:db8::20] MX=20\n"
                            "  host mxb.test [192.0.2.20]   MX=20\n")
        assert r.returncode == 0
        r = run_postern("-bt", "x@nullmx.test", config=conf)
        assert r.returncode == 2 and "is undeliverable" in r.stdout
    finally:
        server.stop()
