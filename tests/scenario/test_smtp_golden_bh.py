"""Golden -bh transcripts recorded from Exim 4.96 (scripts/record-golden-bh.py), replayed against
postern: stdout and the LOG: lines must be identical after the variable bits are normalised."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "golden" / "bh"))
import bhcase  # noqa: E402


@pytest.mark.parametrize("case", bhcase.cases(), ids=lambda p: p.stem)
def test_golden_bh(postern_bin, case):
    expected = (bhcase.HERE / "expected" / (case.stem + ".out")).read_text()
    assert bhcase.run_case(postern_bin, case) == expected
