#!/usr/bin/env python3
"""Differential -bh test: generated configurations and conversations (scripts/bhgen.py) run
through Debian's Exim 4.96 and Postern; replies and LOG: lines must be identical.

    scripts/bhdiff.py [--postern build/postern] [--start 0] [--count 500] [--out /tmp/bhdiff]
                      [--jobs 2] [--record tests/golden/bh/gen --record-count 300]

Each differing case is written to OUT/<seed>.{conf,in,exim,postern}; a summary groups the
differences by the first differing line. --record writes matching cases as goldens (recorded from
Exim) for tests/scenario/test_bh_diff_golden.py, which replays them without Exim.
Run as root (Exim -bh with a private configuration and spool needs it).
"""
import argparse
import collections
import concurrent.futures
import difflib
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bhgen  # noqa: E402
import bhgen_auth  # noqa: E402

EXIM = "/usr/sbin/exim4"


def normalise(text):
    text = re.sub(r"\w{3}, \d\d? \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "<DATE>", text)
    text = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "<ID>", text)
    text = re.sub(r"\bD=[0-9hms.]+", "D=<D>", text)
    text = re.sub(r"\bRT=[0-9hms.]+", "RT=<RT>", text)
    text = re.sub(r"(?m)^LOG: (\d{3} )?\[\d+\] ", "LOG: <PID> ", text)
    # A CRAM-MD5 challenge carries the pid and the time ("<pid.time@host>" in base64).
    text = re.sub(r"(?m)^334 PD[0-9A-Za-z+/=]+(\r?)$", "334 <CRAM-MD5 CHALLENGE>\\1", text)
    # Each run has a temporary directory of its own, which a log line may name (a lookup file).
    text = re.sub(r"/tmp/tmp[0-9a-z_]{8}/", "<TMP>/", text)
    return text.replace("\r\n", "\n")


def run(binary, config, host, data, timeout=20):
    with tempfile.TemporaryDirectory() as spool:
        conf = pathlib.Path(spool) / "test.conf"
        conf.write_text(config)
        sp = pathlib.Path(spool) / "spool"
        sp.mkdir()
        for name, text in bhgen.LOOKUP_FILES.items():
            (pathlib.Path(spool) / name).write_text(text)
        cmd = [binary, "-C", "test.conf", "-DSPOOL=" + str(sp), "-bh", host]
        try:
            p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout, cwd=spool,
                               env=dict(os.environ, TZ="UTC"))
        except subprocess.TimeoutExpired:
            return "<TIMEOUT>\n"
    out = p.stdout.decode("latin-1")
    err = p.stderr.decode("latin-1").splitlines()
    logs = [l for l in err if l.startswith("LOG: ")]
    # A configuration error stops both before any SMTP: compare its text (Exim shows it as a
    # LOG: line, with the log_selector's prefixes, Postern as a log line on stderr).
    for i, l in enumerate(err):
        if "configuration error in line" in l:
            logs = ["CONFIG ERROR: " + l[l.index("configuration error"):]] + err[i + 1:i + 2]
            break
    return normalise(out + "--- log ---\n" + "".join(l + "\n" for l in logs))


def one(seed, postern, wide=False, extra=False, gaps=False, auth=False, msg=False):
    if auth:
        config, host, conv = bhgen_auth.gen_case(seed, msg)
    else:
        config, host, conv = bhgen.gen_case(seed, wide, extra, gaps)
    data = bhgen.conversation_bytes(conv)
    e = run(EXIM, config, host, data)
    p = run(postern, config, host, data)
    return seed, config, host, data, e, p


def signature(e, p):
    """The first differing line pair, with digits folded, to group similar differences."""
    for d in difflib.unified_diff(e.splitlines(), p.splitlines(), n=0, lineterm=""):
        if d.startswith(("---", "+++", "@@")):
            continue
        return re.sub(r"\d+", "N", d)[:100]
    return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default="build/postern")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seeds", help="a file of seed numbers (e.g. the differing cases of a run: "
                    "ls OUT/*.exim) to run instead of --start/--count")
    ap.add_argument("--out", default="/tmp/bhdiff")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--wide", action="store_true",
                    help="the wider generator (more addresses, ACL items, AUTH, BDAT, odd lines)")
    ap.add_argument("--extra", action="store_true",
                    help="also MIME messages and the MIME ACL, regex, PRDR, DSN and SMTPUTF8 parameters, "
                    "${acl} and more verify/control forms (a random stream of its own)")
    ap.add_argument("--gaps", action="store_true",
                    help="what the other modes never generate (scripts/bhgen_gaps.py: expansion items and "
                    "failures in ACL texts, nested ACLs, named lists, limits, controls, crafted headers, "
                    "SIZE=, odd BDAT chunks; a random stream of its own)")
    ap.add_argument("--auth", action="store_true",
                    help="AUTH and what depends on it (scripts/bhgen_auth.py: authenticators, "
                    "$authenticated_id, AUTH= on MAIL, MAIL/RCPT parameters, submission and fake "
                    "controls; a generator of its own, the other mode switches do not apply)")
    ap.add_argument("--msg", action="store_true",
                    help="with --auth: message checks on top (a DATA ACL with verify = header_syntax/"
                    "header_sender/not_blind, $h_* and size variables, fake/queue/submission controls, "
                    "predata and MIME ACLs, message_size_limit, crafted headers; a stream of its own)")
    ap.add_argument("--record", help="directory to write matching cases as goldens")
    ap.add_argument("--record-count", type=int, default=300)
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    postern = str(pathlib.Path(a.postern).resolve())
    groups = collections.defaultdict(list)
    same = 0
    recorded = 0
    if a.seeds:
        seeds = sorted({int(w) for w in re.findall(r"(\d+)(?:\.\w+)?\s", open(a.seeds).read() + "\n")})
    else:
        seeds = list(range(a.start, a.start + a.count))
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        for seed, config, host, data, e, p in ex.map(lambda s: one(s, postern, a.wide, a.extra, a.gaps, a.auth, a.msg), seeds):
            if e == p:
                same += 1
                if a.record and recorded < a.record_count:
                    rec = pathlib.Path(a.record)
                    rec.mkdir(parents=True, exist_ok=True)
                    # --auth goldens are named 400000 + the seed, beside the other modes' own
                    golden = {"seed": seed, "host": host, "config": config,
                              "input": data.decode("latin-1"), "expected": e}
                    if a.auth:
                        golden["mode"] = "auth+msg" if a.msg else "auth"
                    name = seed + (410000 if a.msg else 400000) if a.auth else seed
                    (rec / ("%d.json" % name)).write_text(
                        json.dumps(golden, indent=1) + "\n")
                    recorded += 1
                continue
            base = out / str(seed)
            base.with_suffix(".conf").write_text(config)
            base.with_suffix(".in").write_bytes(data)
            base.with_suffix(".exim").write_text(e)
            base.with_suffix(".postern").write_text(p)
            (out / (str(seed) + ".host")).write_text(host)
            groups[signature(e, p)].append(seed)
    total = len(seeds)
    print("cases %d, identical %d, different %d" % (total, same, total - same))
    for sig, seeds in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print("%4d  %s   e.g. %s" % (len(seeds), sig, " ".join(map(str, seeds[:5]))))
    return 0 if same == total else 1


if __name__ == "__main__":
    sys.exit(main())
