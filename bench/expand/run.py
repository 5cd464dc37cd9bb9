#!/usr/bin/env python3
"""Expansion benchmark: the same large -be input through `postern -be` and `exim -be`.

The input is the lookup-free, deterministic subset of the golden corpus (tests/golden/expand),
repeated until it has --lines lines (default 50,000).  Prints wall-clock times (best of
--repeat runs) and the postern/exim ratio; then, if valgrind is installed and --callgrind-lines
is not 0, the instruction counts (callgrind "Collected") of both on a smaller input.

Usage: bench/expand/run.py [--postern PATH] [--exim PATH] [--lines N] [--repeat N]
                           [--callgrind-lines N] [--keep-input FILE]
"""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "golden" / "expand"))
import goldenlib  # noqa: E402

# Cases that touch files, sockets, other processes, the clock or per-file configuration are left
# out: the benchmark measures the expansion engine, not I/O.
EXCLUDE_FILES = {"lookups.be", "lookups-json.be", "taint.be", "macros.be"}
EXCLUDE_TEXT = re.compile(r"@DATA@|@TMP@|\$\{(lookup|run|readsocket|readfile|dlfunc|perl|acl|"
                          r"stat)\b|\b(pam|saslauthd|radius|ldapauth|pwcheck|exists)\{|\$tod_|\$pid"
                          r"|randint|\bsrs_encode|\bprvs\{|;/|lsearch;")


def bench_cases():
    cases = []
    for be in goldenlib.corpus_files():
        if be.name in EXCLUDE_FILES:
            continue
        for case in goldenlib.parse_cases(be):
            if case.text.strip() in goldenlib.VOLATILE or EXCLUDE_TEXT.search(case.text):
                continue
            if any(line[:1].isupper() for line in case.lines):   # could define a macro
                continue
            cases.append(case.text)
    return cases


def make_input(cases, lines):
    out, count = [], 0
    while count < lines:
        for text in cases:
            out.append(text)
            count += text.count("\n") + 1
            if count >= lines:
                break
    return ("\n".join(out) + "\n").encode("utf-8", "surrogateescape")


def timed(cmd, data, repeat):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, input=data, capture_output=True)
        elapsed = time.perf_counter() - start
        if proc.returncode < 0:
            return None, f"died with signal {-proc.returncode}"
        best = elapsed if best is None else min(best, elapsed)
    return best, proc.stdout.count(b"\n> ") + 1


def callgrind(cmd, data, scratch):
    """Instruction count of one run.  valgrind refuses setuid programs (Debian's exim is one), so
    such a binary is run from a copy without the setuid bit."""
    if shutil.which("valgrind") is None:
        return None
    binary = shutil.which(cmd[0]) or cmd[0]
    if os.stat(binary).st_mode & 0o6000:
        copy = pathlib.Path(scratch) / (pathlib.Path(binary).name + "-nosuid")
        shutil.copy(binary, copy)
        os.chmod(copy, 0o755)
        cmd = [str(copy)] + cmd[1:]
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           "--trace-children=no"] + cmd, input=data, capture_output=True)
    m = re.search(rb"Collected\s*:\s*(\d+)", proc.stderr)
    return int(m.group(1)) if m else None


def is_placeholder(postern):
    proc = subprocess.run([postern, "-be"], input=b"x\n", capture_output=True)
    return b"not built yet" in proc.stdout + proc.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--postern", default=os.environ.get("POSTERN", str(ROOT / "build" / "postern")))
    ap.add_argument("--exim", default="exim")
    ap.add_argument("--lines", type=int, default=50000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--callgrind-lines", type=int, default=5000)
    ap.add_argument("--keep-input", help="also write the generated input to this file")
    args = ap.parse_args()

    cases = bench_cases()
    data = make_input(cases, args.lines)
    if args.keep_input:
        pathlib.Path(args.keep_input).write_bytes(data)
    print(f"input: {len(cases)} distinct cases repeated to {args.lines} lines "
          f"({len(data)} bytes)")

    workdir = goldenlib.Workdir()
    try:
        conf = str(workdir.config(goldenlib.HERE / "default.be"))
        binaries = [("exim", args.exim)]
        if not os.path.exists(args.postern):
            print(f"postern: {args.postern} does not exist; build it first")
        elif is_placeholder(args.postern):
            print("postern: -be is still the 'not built yet' placeholder; timing exim only")
        else:
            binaries.insert(0, ("postern", args.postern))

        times = {}
        for name, binary in binaries:
            secs, info = timed([binary, "-C", conf, "-be"], data, args.repeat)
            if secs is None:
                print(f"{name:8} {info}")
                continue
            times[name] = secs
            print(f"{name:8} {secs:8.3f} s  ({args.lines / secs:,.0f} lines/s, {info} results)")
        if len(times) == 2:
            print(f"ratio    postern/exim = {times['postern'] / times['exim']:.2f}")

        if args.callgrind_lines > 0:
            small = make_input(cases, args.callgrind_lines)
            counts = {}
            for name, binary in binaries:
                counts[name] = callgrind([binary, "-C", conf, "-be"], small, workdir.root)
                if counts[name] is None:
                    print(f"callgrind {name}: not available (valgrind missing or no summary)")
                else:
                    print(f"callgrind {name:8} {counts[name]:,} instructions "
                          f"for {args.callgrind_lines} lines")
            if all(counts.get(n) for n in ("postern", "exim")):
                print(f"callgrind ratio postern/exim = {counts['postern'] / counts['exim']:.2f}")
    finally:
        workdir.cleanup()


if __name__ == "__main__":
    main()
