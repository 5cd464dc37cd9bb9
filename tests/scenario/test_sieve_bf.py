"""Sieve filters under -bf against verdicts recorded from Exim 4.96 (tests/golden/sieve,
record.sh): syntax errors with Exim's texts and line numbers, and the result of every test,
comparator, match type, address part and command on a fixed message."""
import pathlib
import subprocess

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "sieve"
CASES = [line.split("\t") for line in (GOLDEN / "expected.txt").read_text().splitlines() if line]


def run_bf(postern_bin, tmp_path, script, message, *extra):
    conf = tmp_path / "exim.conf"
    conf.write_text((GOLDEN / "exim.conf").read_text().replace("SPOOL", str(tmp_path)))
    with open(message, "rb") as stdin:
        return subprocess.run([postern_bin, "-C", str(conf), "-bf", str(script), "-f", "sender@example.net",
                               "-bfl", "root", "-bfd", "vm", *extra], stdin=stdin, cwd=GOLDEN,
                              capture_output=True, timeout=30)


@pytest.mark.parametrize("name,message,verdict", CASES, ids=[c[0] for c in CASES])
def test_sieve_verdict(postern_bin, tmp_path, name, message, verdict):
    proc = run_bf(postern_bin, tmp_path, name + ".sieve", GOLDEN / message)
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0      # Exim exits 0 even after a Sieve error
    assert out.endswith(f'Testing Sieve filter file "{name}.sieve"\n\n{verdict}\n'), out


def test_sieve_bf_header_lines(postern_bin, tmp_path):
    """The lines before the verdict are Exim's (recorded for sem_s1)."""
    proc = run_bf(postern_bin, tmp_path, "sem_s1.sieve", GOLDEN / "message.eml")
    assert proc.stdout.decode() == (
        "Return-path copied from sender\n"
        "Sender      = sender@example.net\n"
        "Recipient   = root@vm\n"
        'Testing Sieve filter file "sem_s1.sieve"\n\n'
        "No implicit keep\n")


def test_sieve_stop_hides_later_error(postern_bin, tmp_path):
    """Exim interprets while it parses: a syntax error after an executed stop is never seen,
    one in a branch not taken still is."""
    script = tmp_path / "s"
    script.write_text('# Sieve filter\nif true { stop; }\nbogus;\n')
    assert run_bf(postern_bin, tmp_path, script, GOLDEN / "message.eml").stdout.endswith(b"\nImplicit keep\n")
    script.write_text('# Sieve filter\nif false { stop; }\nbogus;\n')
    assert run_bf(postern_bin, tmp_path, script, GOLDEN / "message.eml").stdout.endswith(
        b"\nSieve error: syntax error in line 3\n")
