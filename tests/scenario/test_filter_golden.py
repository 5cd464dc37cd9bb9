"""-bf / -bF against outputs recorded from Exim 4.96 (tests/golden/filter, record.sh).

Each case is a filter file, optional extra options and a message file; Postern must print
exactly what Exim printed and exit with the same status. The outputs were recorded as root
(login "root", home /root, full name "root"), which they show, so the cases run as root only."""
import os
import pathlib
import subprocess

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "filter"
CASES = sorted(p.stem for p in (GOLDEN / "cases").glob("*.filter"))


def case_command(name, conf):
    args, msg = [], "message.eml"
    argfile = GOLDEN / "cases" / (name + ".args")
    if argfile.exists():
        for w in argfile.read_text().split():
            if w.endswith(".eml"):
                msg = w
            else:
                args.append(w)
    mode = "-bF" if "-bF" in args else "-bf"
    args = [a for a in args if a != "-bF"]
    return ["-C", str(conf), mode, name + ".filter"] + args, GOLDEN / msg


@pytest.mark.skipif(os.geteuid() != 0, reason="golden outputs were recorded as root")
@pytest.mark.parametrize("name", CASES)
def test_filter_golden(postern_bin, tmp_path, name):
    conf = tmp_path / "exim.conf"
    conf.write_text((GOLDEN / "exim.conf").read_text().replace("SPOOL", str(tmp_path)))
    args, msg = case_command(name, conf)
    with open(msg, "rb") as stdin:
        proc = subprocess.run([postern_bin] + args, stdin=stdin, cwd=GOLDEN / "cases",
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    got = proc.stdout.decode("utf-8", "replace") + f"rc={proc.returncode}\n"
    want = (GOLDEN / "cases" / (name + ".out")).read_text()
    assert got == want


def test_filter_missing_file(postern_bin, tmp_path):
    conf = tmp_path / "exim.conf"
    conf.write_text((GOLDEN / "exim.conf").read_text().replace("SPOOL", str(tmp_path)))
    proc = subprocess.run([postern_bin, "-C", str(conf), "-bf", str(tmp_path / "nonexistent")],
                          input=b"Subject: x\n\nbody\n", capture_output=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert proc.stderr.decode() == f"exim: failed to open {tmp_path}/nonexistent: No such file or directory\n"

