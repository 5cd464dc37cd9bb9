#!/usr/bin/env python3
"""Regenerate tests/golden/expand/known_passing.txt (the golden expansion ratchet) from a run of
postern -be over the corpus, or just report the current state.

Usage: scripts/golden-ratchet.py [--postern PATH] [--margin PCT] [--report] [--diffs N]
  --postern  binary to run (default: $POSTERN, else build/postern)
  --margin   percentage points subtracted from the current pass rate for min_pass_rate (default 0)
  --report   print the summary and differing cases; do not write the ratchet
  --diffs    how many differing cases to print (default 20)
Writing refuses to drop cases that the current ratchet lists as passing unless --allow-regress.
"""
import argparse
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "golden" / "expand"))
import goldenlib  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--postern", default=os.environ.get("POSTERN", str(ROOT / "build" / "postern")))
    ap.add_argument("--margin", type=float, default=0.0)
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--diffs", type=int, default=20)
    ap.add_argument("--allow-regress", action="store_true")
    ap.add_argument("files", nargs="*", help="restrict the report to these .be files")
    args = ap.parse_args()
    if args.files and not args.report:
        raise SystemExit("a partial run can only be reported (--report), not written as the ratchet")

    run = goldenlib.run_corpus(args.postern, set(args.files) if args.files else None)
    passed, total, rate = run.summary()
    print(f"golden expand: {passed}/{total} lines equal ({rate:.1f}%)")
    for name, (p, t) in run.per_file().items():
        print(f"  {name:20} {p:5}/{t}")
    for problem in run.problems:
        print("problem: " + problem)
    failures = [r for r in run.results if r.status == "fail"]
    for r in failures[:args.diffs]:
        print(r.describe())
    if args.report:
        return
    if passed == 0:
        raise SystemExit("nothing passes; refusing to write an empty ratchet")
    _, known = goldenlib.read_ratchet()
    all_ids = {r.id for r in run.results}
    lost = sorted(known & all_ids - run.passing_ids())
    if lost and not args.allow_regress:
        raise SystemExit(f"{len(lost)} cases in the current ratchet now fail (first: {lost[:3]}); "
                         "fix them or pass --allow-regress")
    min_rate = goldenlib.write_ratchet(run, margin=args.margin)
    print(f"wrote {goldenlib.RATCHET.relative_to(ROOT)}: {passed} cases, min_pass_rate {min_rate}")


if __name__ == "__main__":
    main()
