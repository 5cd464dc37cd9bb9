#!/bin/sh
# Record (or re-check) the expected results of the operator table against a live Exim 4.96.
#
#   tests/unit/ops/record_ops.sh          rewrite ops_cases.tsv from ops_cases.in
#   tests/unit/ops/record_ops.sh --check  compare ops_cases.tsv with what exim prints now
#   CASES=ops_conf_cases CONF=ops_conf.conf tests/unit/ops/record_ops.sh
#                                         the same for the rows that need a configuration
#
# ops_cases.in holds one expansion per line, written exactly as given to `exim -be` (so "\x41"
# escapes and "\{" quoting are Exim's). Each is run in its own exim process, because Exim keeps
# some parser state (address groups) between expansions of one -be run. Output format, one row
# per case:  <expansion> TAB ok|fail TAB <result or error message, escaped: \\ \n \r \t \xHH>
set -eu
here=$(cd "$(dirname "$0")" && pwd)
EXIM=${EXIM:-exim}
CASES=${CASES:-ops_cases}
CONF=${CONF:-}
exec /usr/bin/python3 - "$here" "$EXIM" "${1:-}" "$CASES" "$CONF" <<'PY'
import os, subprocess, sys, tempfile
here, exim, mode, cases, confname = sys.argv[1:6]
if confname:
    conf_path = os.path.join(here, confname)
else:
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    conf.write("# minimal configuration for operator recording\n")
    conf.close()
    conf_path = conf.name

def esc(b):
    out = []
    for c in b:
        if c == 0x5c: out.append("\\\\")
        elif c == 0x0a: out.append("\\n")
        elif c == 0x0d: out.append("\\r")
        elif c == 0x09: out.append("\\t")
        elif c < 0x20 or c >= 0x7f: out.append("\\x%02x" % c)
        else: out.append(chr(c))
    return "".join(out)

rows = []
with open(os.path.join(here, cases + ".in"), encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        r = subprocess.run([exim, "-C", conf_path, "-be", line], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        out = r.stdout
        if out.endswith(b"\n"):
            out = out[:-1]
        if r.returncode != 0 and not out.startswith(b"Failed: "):
            print("skipping (exim exit %d): %s" % (r.returncode, line), file=sys.stderr)
            continue
        if out.startswith(b"Failed: "):
            rows.append("%s\tfail\t%s" % (line, esc(out[8:])))
        else:
            rows.append("%s\tok\t%s" % (line, esc(out)))
if not confname:
    os.unlink(conf_path)
tsv = os.path.join(here, cases + ".tsv")
if mode == "--check":
    old = open(tsv, encoding="utf-8").read().splitlines()
    diff = [(a, b) for a, b in zip(old, rows) if a != b]
    for a, b in diff:
        print("recorded: %s\nexim now: %s" % (a, b))
    print("%d rows, %d differ%s" % (len(rows), len(diff), "" if len(old) == len(rows) else ", row count changed"))
    sys.exit(1 if diff or len(old) != len(rows) else 0)
with open(tsv, "w", encoding="utf-8") as f:
    f.write("\n".join(rows) + "\n")
print("%d rows written to %s" % (len(rows), tsv))
PY
