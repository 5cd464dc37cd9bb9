"""$queue_size asked of a daemon that runs a named queue (-qG<name>/<time>): the daemon counts the
queue it runs, as Exim 4.96's does (observed: 3 messages in queue "foo" and 2 in the default
queue; -qGfoo/1h answered 3, -q1h and no -q answered 2, -qGbar/1h answered 0)."""
import os

import pytest
from test_daemon_notify import EXIM, Setup
import subprocess

EXTRA = """
begin routers
d:
  driver = redirect
  data = :defer: wait
begin retry
* * F,1d,1h
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="daemons bind as root")


def sizes(binary, tmp_path):
    s = Setup(binary, tmp_path, extra=EXTRA)
    ids = [s.submit(f"u{i}@y.example") for i in range(5)][-1]
    for i in ids[:3]:
        subprocess.run([binary, "-C", str(s.conf), "-MG", "foo", i], check=True, timeout=30,
                       capture_output=True)
    got = {}
    for args in (["-qGfoo/1h"], ["-q1h"], [], ["-qGbar/1h"]):
        s.start(*args)
        try:
            got[" ".join(args)] = s.be("$queue_size")
        finally:
            s.stop()
    return got


def test_queue_size_of_named_queue_daemon(postern_bin, tmp_path):
    got = sizes(postern_bin, tmp_path / "p")
    assert got == {"-qGfoo/1h": "3", "-q1h": "2", "": "2", "-qGbar/1h": "0"}
    if os.path.exists(EXIM):
        assert sizes(EXIM, tmp_path / "e") == got, "differs from Exim 4.96"
