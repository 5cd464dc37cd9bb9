"""-bt / -bv / -bvs against golden outputs recorded from Exim 4.96 (tests/golden/bt/record.py).

Each configuration in tests/golden/bt/configs is run with the cases in tests/golden/bt/cases and
compared with tests/golden/bt/expected: stdout, stderr and the exit status. Time stamps of the log
lines -bv shows on stderr are the only thing normalised. The Debian and example configurations
route local users through check_local_user, so the cases use accounts every Debian system has
(root, daemon, mail).
"""
import importlib.util
import pathlib
import re

import pytest

from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "bt"
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", re.M)

spec = importlib.util.spec_from_file_location("bt_record", GOLDEN / "record.py")
record = importlib.util.module_from_spec(spec)
spec.loader.exec_module(record)


def split_cases(text):
    """The recorded file as {case header: block}."""
    out = {}
    for block in text.split("### ")[1:]:
        head, _, rest = block.partition("\n")
        out[head] = STAMP.sub("<stamp> ", rest)
    return out


@pytest.mark.parametrize("name", sorted(p.stem for p in (GOLDEN / "cases").glob("*.txt")))
def test_bt_matches_exim(postern_bin, tmp_path, name):
    expected = split_cases((GOLDEN / "expected" / f"{name}.out").read_text())
    got = split_cases(record.render(postern_bin, name, str(tmp_path)))
    assert list(got) == list(expected)
    for case in expected:
        assert got[case] == expected[case], f"{name}: {case}"
