"""-brw against Exim 4.96's output for the same rewrite rules (tests/golden/brw: capture.sh)."""
import re
import subprocess
from pathlib import Path

GOLD = Path(__file__).resolve().parent.parent / "golden" / "brw"


def run_all(postern_bin, tmp_path):
    out = []
    for a in (GOLD / "addresses").read_text().splitlines():
        p = subprocess.run([postern_bin, "-C", str(GOLD / "rewrite.conf"), f"-DSPOOL={tmp_path}",
                            "-brw", a], capture_output=True, text=True, timeout=30)
        out.append(f"=== {a}\n")
        # Exim writes its log lines to stderr before the answer; so do we.
        out.append(p.stderr + p.stdout)
        out.append(f"rc={p.returncode}\n")
    return re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "TIMESTAMP ", "".join(out))


def test_brw_matches_exim(postern_bin, tmp_path):
    got = run_all(postern_bin, tmp_path).splitlines()
    want = (GOLD / "expected.txt").read_text().splitlines()
    assert len(got) == len(want)
    diffs = [(i, w, g) for i, (w, g) in enumerate(zip(want, got)) if w != g]
    assert not diffs, diffs[:5]


def test_brw_needs_address(postern_bin, tmp_path):
    p = subprocess.run([postern_bin, "-C", str(GOLD / "rewrite.conf"), f"-DSPOOL={tmp_path}", "-brw"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "-brw needs an address argument" in p.stderr
