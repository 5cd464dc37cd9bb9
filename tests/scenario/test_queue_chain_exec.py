"""A queue run waits for a continued delivery it started by exec (-MC with -MCQ).

A queue worker carries one handed-back connection on itself; a second one handed back by the
same message (two hosts, delivered in parallel) goes to a -MC process started by exec, which
holds the write end of the worker's -MCQ pipe (made when the message's first remote transport
starts, core/deliver_continue.h). The worker goes on only when that process is done, so the
run does not race it for the message it carries and `End queue run` is logged after its
delivery, as in Exim (docs/transports.md)."""
import re
import socket
import subprocess

from test_smtp_reuse import ID, Sink, _reserved, free_port

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
never_users =
trusted_users = root
keep_environment =
queue_run_in_order = true
remote_max_parallel = 2
begin routers
one:
  driver = manualroute
  domains = a.test
  route_list = * 127.0.0.1::{p1}
  self = send
  transport = t
two:
  driver = manualroute
  domains = b.test
  route_list = * 127.0.0.2::{p2}
  self = send
  transport = t
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
  command_timeout = 30s
begin retry
* * F,1m,1m
"""


def port_on_second_address():
    """A port on 127.0.0.2 that refuses connections until a Sink listens on it."""
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    p = s.getsockname()[1]
    _reserved[p] = s
    return p


def test_run_waits_for_the_exec_chain(postern_bin, tmp_path):
    d = tmp_path
    for sub in ("spool", "log"):
        (d / sub).mkdir()
    p1, p2 = free_port(), port_on_second_address()
    conf = d / "conf"
    conf.write_text(CONF.format(d=d, p1=p1, p2=p2))

    def run(*args, input=None):
        r = subprocess.run([postern_bin, "-C", str(conf), *args], input=input, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r

    # A for both hosts, then B for the first and C for the second.
    for rcpts, body in ((["x@a.test", "y@b.test"], "A"), (["u@a.test"], "B"), (["v@b.test"], "C")):
        run("-odq", "-f", "s@x.test", *rcpts, input=f"Subject: {body}\n\nbody {body}\n")
    ids = sorted(set(ID.findall(run("-bpr").stdout)))
    assert len(ids) == 3
    # Both hosts down: every message deferred and listed in wait-t under its hosts.
    run("-q")
    assert len(set(ID.findall(run("-bpr").stdout))) == 3
    s1, s2 = Sink(p1), Sink(p2)
    try:
        run("-qf")   # returns when the runner has ended
    finally:
        s1.close()
        s2.close()
    log = (d / "log" / "mainlog").read_text()
    assert not set(ID.findall(run("-bpr").stdout)), log
    # A's two deliveries carried B and C over their connections: one connection per host.
    for s in (s1, s2):
        assert len(s.conns) == 1, (s.conns, log)
        assert s.conns[0].count("<data>") == 2, (s.conns, log)
    delivered = re.findall(r" => (\S+) ", log)
    assert sorted(delivered) == ["u@a.test", "v@b.test", "x@a.test", "y@b.test"], log
    assert log.count(" Completed") == 3, log
    # The -MC process's delivery (and every other) comes before the run's end.
    last_run = log[log.rindex("Start queue run"):]
    assert "End queue run" in last_run.splitlines()[-1], last_run
    assert "locked" not in last_run, last_run
