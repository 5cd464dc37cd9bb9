"""log_selector = +dnssec: "DS" before H= on the <= line, and $sender_host_dnssec, when the
client's host name came from DNSSEC-authenticated lookups (ch-log_files: "this covers the
reverse and forward lookups for host name verification"). The DNS server is NSD (authoritative,
unsigned): with dns_trust_aa covering the reverse and forward zones its answers count as
authenticated, as Exim's dns_trust_aa makes them; without it they do not.

Exim cannot be pointed at a DNS server on a private port, so this is checked against the
documented behaviour only: the field's position follows Exim's add_host_info_for_log order as
observed for the other fields (before H=)."""
import re
import subprocess

import pytest

from dns_server import DnsServer


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    server = DnsServer(tmp_path_factory.mktemp("dns")).start()
    yield server
    server.stop()


def receive(postern_bin, dns, d, extra, selector="+dnssec", ip="192.0.2.1"):
    d.mkdir()
    conf = d / "conf"
    conf.write_text(dns.config(f"""spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
queue_only
host_lookup = *
host_lookup_order = bydns
log_selector = {selector}
acl_smtp_rcpt = r
{extra}
begin acl
r:
  warn logwrite = dnssec=$sender_host_dnssec name=$sender_host_name
  accept
"""))
    data = "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: m\r\n\r\nhi\r\n.\r\nQUIT\r\n"
    r = subprocess.run([postern_bin, "-C", str(conf), "-bs", "-oMa", ip], input=data.encode(),
                       capture_output=True, timeout=30)
    assert b"250 OK id=" in r.stdout, r
    lines = [re.sub(r"^\S+ \S+ (\S+-\S+-\S+ )?", "", l) for l in (d / "log" / "mainlog").read_text().splitlines()]
    return lines


def test_ds_with_trusted_answers(postern_bin, dns, tmp_path):
    lines = receive(postern_bin, dns, tmp_path / "trusted", "dns_trust_aa = *.test : *.2.0.192.in-addr.arpa")
    assert "dnssec=yes name=ptrhost.test" in lines, lines
    arrival = next(l for l in lines if l.startswith("<= "))
    assert arrival.startswith("<= a@b.example DS H=ptrhost.test (x) [192.0.2.1] "), arrival


def test_no_ds_when_the_forward_zone_is_not_trusted(postern_bin, dns, tmp_path):
    lines = receive(postern_bin, dns, tmp_path / "ptr_only", "dns_trust_aa = *.2.0.192.in-addr.arpa")
    assert "dnssec=no name=ptrhost.test" in lines, lines
    arrival = next(l for l in lines if l.startswith("<= "))
    assert arrival.startswith("<= a@b.example H=ptrhost.test (x) [192.0.2.1] "), arrival


def test_no_ds_without_the_selector(postern_bin, dns, tmp_path):
    lines = receive(postern_bin, dns, tmp_path / "nosel",
                    "dns_trust_aa = *.test : *.2.0.192.in-addr.arpa", selector="")
    assert "dnssec=yes name=ptrhost.test" in lines, lines
    arrival = next(l for l in lines if l.startswith("<= "))
    assert " DS " not in arrival, arrival
