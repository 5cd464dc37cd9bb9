#!/usr/bin/env python3
"""Record one hand-written -bh case from Debian's Exim 4.96 as a golden for
tests/scenario/test_bh_diff_golden.py (the same JSON as scripts/bhdiff.py --record writes).

    scripts/bhrecord.py --id 230001 --host 1.2.3.4 --conf case.conf --input case.in \
        [--postern build/postern] [--before /path/to/older/postern]

The configuration names its spool "SPOOL" (spool_directory = SPOOL); the input is sent as it is
(write the CRLFs into the file). With --before, the older binary must differ from Exim (the case
shows the fix) and --postern must match it; otherwise nothing is written.
Run as root (Exim -bh with a private configuration and spool needs it).
"""
import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bhdiff  # noqa: E402

GEN = pathlib.Path(__file__).resolve().parents[1] / "tests" / "golden" / "bh" / "gen"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--id", type=int, required=True, help="the file name (a number not used by the generator)")
    ap.add_argument("--host", default="1.2.3.4")
    ap.add_argument("--conf", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--postern", default="build/postern")
    ap.add_argument("--before")
    a = ap.parse_args()
    config = pathlib.Path(a.conf).read_text()
    data = pathlib.Path(a.input).read_bytes()
    expected = bhdiff.run(bhdiff.EXIM, config, a.host, data)
    now = bhdiff.run(str(pathlib.Path(a.postern).resolve()), config, a.host, data)
    ok = True
    if now != expected:
        print("%d: postern differs from Exim:\n--- exim\n%s--- postern\n%s" % (a.id, expected, now))
        ok = False
    if a.before and bhdiff.run(a.before, config, a.host, data) == expected:
        print("%d: the older binary already matches Exim" % a.id)
        ok = False
    if not ok:
        return 1
    (GEN / ("%d.json" % a.id)).write_text(json.dumps(
        {"seed": a.id, "host": a.host, "config": config, "input": data.decode("latin-1"),
         "expected": expected}, indent=1) + "\n")
    print("%d: recorded" % a.id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
