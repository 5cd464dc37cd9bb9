"""ACL conditions that use the DNS, end to end through ${acl} in -be against a real DNS server
(NSD with the zones of dns_server.py): dnslists with its $dnslist_* variables, and verify = csa
for a caller without a client address."""
import subprocess

import pytest

from dns_server import DnsServer


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    server = DnsServer(tmp_path_factory.mktemp("dns")).start()
    yield server
    server.stop()


CONFIG = """primary_hostname = test.example
dns_servers = 127.0.0.1.{port}
dns_retrans = 1s
dns_retry = 1
begin acl
bl:
  deny   dnslists = bl.test/$acl_arg1
         message = listed in $dnslist_domain: $dnslist_value "$dnslist_text" key=$dnslist_matched
  accept message = clean
blval:
  deny   dnslists = bl.test=127.0.0.3/$acl_arg1
         message = value 3 ($dnslist_value)
  accept message = other
negated:
  accept !dnslists = bl.test/$acl_arg1
         message = not listed
  deny   message = listed
csa:
  accept verify = csa/$acl_arg1
         message = csa $csa_status
  deny   message = csa failed $csa_status
"""

CASES = [
    ("${acl{bl}{127.0.0.2}}", 'listed in bl.test: 127.0.0.2 "listed: see http://bl.test/2" key=127.0.0.2'),
    ("${acl{bl}{127.0.0.9}}", "clean"),
    # every address of the entry is in $dnslist_value
    ("${acl{blval}{127.0.0.3}}", "value 3 (127.0.0.3, 127.0.0.10)"),
    ("${acl{blval}{127.0.0.2}}", "other"),
    ("${acl{negated}{127.0.0.9}}", "not listed"),
    ("${acl{negated}{127.0.0.2}}", "listed"),
    # no client address: nothing to authorize
    ("${acl{csa}{good.test}}", "csa unknown"),
]


def test_acl_dns_conditions(postern_bin, tmp_path, dns):
    conf = tmp_path / "acl.conf"
    conf.write_text(CONFIG.format(port=dns.port))
    r = subprocess.run([postern_bin, "-C", str(conf), "-be"] + [c for c, _ in CASES],
                       capture_output=True, text=True, timeout=60)
    got = r.stdout.split("\n")
    for (case, want), g in zip(CASES, got):
        assert g == want, (case, r.stderr)
