"""What a pipe command sees as its parent (and that one's parent), beside a live Exim 4.96,
with the default configuration file (trusted): Exim, set-uid, receives as the exim user and
runs itself again to regain root for the delivery, so after -odi and -odf the pipe's parent
and grandparent are "exim4 -odi -Mc ID", after -odb "exim4 -Mc ID"; a queue run (-qf) and -M
started by root deliver in the process the caller started, with its arguments. Postern runs
itself again the same way (the program's own path in place of Exim's). The helper
pipe_parent_compare.py runs each program in a private mount namespace (unshare -m) where
/etc/exim4/exim4.conf is the test's configuration."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from test_queue import EXIM

HELPER = pathlib.Path(__file__).with_name("pipe_parent_compare.py")

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="needs Debian's exim, root and unshare")


def parents(binary, d):
    d.mkdir()
    os.chmod(d, 0o755)
    p = subprocess.run(["unshare", "-m", sys.executable, str(HELPER), binary, str(d)],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0 and "unshare" in p.stderr:
        pytest.skip("unshare is not permitted here: " + p.stderr.strip())
    assert p.returncode == 0, p.stderr
    rows = {}
    for line in p.stdout.splitlines():
        mode, *cmds = line.split("\t")
        rows[mode] = [c.replace(os.path.realpath(binary), "PROG").replace(binary, "PROG") for c in cmds]
    return rows


def test_pipe_parents_match_exim(postern_bin, tmp_path):
    from daemon_helpers import reachable_by_exim_user
    reachable_by_exim_user(tmp_path)
    exim = parents("/usr/sbin/exim4", tmp_path / "exim")
    ours = parents(os.path.realpath(postern_bin), tmp_path / "postern")
    assert exim["-odi"] == ["PROG -odi -Mc ID", "PROG -odi -Mc ID"]
    assert exim["-odb"] == ["PROG -Mc ID", "PROG -Mc ID"]
    assert exim["-qf"] == ["PROG -qf", "PROG -qf"]
    assert ours == exim
