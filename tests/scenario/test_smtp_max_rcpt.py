"""smtp transport max_rcpt (issue 4 §3): more recipients for one host than max_rcpt allows.

Observed from Exim 4.96 against the same scripted sink: with remote_max_parallel above 1 each
batch of max_rcpt recipients gets its own process and connection, each batch's first delivery
logged "=>"; with remote_max_parallel = 1 one connection carries one transaction per batch (no
RSET between them), every batch starts with "=>" again and the later batches are logged as
over a continued connection ("[ip]*"). Each test runs Exim 4.96 and Postern the same way and
compares the delivery lines and the sink's transcripts."""
import os
import pathlib
import re
import shutil
import tempfile

import pytest

from test_smtp_reuse import EXIM, Mta, Sink, free_port, postern_bin

RCPTS = [f"u{i}@a.test" for i in range(5)]


def deliver(binary, d, parallel, exim):
    port = free_port()
    mta = Mta(binary, d, port, extra="  max_rcpt = 2", exim=exim)
    conf = mta.conf.read_text().replace(
        "keep_environment =", f"keep_environment =\nremote_max_parallel = {parallel}")
    mta.conf.write_text(conf)
    sink = Sink(port)
    try:
        mta.run("-odi", "-f", "s@x.test", *RCPTS, input="Subject: x\n\nbody\n")
        mta.wait_done()
        sink.wait_closed(1)
    finally:
        sink.close()
    lines = []
    for line in mta.log().splitlines():
        m = re.search(r" ([=-]>) (\S+) (.*)$", line)
        if m:
            lines.append(m.groups())
    conns = [[re.sub(r" SIZE=\d+", "", c) for c in conn] for conn in sink.conns]
    return lines, conns, mta.log()


def both(tmp_path, parallel):
    exim_dir = pathlib.Path(tempfile.mkdtemp(prefix="postern-maxrcpt-"))
    os.chmod(exim_dir, 0o755)
    try:
        ex = deliver(EXIM, exim_dir, parallel, True)
    finally:
        shutil.rmtree(exim_dir, ignore_errors=True)
    return ex, deliver(postern_bin(), tmp_path, parallel, False)


@pytest.mark.skipif(not os.path.exists(EXIM), reason="needs Exim 4.96")
def test_one_connection_when_serial(tmp_path):
    ex, po = both(tmp_path, 1)
    host = 'R=r T=t H=127.0.0.1 [127.0.0.1] C="250 OK queued"'
    cont = 'R=r T=t H=127.0.0.1 [127.0.0.1]* C="250 OK queued"'
    expected = [("=>", "u0@a.test", host), ("->", "u1@a.test", host),
                ("=>", "u2@a.test", cont), ("->", "u3@a.test", cont),
                ("=>", "u4@a.test", cont)]
    assert ex[0] == expected, ex[2]
    assert po[0] == expected, po[2]
    assert len(po[1]) == len(ex[1]) == 1
    assert po[1] == ex[1]
    cmds = po[1][0]
    assert sum(c.startswith("MAIL FROM:") for c in cmds) == 3
    assert "RSET" not in cmds


@pytest.mark.skipif(not os.path.exists(EXIM), reason="needs Exim 4.96")
def test_connection_per_batch_when_parallel(tmp_path):
    ex, po = both(tmp_path, 2)
    host = 'R=r T=t H=127.0.0.1 [127.0.0.1] C="250 OK queued"'
    expected = sorted([("=>", "u0@a.test", host), ("->", "u1@a.test", host),
                       ("=>", "u2@a.test", host), ("->", "u3@a.test", host),
                       ("=>", "u4@a.test", host)])
    # The batches finish in any order; each batch's lines stay together.
    assert sorted(ex[0]) == expected, ex[2]
    assert sorted(po[0]) == expected, po[2]
    assert len(po[1]) == len(ex[1]) == 3
    assert sorted(po[1]) == sorted(ex[1])
    for conn in po[1]:
        assert sum(c.startswith("MAIL FROM:") for c in conn) == 1
        assert conn[-2:] == ["<quit>", "<closed>"]
