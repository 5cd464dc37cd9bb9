"""Reception rewriting against Exim 4.96: the same messages queued under the same rewrite rules
must give the same -H files (ids, dates and times masked; tests/golden/rewrite_rx/capture.sh)."""
import re
import subprocess
from pathlib import Path

import pytest

GOLD = Path(__file__).resolve().parent.parent / "golden" / "rewrite_rx"


def mask(text):
    """mask.sed's substitutions, applied line by line as sed -E does."""
    rules = []
    for line in (GOLD / "mask.sed").read_text().splitlines():
        m = re.fullmatch(r"s/(.*)/(.*)/(g?)", line)
        rules.append((re.compile(m.group(1)), m.group(2), 0 if m.group(3) else 1))
    out = []
    for line in text.splitlines():
        for pat, rep, count in rules:
            line = pat.sub(rep, line, count=count)
        out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("name", ["m", "m2", "m5", "m6"])
def test_reception_rewrite_matches_exim(postern_bin, tmp_path, name):
    msg = (GOLD / f"msg-{name}").read_bytes()
    p = subprocess.run([postern_bin, "-C", str(GOLD / "rewrite.conf"), f"-DSPOOL={tmp_path}", "-odq",
                        "-f", "fp42@hitch.example", "r1@a.hitch.example", "r2@n.example"],
                       input=msg, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    files = list((tmp_path / "input").glob("*-H"))
    assert len(files) == 1
    got = mask(files[0].read_text())
    want = (GOLD / f"msg-{name}.H").read_text()
    assert got.splitlines() == want.splitlines()
