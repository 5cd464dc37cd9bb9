"""Option combinations Exim 4.96 refuses before reading its configuration, compared live.

Each command line runs through Exim and Postern with the same private configuration; both
must refuse it with "exim: incompatible command-line options or arguments" and status 1, or
both must not print that refusal (the combinations that Exim accepts are in the table too,
so the check cannot pass by refusing everything).
"""
import os
import pathlib
import shutil
import signal
import subprocess

import pytest

EXIM = shutil.which("exim")
pytestmark = pytest.mark.skipif(EXIM is None or os.geteuid() != 0,
                                reason="needs root and Exim 4.96 for the comparison")

REFUSAL = "exim: incompatible command-line options or arguments"
MID = "1xUwnX-0007mi-05"

# (command line, whether Exim refuses it) - the expectation is checked against live Exim too.
CASES = [
    # queue runs with anything that receives a message or tests something
    ("-q -bs", True), ("-bs -q", True), ("-qGfoo -bs", True), ("-qf -bS", True),
    ("-qq -t", True), ("-qi -bt x@y", True), ("-q -bv x@y", True), ("-q -bvs x@y", True),
    ("-q -bdf -oX 42525", True), ("-qGfoo -bdf -oX 42525", True), ("-R x -bs", True),
    ("-S x -t", True), ("-R x x@y", True), ("-q -f a@b -bs", True),
    # a queue run with a time (a queue-runner daemon) does nothing else
    ("-q5m -bs", True), ("-bs -q5m", True), ("-q5m x@y", True), ("-q5m -bt", True),
    ("-q5m -bP", True), ("-q5m -bp", True), ("-q5m -be", True), ("-qGfoo/5m -bh 1.2.3.4", True),
    ("-q5m -bF /dev/null", True), ("-q5m -brw x", True), (f"-q5m -M {MID}", True),
    ("-q5m -f a@b", True), ("-q5m -bem /dev/null", True),
    # the listening daemon likewise
    ("-bdf -oX 42525 -bs", True), ("-bdf -oX 42525 x@y", True), ("-bdf -oX 42525 -bP", True),
    ("-bdf -oX 42525 -f a@b", True), ("-bp -bdf -oX 42525", True), ("-be -bdf -oX 42525", True),
    # SMTP input, -t, address tests, -bP, -M among themselves
    ("-bs -t", True), ("-bs -bt", True), ("-bS -bv", True), ("-bs -bP", True), ("-bs -brw x", True),
    (f"-bs -M {MID}", True), ("-bs -f a@b", True), ("-bS -bf /dev/null", True),
    ("-t -bt", True), ("-t -bP", True), ("-t -brw x", True), (f"-t -Mrm {MID}", True),
    ("-bF /dev/null x@y", True), ("-bt -bv", True), ("-bt -bvs x@y", True), ("-bt -bP", True),
    ("-bv -bF /dev/null", True), (f"-bt -M {MID}", True), ("-bP -be", True),
    ("-bP -bh 1.2.3.4", True), ("-bP -brw x", True), ("-bP -bem /dev/null", True),
    (f"-bP -M {MID}", True), (f"-be -M {MID}", True), (f"-bh 1.2.3.4 -Mrm {MID}", True),
    (f"-bf /dev/null -M {MID}", True),
    # accepted combinations (each does something harmless on an empty queue)
    ("-q -bP", False), ("-q -bp", False), ("-q -bpc", False), ("-q5m -bV", False),
    ("-q -be", False), ("-q -bt", False), ("-q -brw x", False), ("-bs -bS", False),
    ("-bt -be", False), ("-bt -brw x", False), ("-bt -f a@b", False), ("-bv -bvs x@y", False),
    ("-bP -bp", False), ("-bP -f a@b", False), ("-bp -be", False), ("-bpc -bdf -oX 42525", False),
    ("-t -bp", False), ("-bt x@y", False), ("-bP x@y", False), ("-bs -bp", False),
]

CONF = """exim_user = root
exim_group = root
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
primary_hostname = test.example
tls_advertise_hosts =
"""


@pytest.fixture(scope="module")
def conf(tmp_path_factory):
    d = tmp_path_factory.mktemp("incompat")
    (d / "spool").mkdir()
    c = d / "conf"
    c.write_text(CONF.format(d=d))
    yield str(c)
    # An accepted -q5m (with -bV) leaves a queue-runner daemon behind, Exim's detached: stop
    # whatever still runs with this configuration.
    for proc in pathlib.Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(c).encode() in args and proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                os.kill(int(proc.name), signal.SIGTERM)
            except OSError:
                pass


def run(binary, conf, line):
    try:
        r = subprocess.run([binary, "-C", conf] + line.split(), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=5)
    except subprocess.TimeoutExpired:  # an accepted -bdf runs until stopped
        return None, ""
    return r.returncode, r.stderr.decode(errors="replace")


@pytest.mark.parametrize("line, refused", CASES, ids=[c[0] for c in CASES])
def test_incompatible_options_match_exim(postern_bin, conf, line, refused):
    erc, eerr = run(EXIM, conf, line)
    prc, perr = run(postern_bin, conf, line)
    assert (REFUSAL in eerr) == refused, f"live Exim: {erc} {eerr!r}"
    if refused:
        assert (erc, eerr) == (1, REFUSAL + "\n")
        assert (prc, perr) == (1, REFUSAL + "\n")
    else:
        assert REFUSAL not in perr
