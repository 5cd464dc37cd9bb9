"""Generated -bh cases recorded from Exim 4.96 (scripts/bhdiff.py --record tests/golden/bh/gen):
configurations and conversations from the seeded generator scripts/bhgen.py, each with Exim's
replies and LOG: lines. Postern must give the same transcript after the same normalisation
(dates, message ids, durations, pids). Runs without Exim. Cases marked "dns" (dnslists, from
scripts/bhdns.py) run Postern in a private namespace where NSD serves the block lists."""
import json
import os
import pathlib
import shutil
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import bhdiff  # noqa: E402
import bhdns  # noqa: E402

GEN = ROOT / "tests" / "golden" / "bh" / "gen"
CASES = sorted(GEN.glob("*.json"), key=lambda p: int(p.stem)) if GEN.is_dir() else []


def test_goldens_present():
    assert len(CASES) >= 250


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bh_generated_golden(postern_bin, path):
    case = json.loads(path.read_text())
    if case.get("dns"):
        # dnslists cases (scripts/bhdns.py): NSD on 127.0.0.1:53 in a private namespace
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsd"):
            pytest.skip("needs root, unshare and nsd")
        assert bhdns.replay(postern_bin, case) == case["expected"]
        return
    got = bhdiff.run(postern_bin, case["config"], case["host"], case["input"].encode("latin-1"))
    assert got == case["expected"]
