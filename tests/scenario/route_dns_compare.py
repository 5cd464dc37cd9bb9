"""Helper for test_route_dnslookup.py, run as root inside `unshare -mn` (private network and mount
namespaces): brings up loopback, points /etc/resolv.conf (a bind mount private to the namespace)
at 127.0.0.1, serves ROUTE_ZONES with NSD on 127.0.0.1:53, and runs `-bt` for each address with
Exim 4.96 and with Postern on the same configuration (neither is given a DNS server: both use
resolv.conf, so the configuration is byte-identical).

    route_dns_compare.py POSTERN CASES.json   -> JSON list of [config, address, exim_output, postern_output]

CASES.json is a list of [config, address]: config "route" is CONFIG below, "example" Exim's
example configuration from tests/golden/bt/configs (its dnslookup router), "debian-internet" Debian's
generated configuration switched to dc_eximconfig_configtype=internet, "dnssec" a configuration with
dnssec_require_domains, "options" check_secondary_mx and self.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import dns_server  # noqa: E402

ROUTE_ZONES = {
    "test": """$ORIGIN test.
$TTL 300
@        IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@        IN NS  ns.test.
ns       IN A   127.0.0.1
mxa      IN A   192.0.2.10
mxb      IN A   192.0.2.20
mxb      IN AAAA 2001:db8::20
lo       IN A   127.0.0.1
priv     IN A   10.0.0.1
mx       IN MX  10 mxa.test.
mx       IN MX  20 mxb.test.
plain    IN A   192.0.2.30
v6       IN AAAA 2001:db8::40
nullmx   IN MX  0 .
badmx    IN MX  10 nonexistent.test.
mixmx    IN MX  10 nonexistent.test.
mixmx    IN MX  20 mxa.test.
selfmx   IN MX  10 lo.test.
secself  IN MX  5 mxa.test.
secself  IN MX  10 lo.test.
secself  IN MX  20 mxb.test.
privmx   IN MX  10 priv.test.
privmx2  IN MX  10 priv.test.
privmx2  IN MX  20 mxa.test.
txtonly  IN TXT "no mail here"
wide     IN MX  10 mxb.test.
_smtp._tcp.srvdom IN SRV 10 5 2525 mxa.test.
srvdom   IN MX  10 mxb.test.
_smtp._tcp.nosrv IN SRV 0 0 0 .
nosrv    IN MX  10 mxb.test.
mxonly   IN A   192.0.2.50
alias    IN CNAME mx.test.
""",
}

CONFIG = """primary_hostname = mail.example
spool_directory = {spool}
domainlist local_domains = mail.example
begin routers
viamx:
  driver = manualroute
  domains = viamx.test : viamx2.test : viamx3.test
  route_list = viamx.test mx.test/MX ; viamx2.test plain.test/MX:mxa.test ; viamx3.test nxdomain.test/MX
  transport = t
srv:
  driver = dnslookup
  domains = srvdom.test : nosrv.test
  check_srv = smtp
  transport = t
mxrequired:
  driver = dnslookup
  domains = mxonly.test
  mx_domains = *
  transport = t
  cannot_route_message = no MX for $domain
dnslookup:
  driver = dnslookup
  domains = ! +local_domains
  transport = t
  widen_domains = test
  ignore_target_hosts = <; 10.0.0.0/8
  no_more
begin transports
t:
  driver = smtp
"""

# The test zones are not signed: a domain in dnssec_require_domains cannot be routed.
DNSSEC_CONFIG = """primary_hostname = mail.example
spool_directory = {spool}
begin routers
secure:
  driver = dnslookup
  domains = mx.test : plain.test : nullmx.test
  dnssec_require_domains = *
  transport = t
rest:
  driver = dnslookup
  dnssec_require_domains = other.example
  transport = t
begin transports
t:
  driver = smtp
"""

# check_secondary_mx, self = send / fail, fallback hosts, hosts with equal MX not used.
OPTIONS_CONFIG = """primary_hostname = mail.example
spool_directory = {spool}
begin routers
secondary:
  driver = dnslookup
  domains = secself.test : mx.test
  check_secondary_mx
  transport = t
selfsend:
  driver = dnslookup
  domains = selfmx.test
  self = send
  transport = t
selffail:
  driver = dnslookup
  domains = lo.test
  self = fail
  transport = t
rest:
  driver = dnslookup
  transport = t
  fallback_hosts = 192.0.2.99
begin transports
t:
  driver = smtp
"""


def main():
    tool, cases_file = sys.argv[1:3]
    cases = json.loads(pathlib.Path(cases_file).read_text())
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    d = pathlib.Path(tempfile.mkdtemp())
    (d / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    subprocess.run(["mount", "--bind", str(d / "resolv.conf"), "/etc/resolv.conf"], check=True)
    dns_server._free_port = lambda: 53
    server = dns_server.DnsServer(d, zones=ROUTE_ZONES).start()
    try:
        (d / "spool").mkdir()
        golden = pathlib.Path(__file__).resolve().parents[1] / "golden" / "bt"
        confs = {"route": CONFIG.format(spool=d / "spool"),
                 "example": (golden / "configs" / "example.conf").read_text()
                 .replace("@DIR@", str(golden)).replace("@SPOOL@", str(d / "spool")),
                 "debian-internet": (golden / "configs" / "debian.conf").read_text()
                 .replace("@DIR@", str(golden)).replace("@SPOOL@", str(d / "spool"))
                 .replace("DCconfig_local=1", "DCconfig_internet=1")
                 .replace(".ifndef DCconfig_local", ".ifndef DCconfig_internet"),
                 "dnssec": DNSSEC_CONFIG.format(spool=d / "spool"),
                 "options": OPTIONS_CONFIG.format(spool=d / "spool")}
        for name, text in confs.items():
            (d / f"{name}.conf").write_text(text)
        results = []
        for name, address in cases:
            out = []
            for prog in ("exim", tool):
                r = subprocess.run([prog, "-C", str(d / f"{name}.conf"), "-bt", address], capture_output=True,
                                   text=True, timeout=60)
                out.append(f"{r.stdout}--- stderr\n{r.stderr}--- rc {r.returncode}\n")
            results.append([name, address] + out)
        print(json.dumps(results))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
