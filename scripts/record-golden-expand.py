#!/usr/bin/env python3
"""Record the golden expansion corpus from the reference Exim 4.96.

For every tests/golden/expand/X.be this runs `exim -C X.conf -be < X.be` (after placeholder
substitution and with separator lines between cases, see goldenlib.py) and writes X.out: one line
per case.  By default every file is recorded twice and the two recordings must be identical
(determinism check); --once skips the second run.

Usage: scripts/record-golden-expand.py [--exim PATH] [--once] [FILE.be ...]
"""
import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "golden" / "expand"))
import goldenlib  # noqa: E402


def lint(be, cases):
    """Refuse cases that would confuse the splitter; warn about accidental macro lines (a line
    starting with an upper-case letter is macro-processed by Exim, and may define a macro)."""
    for case in cases:
        if goldenlib.SEPARATOR in case.text:
            raise SystemExit(f"{case.where}: case contains the separator text")
        if case.lines[0][:1].isupper() and not be.name.startswith("macros"):
            print(f"warning: {case.where}: starts with an upper-case letter (macro processing)")


def record(exim, workdir, be):
    cases = goldenlib.parse_cases(be)
    lint(be, cases)
    results, stderr, rc, _ = goldenlib.run_be(exim, workdir, be, cases)
    missing = [c.where for c, r in zip(cases, results) if r is None]
    if missing:
        raise SystemExit(f"{be.name}: reference produced no result for {missing[:5]} "
                         f"(rc={rc}, stderr: {stderr.strip()[:400]})")
    lines = [goldenlib.encode_result(c, r) for c, r in zip(cases, results)]
    return "\n".join(lines) + "\n", len(cases)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--exim", default="exim", help="reference binary (default: exim on PATH)")
    ap.add_argument("--once", action="store_true", help="record once, skip the determinism check")
    ap.add_argument("files", nargs="*", help=".be files or their stems (default: all)")
    args = ap.parse_args()
    files = goldenlib.corpus_files(set(args.files) if args.files else None)
    if not files:
        raise SystemExit("no .be files selected")
    total = 0
    for be in files:
        runs = []
        for _ in range(1 if args.once else 2):
            workdir = goldenlib.Workdir()
            try:
                if workdir.unavailable:
                    raise SystemExit(f"cannot build {sorted(workdir.unavailable)} databases here; "
                                     "recording needs them all")
                runs.append(record(args.exim, workdir, be))
            finally:
                workdir.cleanup()
        if len(runs) == 2 and runs[0] != runs[1]:
            a, b = runs[0][0].split("\n"), runs[1][0].split("\n")
            diff = [f"  case {i + 1}: {x!r} vs {y!r}" for i, (x, y) in enumerate(zip(a, b)) if x != y]
            raise SystemExit(f"{be.name}: two recordings differ (add to VOLATILE or fix the case):\n"
                             + "\n".join(diff[:10]))
        out, count = runs[0]
        be.with_suffix(".out").write_text(out, encoding="utf-8", errors="surrogateescape")
        total += count
        print(f"{be.name}: {count} cases recorded")
    print(f"total: {total} cases in {len(files)} files")


if __name__ == "__main__":
    main()
