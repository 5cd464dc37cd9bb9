#!/usr/bin/env python3
"""Differential -bh test of dnslists against a real DNS server, for Exim 4.96 and Postern.

Exim cannot be told to use a DNS server on a private port, so this runs both in a private
network and mount namespace (unshare -m -n, as root): NSD answers on 127.0.0.1:53 with the test
zones of tests/scenario/dns_server.py (bl.test is the block list), and /etc/resolv.conf is
bind-mounted, inside the namespace only, to a file naming 127.0.0.1. Nothing outside changes.

    scripts/bhdns.py [--postern build/postern] [--start 0] [--count 200] [--out /tmp/bhdns]
                     [--record tests/golden/bh/gen --record-from 240000]

Configurations and conversations are generated from the seed (dnslists forms: plain, =, ==, !=,
&, explicit keys, !dnslists, a zone the server refuses; the $dnslist_* variables in messages).
Differing cases go to OUT/<seed>.{conf,in,exim,postern}. --record writes matching cases as
goldens (test_bh_diff_golden.py replays them; Postern gets the server through the namespace
there too, see the golden's "dns" flag).
"""
import argparse
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "scenario"))
import bhdiff  # noqa: E402

HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.9", "192.0.2.1", "2001:db8::1"]
LISTS = [
    "bl.test", "bl.test=127.0.0.2", "bl.test=127.0.0.3,127.0.0.10", "bl.test==127.0.0.3,127.0.0.10",
    "bl.test!=127.0.0.2", "bl.test!==127.0.0.3", "bl.test&0.0.0.2", "bl.test!&0.0.0.2",
    "bl2.test", "bl.test/example.com", "bl.test/$sender_address_domain", "bl.test=127.0.0.2/example.com",
    "nosuch.test", "refused.invalid", "bl.test : bl2.test", "bl2.test : bl.test=127.0.0.10",
    "bl.test/<;127.0.0.2;127.0.0.9",
]
VERBS = ["deny", "warn", "accept", "defer", "require", "drop"]
MESSAGES = [
    "", "message = listed in $dnslist_domain ($dnslist_value): $dnslist_text",
    "message = $dnslist_matched at $dnslist_domain",
    "log_message = dns $dnslist_domain=$dnslist_value",
]


def gen_case(seed):
    rnd = random.Random(seed)
    host = rnd.choice(HOSTS)
    stmts = []
    for _ in range(rnd.randint(1, 4)):
        verb = rnd.choice(VERBS)
        neg = "!" if rnd.random() < 0.2 else ""
        s = "  %s %sdnslists = %s" % (verb, neg, rnd.choice(LISTS))
        m = rnd.choice(MESSAGES)
        if verb == "warn" and m.startswith("message"):
            m = "log" + m
        if m:
            s += "\n       " + m
        if rnd.random() < 0.3:
            s += "\n       logwrite = after $dnslist_domain $dnslist_value"
        stmts.append(s)
    if rnd.random() < 0.3:
        stmts.append("  warn acl = nested")
    stmts.append("  accept")
    where = rnd.choice(["rcpt", "mail", "connect"])
    config = ("spool_directory = SPOOL\nexim_user = root\nexim_group = root\n"
              "primary_hostname = mail.example.com\ntls_advertise_hosts =\n"
              "acl_smtp_%s = check\nbegin acl\ncheck:\n%s\n"
              "nested:\n  defer dnslists = %s\n  accept\n") % (where, "\n".join(stmts), rnd.choice(LISTS))
    conv = "EHLO client.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"
    if rnd.random() < 0.5:
        conv += "RCPT TO:<c@example.org>\r\n"
    conv += "QUIT\r\n"
    return config, host, conv.encode()


def inside(a):
    """Runs in the namespace: loopback up, private resolv.conf, NSD on port 53, then the cases."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bhdns-"))
    (tmp / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    subprocess.run(["mount", "--bind", str(tmp / "resolv.conf"), "/etc/resolv.conf"], check=True)
    import dns_server
    dns_server._free_port = lambda: 53
    srv = dns_server.DnsServer(tmp).start()
    try:
        if a.replay:
            case = json.loads(sys.stdin.read())
            out = bhdiff.run(a.postern, case["config"], case["host"], case["input"].encode("latin-1"))
            sys.stdout.write(json.dumps(out))
            return 0
        return compare(a)
    finally:
        srv.stop()


def compare(a):
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    same, recorded, groups = 0, 0, {}
    seeds = [int(x) for x in a.seeds.split(",")] if a.seeds else range(a.start, a.start + a.count)
    a.count = len(seeds)
    for seed in seeds:
        config, host, data = gen_case(seed)
        e = bhdiff.run(bhdiff.EXIM, config, host, data)
        p = bhdiff.run(a.postern, config, host, data)
        if e == p:
            same += 1
            if a.record:
                n = a.record_from + recorded
                (pathlib.Path(a.record) / ("%d.json" % n)).write_text(json.dumps(
                    {"seed": n, "dns": True, "host": host, "config": config, "input": data.decode("latin-1"),
                     "expected": e}, indent=1) + "\n")
                recorded += 1
            continue
        base = out / str(seed)
        base.with_suffix(".conf").write_text(config)
        base.with_suffix(".in").write_bytes(data)
        base.with_suffix(".exim").write_text(e)
        base.with_suffix(".postern").write_text(p)
        (out / (str(seed) + ".host")).write_text(host)
        groups.setdefault(bhdiff.signature(e, p), []).append(seed)
    print("cases %d, identical %d, different %d" % (a.count, same, a.count - same))
    for sig, seeds in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print("%4d  %s   e.g. %s" % (len(seeds), sig, " ".join(map(str, seeds[:5]))))
    return 0 if same == a.count else 1


def replay(postern, case):
    """Postern's transcript of a recorded dnslists case, run in a fresh namespace."""
    p = subprocess.run(["unshare", "-m", "-n", sys.executable, str(HERE / "bhdns.py"), "--inside", "--replay",
                        "--postern", postern], input=json.dumps(case).encode(), capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode(errors="replace")[-2000:])
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default="build/postern")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--out", default="/tmp/bhdns")
    ap.add_argument("--seeds", help="comma-separated seeds instead of --start/--count")
    ap.add_argument("--record")
    ap.add_argument("--record-from", type=int, default=240000)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--replay", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.postern = str(pathlib.Path(a.postern).resolve())
    if a.inside:
        return inside(a)
    if os.geteuid() != 0:
        print("run as root (unshare, mount, Exim -bh)")
        return 2
    args = [sys.executable, str(HERE / "bhdns.py"), "--inside"] + sys.argv[1:]
    return subprocess.run(["unshare", "-m", "-n"] + args).returncode


if __name__ == "__main__":
    sys.exit(main())
