"""-bt / -bv on Debian's generated configurations (every dc_eximconfig_configtype, split and
unsplit, with and without relay domains, other host names, smarthosts, hidden mail names) and
Exim's example configuration, replayed from goldens recorded with Exim 4.96 by scripts/btdiff.py
(seeded generated addresses: local users with .forward variants, aliases, unknown users, affixes,
mixed case, quoted local parts, IP literals, remote domains through NSD, -f and -bv variants).

The replay runs Postern alone in the same private namespace the recorder used (unshare -mn: its
own /etc/passwd, aliases, hosts, /etc/exim4 and a resolv.conf pointing at NSD on 127.0.0.1:53), so
Exim is not needed; it needs root, unshare and nsd. To re-record (and compare with a live Exim):
    scripts/btdiff.py compare build/postern --seed 7 --cases 40 --record tests/golden/bt/generated
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "bt" / "generated"
NAMES = sorted(p.stem for p in GOLDEN.glob("*.cases"))


def test_goldens_cover_every_configtype():
    for t in ("local", "internet", "smarthost", "satellite", "none"):
        assert any(n.startswith(f"deb-{t}") for n in NAMES), t
    assert any(n.endswith("-split") for n in NAMES) and "example" in NAMES
    total = sum(len(open(GOLDEN / f"{n}.cases").read().splitlines()) for n in NAMES)
    assert total >= 300


@pytest.mark.parametrize("name", NAMES)
def test_bt_generated_matches_exim(postern_bin, name):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsd"):
        pytest.skip("needs root, unshare and nsd")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "btdiff.py"), "replay", postern_bin, str(GOLDEN),
                        "--only", name], capture_output=True, text=True, timeout=600)
    if r.returncode != 0 and "unshare" in r.stderr:
        pytest.skip("unshare is not permitted here: " + r.stderr.strip())
    assert "TOTAL" in r.stdout, r.stderr
    assert r.returncode == 0, r.stdout[-20000:]
