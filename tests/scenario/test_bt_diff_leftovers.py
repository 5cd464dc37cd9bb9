"""Leftovers of the delivery issue, each checked against Exim 4.96 where Exim can show it:
-Mmad, start-up chdir, rewrite S-flag refusals, retry timeouts found while routing."""
import re

from test_queue import Queue, EXIM, mask


def test_mmad_matches_exim(postern_bin, tmp_path):
    outputs = []
    for binary in (postern_bin, EXIM):
        q = Queue(binary, tmp_path / pathlib_name(binary))
        ids = [q.submit("a1@x.example", "a2@x.example", "a3@x.example"), q.submit("b@x.example")]
        assert q.run("-Mmd", ids[0], "a2@x.example").returncode == 0
        q.clear_log()
        got = []
        for args in (["-Mmad", ids[0], ids[1]], ["-Mmad", ids[0]], ["-Mmad", "1xUjVi-0007Vu-XX"],
                     ["-Mmad", "bad-id"]):
            p = q.run(*args)
            got.append((args[0], p.returncode, mask(p.stdout, ids), mask(p.stderr, ids)))
        p = q.run("-qf")
        assert p.returncode == 0
        log = [mask(line, ids) for line in q.log() if "queue run" not in line]
        # A queue run's order between messages is random in Exim: compare its lines as a set.
        done = sorted(line for line in log if line.endswith("Completed"))
        outputs.append((got, [line for line in log if not line.endswith("Completed")], done))
        assert q.ids() == []  # every recipient was marked: the queue run completed both
    assert outputs[0] == outputs[1]
    assert any("marked delivered" in line for line in outputs[1][1])


def pathlib_name(binary):
    return "exim" if binary == EXIM else "postern"
