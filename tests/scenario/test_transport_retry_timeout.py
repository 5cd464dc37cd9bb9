"""Transport deferrals and the retry rules (issue 4 §5), as Exim 4.96 logs them (recorded live
with Debian's exim4 and the same configuration, ids and times masked):

- a deferral with no matching retry rule (or past its rule's cutoff) is logged as the
  deferral first; once every transport has run, the address fails with "** <address>: retry
  timeout exceeded" (no R=, T=, H=), the later deferral first;
- a local transport's deferral keeps a "T:<local part>@<domain>" retry record, and a plain queue
  run then leaves it alone with "defer (-53): Retry time not yet reached"; -qf tries it."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
keep_environment =
begin routers
r:
  driver = manualroute
  domains = a.test
  route_list = * 127.0.0.1::{port}
  self = send
  transport = t
p:
  driver = accept
  domains = p.test
  transport = tp
f:
  driver = redirect
  domains = f.test
  file = {d}/filter
  allow_filter
  pipe_transport = tp
  user = mail
  no_check_local_user
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
tp:
  driver = pipe
  command = /bin/sh -c 'exit 75'
  user = mail
begin retry
{rule}
"""

ID = re.compile(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b")


def masked(log):
    out = []
    for line in log.splitlines():
        line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
        line = re.sub(r"pid=\d+", "pid=N", line)
        out.append(ID.sub("ID", line))
    return out


@pytest.fixture
def world():
    """A directory the Exim user and the pipe's user can reach, and a port that refuses."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the pipe as another user")
    d = pathlib.Path(tempfile.mkdtemp(prefix="tp_retry_"))
    os.chmod(d, 0o755)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))     # bound, never listening: connections are refused
    try:
        yield d, s.getsockname()[1]
    finally:
        s.close()
        shutil.rmtree(d, ignore_errors=True)


def make_mta(postern_bin, d, port, rule):
    for sub in ("spool", "log"):
        (d / sub).mkdir()
        shutil.chown(d / sub, "Debian-exim", "Debian-exim")
    conf = d / "conf"
    conf.write_text(CONF.format(d=d, port=port, rule=rule))
    (d / "filter").write_text('# Exim filter\npipe "/bin/sh -c \\"exit 75\\""\n')
    os.chmod(d / "filter", 0o644)

    def run(*args, input=None):
        r = subprocess.run([postern_bin, "-C", str(conf), *args], input=input, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r
    return run


def mainlog(d):
    return masked((d / "log" / "mainlog").read_text())


def test_no_retry_rule_fails_transport_deferrals_at_the_end(postern_bin, world):
    d, port = world
    run = make_mta(postern_bin, d, port, "nomatch.example * F,1h,1m")
    run("-odi", "-f", "s@x.test", "u@a.test", "v@p.test", input="Subject: x\n\nbody\n")
    lines = [x for x in mainlog(d) if not x.startswith("ID <= <>") and "s@x.test: Unrouteable" not in x
             and "Frozen" not in x]
    assert lines == [
        "ID <= s@x.test U=root P=local S=255",
        "ID == v@p.test R=p T=tp defer (0): Child process of tp transport returned 75 (could mean "
        "temporary error) from command: /bin/sh",
        "ID H=127.0.0.1 [127.0.0.1] Connection refused",
        "ID == u@a.test R=r T=t defer (111): Connection refused",
        "ID ** u@a.test: retry timeout exceeded",
        "ID ** v@p.test: retry timeout exceeded",
        "ID Completed",
    ]


def test_rule_cutoff_passed_fails_at_the_end(postern_bin, world):
    d, port = world
    run = make_mta(postern_bin, d, port, "* * F,1s,1s")
    run("-odi", "-f", "s@x.test", "u@a.test", "v@p.test", input="Subject: x\n\nbody\n")
    assert not any("**" in x for x in mainlog(d))
    import time
    time.sleep(2.2)
    run("-qf")
    lines = mainlog(d)
    start = lines.index("Start queue run: pid=N -qf")
    tail = [x for x in lines[start:] if not x.startswith("ID <= <>") and "s@x.test: Unrouteable" not in x
            and "Frozen" not in x]
    assert tail == [
        "Start queue run: pid=N -qf",
        "ID == v@p.test R=p T=tp defer (0): Child process of tp transport returned 75 (could mean "
        "temporary error) from command: /bin/sh",
        "ID H=127.0.0.1 [127.0.0.1] Connection refused",
        "ID == u@a.test R=r T=t defer (111): Connection refused",
        "ID ** u@a.test: retry timeout exceeded",
        "ID ** v@p.test: retry timeout exceeded",
        "ID Completed",
        "End queue run: pid=N -qf",
    ]


def test_local_deferral_keeps_a_retry_record(postern_bin, world):
    d, port = world
    run = make_mta(postern_bin, d, port, "* * F,1h,10m")
    run("-odi", "-f", "s@x.test", "u@a.test", "v@p.test", input="Subject: x\n\nbody\n")
    dump = run("-bdbdump", str(d / "spool"), "retry").stdout
    assert re.search(r"^  T:v@p\.test 0 0 Child process of tp transport returned 75", dump, re.M), dump
    # Forced: both are tried again.
    run("-qf")
    assert mainlog(d).count("ID == v@p.test R=p T=tp defer (0): Child process of tp transport returned 75 "
                            "(could mean temporary error) from command: /bin/sh") == 2
    # Not forced: neither is due; Exim's lines for both.
    run("-q")
    lines = mainlog(d)
    start = len(lines) - 1 - lines[::-1].index("Start queue run: pid=N")
    assert lines[start:] == [
        "Start queue run: pid=N",
        "ID == v@p.test R=p T=tp defer (-53): Retry time not yet reached",
        "ID == u@a.test R=r T=t defer (-54): retry time not reached for any host for 'a.test'",
        "End queue run: pid=N",
    ]


def test_filter_pipe_item_retry(postern_bin, world):
    """A pipe item of a filter: its record is "T:<item>:<address it came from>"; a plain queue
    run leaves it alone while that is not due."""
    d, port = world
    run = make_mta(postern_bin, d, port, "* * F,1h,10m")
    run("-odi", "-f", "s@x.test", "w@f.test", input="Subject: x\n\nbody\n")
    dump = run("-bdbdump", str(d / "spool"), "retry").stdout
    assert '  T:|/bin/sh -c "exit 75":w@f.test 0 0 Child process of tp transport returned 75' in dump, dump
    run("-qf")
    run("-q")
    assert mainlog(d)[-2] == 'ID == |/bin/sh -c "exit 75" <w@f.test> R=f T=tp defer (-53): Retry time not yet reached'


def test_filter_pipe_item_without_rule(postern_bin, world):
    """With no rule the item fails once every transport has run, like any other deferral."""
    d, port = world
    run = make_mta(postern_bin, d, port, "nomatch.example * F,1h,1m")
    run("-odi", "-f", "s@x.test", "w@f.test", input="Subject: x\n\nbody\n")
    lines = mainlog(d)
    assert lines[1:3] == [
        'ID == |/bin/sh -c "exit 75" <w@f.test> R=f T=tp defer (0): Child process of tp transport returned 75 '
        '(could mean temporary error) from command: /bin/sh',
        'ID ** |/bin/sh -c "exit 75" <w@f.test>: retry timeout exceeded',
    ]
