"""Differential tests: the same dnsdb expansions and dnslists conditions evaluated by Exim 4.96
and by Postern against the same NSD zones (dns_exim_compare.py, inside a private network and
mount namespace so that Exim's /etc/resolv.conf can point at the test server). Skipped unless
running as root with unshare and exim available."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from test_dns_host import CSA, DNSLISTS
from test_dns_lookup import CASES

HERE = pathlib.Path(__file__).parent


def run_compare(mode, tool, cases, tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("exim") \
            or not shutil.which("nsd"):
        pytest.skip("needs root, unshare, exim and nsd")
    f = tmp_path / "cases.json"
    f.write_text(json.dumps(cases))
    r = subprocess.run(["unshare", "-mn", sys.executable, str(HERE / "dns_exim_compare.py"), mode, tool,
                        str(f)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0 and "unshare" in r.stderr:
        pytest.skip("unshare is not permitted here: " + r.stderr.strip())
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_dnsdb_same_as_exim(postern_bin, tmp_path):
    exprs = [c[0] for c in CASES] + ["${lookup dnsdb{>| big.test}}", "${lookup dnsdb{>, zns=a.sub.zone.test}}",
                                     "${lookup dnsdb{}{$value}{fail}}"]
    # Not compared: "${lookup dnsdb{>}}" - Exim 4.96 reads past the end of the query there (its
    # result varies from run to run); Postern treats it as an empty key list (lookup fails).
    exim_out, postern_out = run_compare("be", postern_bin, exprs, tmp_path)
    assert postern_out.split("\n") == exim_out.split("\n")


def test_dnslists_same_as_exim(postern_bin, tmp_path):
    probe = str(pathlib.Path(postern_bin).parent / "tests" / "unit" / "dns" / "dns_probe")
    # Exim -bh shows an IPv6 client address in full form; give it the same text.
    cases = [[spec, ip] for spec, ip, _ in DNSLISTS if ip and ip != "2001:db8::1"]
    cases.append(["bl.test", "2001:0db8:0000:0000:0000:0000:0000:0001"])
    results = run_compare("dnslists", probe, cases, tmp_path)
    diffs = [(c, r) for c, r in zip(cases, results) if r[0] != r[1]]
    assert diffs == []


def test_verify_csa_same_as_exim(postern_bin, tmp_path):
    probe = str(pathlib.Path(postern_bin).parent / "tests" / "unit" / "dns" / "dns_probe")
    cases = [[d, ip] for d, ip, _ in CSA]
    results = run_compare("csa", probe, cases, tmp_path)
    diffs = [(c, r) for c, r in zip(cases, results) if r[0] != r[1]]
    assert diffs == []


def need_bh(postern_bin):
    probe = subprocess.run([postern_bin, "-bh", "127.0.0.1"], input="QUIT\r\n", capture_output=True,
                           text=True, timeout=30)
    if "not built yet" in probe.stdout + probe.stderr:
        pytest.skip("postern -bh is not built yet")


def test_acl_engine_dnslists_same_as_exim(postern_bin, tmp_path):
    """The same dnslists ACL through `postern -bh` and `exim -bh`: the ACL engine's condition and
    $dnslist_* variables on top of this DNS layer."""
    need_bh(postern_bin)
    cases = [[spec, ip] for spec, ip, _ in DNSLISTS if ip and ":" not in ip]
    results = run_compare("dnslists-bh", postern_bin, cases, tmp_path)
    assert [(c, r) for c, r in zip(cases, results) if r[0] != r[1]] == []


# Known differences of the ACL engine (src/core/acl_csa.c, not the DNS layer) on main at the time
# of writing: $acl_verify_message is empty after verify=csa; a REFUSED SRV lookup gives "unknown"
# where Exim says "defer"; a parent's port-bit assertion gives "fail" where Exim 4.96 says
# "unknown". dns_verify_csa() in src/core/dns_csa.c matches Exim on all of them.
@pytest.mark.xfail(reason="ACL engine CSA differences listed above", strict=False)
def test_acl_engine_csa_same_as_exim(postern_bin, tmp_path):
    need_bh(postern_bin)
    cases = [[d, ip] for d, ip, _ in CSA]
    results = run_compare("csa-bh", postern_bin, cases, tmp_path)
    assert [(c, r) for c, r in zip(cases, results) if r[0] != r[1]] == []
