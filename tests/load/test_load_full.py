"""The full-scale fault load (issue 3 acceptance 5): 20,000 messages over 500 concurrent
connections with random SIGKILLs of session children and of the daemon; every acknowledged
message must be in the spool, intact. Run with:
    POSTERN=build/postern /usr/bin/python3 -m pytest -m slow tests/load
"""
import os
import shutil
import tempfile

import pytest

import faultload


@pytest.mark.slow
def test_20000_messages_500_connections_with_kills(postern_bin):
    work = tempfile.mkdtemp(prefix="postern-load-")
    os.chmod(work, 0o755)
    probs, stats, _, _ = faultload.run(postern_bin, work, messages=20000, concurrency=500,
                                 interval=0.05, daemon_prob=0.02, seed=20000)
    print(stats)
    assert stats["acked"] >= 18000, stats
    assert stats["child_kills"] > 0 and stats["daemon_kills"] > 0, stats
    assert probs == [], probs[:20]
    shutil.rmtree(work, ignore_errors=True)   # kept for inspection when the test fails
