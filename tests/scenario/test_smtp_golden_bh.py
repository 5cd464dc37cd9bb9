"""Golden -bh transcripts recorded from Exim 4.96 (scripts/record-golden-bh.py), replayed against
postern: stdout and the LOG: lines must be identical after the variable bits are normalised.
Cases listed in tests/golden/bh/known-differences.txt are expected to differ (strict xfail)."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "golden" / "bh"))
import bhcase  # noqa: E402

KNOWN = {}
for line in (bhcase.HERE / "known-differences.txt").read_text().splitlines():
    if line.strip() and not line.startswith("#"):
        name, _, reason = line.partition(" ")
        KNOWN[name] = reason


def params():
    for case in bhcase.cases():
        marks = [pytest.mark.xfail(reason=KNOWN[case.stem], strict=True)] if case.stem in KNOWN else []
        yield pytest.param(case, id=case.stem, marks=marks)


@pytest.mark.parametrize("case", params())
def test_golden_bh(postern_bin, case):
    expected = (bhcase.HERE / "expected" / (case.stem + ".out")).read_text()
    assert bhcase.run_case(postern_bin, case) == expected
