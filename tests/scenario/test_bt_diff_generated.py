"""-bt / -bv on Debian's generated configurations (every dc_eximconfig_configtype, split and
unsplit, with and without relay domains, other host names, smarthosts, hidden mail names) and
Exim's example configuration, replayed from goldens recorded with Exim 4.96 by scripts/btdiff.py
(seeded generated addresses: local users with .forward variants, aliases, unknown users, affixes,
mixed case, quoted local parts, IP literals, remote domains through NSD, -f and -bv variants).

The replay runs Postern alone in the same private namespace the recorder used (unshare -mn: its
own /etc/passwd, aliases, hosts, /etc/exim4 and a resolv.conf pointing at NSD on 127.0.0.1:53), so
Exim is not needed; it needs root, unshare and nsd. To re-record (and compare with a live Exim):
    scripts/btdiff.py compare build/postern --seed 7 --cases 40 --record tests/golden/bt/generated
generated2/ is the second sweep (generator 2: source routes, comma lists in one argument, comments,
groups, quoting, escapes, over-long and 8-bit addresses, IDN and numeric domains, :include:, empty
:fail:, blackholes in lists, filter errors under skip_syntax_errors; six more Debian configurations):
    scripts/btdiff.py compare build/postern --gen 2 --seed 31 --cases 60 --record tests/golden/bt/generated2
(the "-dns" configurations, example-dns and deb-internet-dns, are a fixed list: every name of the
test zones, MX, no MX, null MX, CNAME, SRV, AAAA only, MX to ourselves or to ignored hosts).
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "bt" / "generated"
GOLDEN2 = ROOT / "tests" / "golden" / "bt" / "generated2"
NAMES = sorted(p.stem for p in GOLDEN.glob("*.cases"))
RUNS = [(GOLDEN, n) for n in NAMES] + [(GOLDEN2, p.stem) for p in sorted(GOLDEN2.glob("*.cases"))]


def test_goldens_cover_every_configtype():
    for t in ("local", "internet", "smarthost", "satellite", "none"):
        assert any(n.startswith(f"deb-{t}") for n in NAMES), t
    assert any(n.endswith("-split") for n in NAMES) and "example" in NAMES
    total = sum(len(open(GOLDEN / f"{n}.cases").read().splitlines()) for n in NAMES)
    assert total >= 300


def test_second_sweep_covers_the_other_debconf_answers():
    names = {p.stem for p in GOLDEN2.glob("*.cases")}
    assert {"deb-local-maildir-split", "deb-internet-relaynets", "deb-smarthost-multi", "deb-smarthost-mx",
            "deb-satellite-nohide", "deb-none-split"} <= names
    cases = "".join((GOLDEN2 / f"{n}.cases").read_text() for n in names)
    for form in ("@localhost:", ", btuser@vm", "(a comment)", "group: ", "xxxxxxxxxx", "bücher.test", "1.2.3.4"):
        assert form in cases, form
    assert {"example-dns", "deb-internet-dns"} <= names


@pytest.mark.parametrize("golden,name", RUNS, ids=[f"{g.name}-{n}" for g, n in RUNS])
def test_bt_generated_matches_exim(postern_bin, golden, name):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsd"):
        pytest.skip("needs root, unshare and nsd")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "btdiff.py"), "replay", postern_bin, str(golden),
                        "--only", name], capture_output=True, text=True, timeout=600)
    if r.returncode != 0 and "unshare" in r.stderr:
        pytest.skip("unshare is not permitted here: " + r.stderr.strip())
    assert "TOTAL" in r.stdout, r.stderr
    assert r.returncode == 0, r.stdout[-20000:]
