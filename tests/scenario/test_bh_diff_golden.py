"""Generated -bh cases recorded from Exim 4.96 (scripts/bhdiff.py --record tests/golden/bh/gen):
configurations and conversations from the seeded generator scripts/bhgen.py, each with Exim's
replies and LOG: lines. Postern must give the same transcript after the same normalisation
(dates, message ids, durations, pids). Runs without Exim."""
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import bhdiff  # noqa: E402

GEN = ROOT / "tests" / "golden" / "bh" / "gen"
CASES = sorted(GEN.glob("*.json"), key=lambda p: int(p.stem)) if GEN.is_dir() else []


def test_goldens_present():
    assert len(CASES) >= 100


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bh_generated_golden(postern_bin, path):
    case = json.loads(path.read_text())
    got = bhdiff.run(postern_bin, case["config"], case["host"], case["input"].encode("latin-1"))
    assert got == case["expected"]
