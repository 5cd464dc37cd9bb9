"""What a plain queue run logs for messages it does not deliver, compared with Exim 4.96 on the same
kind of queue: the "retry time not reached" line of a message whose routing deferred (Postern's
runner skips it through the schedule index and logs the line its last attempt left there), the
"Message is frozen" line of a frozen message, and deliver_queue_load_max's "Abandon queue run"."""
import re

import pytest

from test_queue import EXIM, Queue, run_block

PID = re.compile(r"pid=\d+")
LOAD = re.compile(r"\(load [0-9.]+, max [0-9.]+\)")


def block(q, ids, before):
    lines = [PID.sub("pid=N", line) for line in run_block(q, before)]
    for k, i in enumerate(ids):
        lines = [line.replace(i, f"<ID{k}>") for line in lines]
    # the order of messages within a run is random in both
    return lines[0], sorted(lines[1:-1]), lines[-1]


@pytest.fixture
def both(postern_bin, tmp_path):
    return Queue(postern_bin, tmp_path / "postern"), Queue(EXIM, tmp_path / "exim")


def test_skipped_messages_logged_as_exim(both):
    runs = []
    for q in both:
        deferred = q.submit("a@x.example")
        frozen = q.submit("b@x.example")
        assert q.run("-Mf", frozen).returncode == 0
        ids = [deferred, frozen]
        q.run("-q")                       # the first attempt: the router defers
        seen = []
        for _ in range(2):                # then within the retry time, twice
            before = len(q.log())
            assert q.run("-q").returncode == 0
            seen.append(block(q, ids, before))
        runs.append(seen)
    postern, exim = runs
    assert postern == exim
    assert "<ID0> == a@x.example routing defer (-52): retry time not reached" in postern[0][1]
    assert "<ID1> Message is frozen" in postern[0][1]


def test_retry_defer_off_logs_nothing_for_skipped(postern_bin, tmp_path):
    q = Queue(postern_bin, tmp_path, extra="log_selector = -retry_defer -skip_delivery")
    i = q.submit("a@x.example")
    q.run("-q")
    before = len(q.log())
    q.run("-q")
    assert [line for line in q.log()[before:] if i in line] == []


def test_deliver_queue_load_max_as_exim(both):
    outs = []
    for q in both:
        q.conf.write_text(q.conf.read_text().replace("begin routers", "deliver_queue_load_max = 0\nbegin routers"))
        i = q.submit("a@x.example")
        before = len(q.log())
        q.run("-q")
        plain = [LOAD.sub("(load L, max M)", PID.sub("pid=N", line)) for line in q.log()[before:]]
        before = len(q.log())
        q.run("-qf")                      # a forced run does not look at the load
        forced = [PID.sub("pid=N", line.replace(i, "<ID>")) for line in q.log()[before:]]
        outs.append((plain, forced))
    assert outs[0] == outs[1]
    assert outs[0][0] == ["Start queue run: pid=N", "Abandon queue run: pid=N (load L, max M)",
                          "End queue run: pid=N"]
