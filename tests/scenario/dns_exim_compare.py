"""Differential helper for test_dns_vs_exim.py, run as root inside `unshare -mn` (a private
network and mount namespace): brings up loopback, points /etc/resolv.conf (bind mount, private to
the namespace) at 127.0.0.1, runs NSD on 127.0.0.1:53 with the test zones, and evaluates the same
cases with Exim 4.96 and with Postern.

    dns_exim_compare.py be POSTERN CASES.json      -> JSON list of [exim_line, postern_line]
    dns_exim_compare.py dnslists PROBE CASES.json  -> JSON list of [exim, postern] per (spec, ip)
    dns_exim_compare.py csa PROBE CASES.json       -> JSON list of [exim, postern] per (helo, ip)
    dns_exim_compare.py dnslists-bh POSTERN CASES.json, csa-bh POSTERN CASES.json: the same, with
        `postern -bh` running the same ACL (so the ACL engine's use of the DNS layer is compared)

Exim cannot be given a DNS port, hence the namespace (port 53 of the host is not touched)."""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import dns_server  # noqa: E402


def main():
    mode, tool, cases_file = sys.argv[1:4]
    cases = json.loads(pathlib.Path(cases_file).read_text())
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    d = pathlib.Path(tempfile.mkdtemp())
    (d / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    subprocess.run(["mount", "--bind", str(d / "resolv.conf"), "/etc/resolv.conf"], check=True)
    dns_server._free_port = lambda: 53
    server = dns_server.DnsServer(d).start()
    try:
        (d / "p.conf").write_text(server.config())
        (d / "spool").mkdir()
        base = (f"spool_directory = {d}/spool\nexim_user = root\nexim_group = root\n"
                "primary_hostname = test.example\n")
        results = []
        if mode == "be":
            (d / "e.conf").write_text(base)
            e = subprocess.run(["exim", "-C", str(d / "e.conf"), "-be", *cases], capture_output=True,
                               text=True, timeout=300)
            p = subprocess.run([tool, "-C", str(d / "p.conf"), "-be", *cases], capture_output=True,
                               text=True, timeout=300)
            results = [e.stdout, p.stdout]
        elif mode in ("csa-bh", "dnslists-bh"):
            for a, ip in cases:
                if mode == "csa-bh":
                    acl = ("acl_smtp_helo = h\nbegin acl\nh:\n  warn verify = csa\n"
                           "       logwrite = CSA [$csa_status] [$acl_verify_message]\n"
                           "  warn !verify = csa\n"
                           "       logwrite = CSA [$csa_status] [$acl_verify_message]\n  accept\n")
                    smtp = f"HELO {a}\r\nQUIT\r\n"
                else:
                    acl = ("acl_smtp_connect = c\nbegin acl\nc:\n"
                           f"  warn dnslists = {a}\n"
                           "       logwrite = ACLRESULT [$dnslist_domain] [$dnslist_matched] "
                           "[$dnslist_value] [$dnslist_text]\n  accept\n")
                    smtp = "QUIT\r\n"
                got = []
                for prog, conf in (("exim", base), (tool, server.config(f"spool_directory = {d}/pspool\n"
                                                                       "exim_user = root\nexim_group = root\n"))):
                    logdir = d / ("pspool" if prog == tool else "spool") / "log"
                    logdir.mkdir(parents=True, exist_ok=True)
                    for f in logdir.glob("*"):
                        f.unlink()
                    (d / "t.conf").write_text(conf + acl)
                    r = subprocess.run([prog, "-C", str(d / "t.conf"), "-bh", ip], input=smtp,
                                       capture_output=True, text=True, timeout=60)
                    text = r.stderr + "".join(f.read_text() for f in logdir.glob("*"))
                    # The logwrite result, not -bh's echo of the unexpanded ACL line.
                    lines = [l for l in text.split("\n") if re.search(r"(CSA|ACLRESULT) \[", l) and "$" not in l]
                    got.append(re.search(r"(?:CSA|ACLRESULT) (\[.*)", lines[0]).group(1) if lines
                               else ("deferred" if "deferred" in text else "none"))
                results.append(got)
        elif mode == "csa":
            (d / "e.conf").write_text(base + "acl_smtp_helo = h\nbegin acl\nh:\n"
                                      "  warn verify = csa\n"
                                      "       logwrite = CSA [$csa_status] [$acl_verify_message]\n"
                                      "  warn !verify = csa\n"
                                      "       logwrite = CSA [$csa_status] [$acl_verify_message]\n"
                                      "  accept\n")
            for helo, ip in cases:
                e = subprocess.run(["exim", "-C", str(d / "e.conf"), "-bh", ip], input=f"HELO {helo}\nQUIT\n",
                                   capture_output=True, text=True, timeout=60)
                m = re.search(r"LOG: .*CSA \[(.*?)\] \[(.*?)\]", e.stderr)
                ex = f"{m.group(1)} [{m.group(2)}]" if m else "no result"
                p = subprocess.run([tool, str(d / "p.conf"), "csa", helo, ip], capture_output=True,
                                   text=True, timeout=60)
                results.append([ex, p.stdout.strip()])
        else:
            for spec, ip in cases:
                (d / "e.conf").write_text(base + "acl_smtp_connect = c\nbegin acl\nc:\n"
                                          f"  warn dnslists = {spec}\n"
                                          "       logwrite = DNSL [$dnslist_domain] [$dnslist_matched] "
                                          "[$dnslist_value] [$dnslist_text]\n  accept\n")
                e = subprocess.run(["exim", "-C", str(d / "e.conf"), "-bh", ip], input="QUIT\n",
                                   capture_output=True, text=True, timeout=60)
                m = re.search(r"LOG: .*DNSL \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(.*?)\]", e.stderr)
                ex = (f"rc=1 {m.group(1)}|{m.group(2)}|{m.group(3)}|{m.group(4)}" if m
                      else "rc=2" if "deferred" in e.stderr else "rc=0")
                p = subprocess.run([tool, str(d / "p.conf"), "dnslists", spec, ip], capture_output=True,
                                   text=True, timeout=60)
                lines = p.stdout.split("\n")
                if lines[0] == "rc=1":
                    kv = dict(l.split("=", 1) for l in lines[1:] if "=" in l)
                    po = f"rc=1 {kv['domain']}|{kv['matched']}|{kv['value']}|{kv['text']}"
                else:
                    po = lines[0]
                results.append([ex, po])
        print(json.dumps(results))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
