"""The pre-forked pool follows demand (src/prog/daemon_pool.c, target()): after a spell of N
connections at once, N clients that each open a new connection as soon as their previous one
ended (bench/accept's "new": one message, QUIT sent, 221 not awaited) are served by processes
kept ready, not by a fork per connection. With a fixed pool of 8 many of those connections
found no process free (the one that served the client's previous connection had not yet said
it was done) and got a fork of their own: a process that served only that connection."""
import os
import re
import pathlib
import sys

import pytest

from daemon_helpers import Daemon, connect, free_ports, reachable_by_exim_user, wait_for

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "accept"))
import loadgen  # noqa: E402 (bench/accept's generator: C, concurrent enough to matter)

CLIENTS = 32
SECONDS = 3


@pytest.fixture
def daemon(postern_bin, tmp_path):
    reachable_by_exim_user(tmp_path)
    where = tmp_path / "d"
    where.mkdir()
    os.chmod(where, 0o755)
    (port,) = free_ports(1)
    d = Daemon(postern_bin, where,
               f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}\n"
               "smtp_accept_max = 0\nsmtp_connect_backlog = 128\nhost_lookup =\n"
               "log_selector = +pid\nacl_smtp_connect = accept logwrite = served\n"
               "acl_smtp_rcpt = accept\nqueue_only = true\nbegin routers\nbegin transports")
    d.start()
    d.wait_listening(None)
    d.port = port
    yield d
    d.stop()


def served_pids(d):
    return re.findall(r"\[(\d+)\] served", d.mainlog)


def test_sustained_new_connections_served_without_a_fork_each(daemon):
    d = daemon
    # Warm-up: CLIENTS connections at once, so that the daemon has seen that many sessions.
    held = [connect(d.port, timeout=60) for _ in range(CLIENTS)]
    assert all(line.startswith("220 ") for _, line in held)
    for s, _ in held:
        s.sendall(b"QUIT\r\n")
        s.close()
    assert wait_for(lambda: len(served_pids(d)) == CLIENTS), d.mainlog
    before = len(served_pids(d))

    if loadgen.c_generator() is None:
        pytest.skip("bench/accept/loadgen.c cannot be built (no C compiler)")
    res = loadgen.run("127.0.0.1", d.port, 2048, CLIENTS, False, SECONDS)
    assert res["errors"] == 0 and res["ok"] > 0, res
    total = res["ok"]
    assert wait_for(lambda: len(served_pids(d)) >= before + total), len(served_pids(d))
    pids = served_pids(d)[before:]
    # A connection given a fork of its own is the only one its process serves; processes kept
    # ready serve many (up to smtp_accept_process_reuse). With the fixed pool of 8, 17% and 19%
    # of the connections were served alone in two runs; with the pool following demand, 0 to 3
    # of about 1500. The bound (5%) is generous for a loaded machine and below the fixed pool's.
    alone = sum(1 for x in set(pids) if pids.count(x) == 1)
    print("distinct", len(set(pids)), "alone", alone, "of", total)
    assert alone < total // 20, (alone, total)
