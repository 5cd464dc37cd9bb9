"""The lookup libraries (libpq, SQLite, hiredis, Berkeley DB, jansson) are loaded when first
needed rather than linked (src/lib/dynlib.h): a daemon whose configuration does not name a
lookup keeps its library out of every process it forks (each mapping makes a fork and an exit
dearer); one whose configuration names it loads it before forking, and its sessions use it."""
import os
import pathlib
import sqlite3

import pytest

from daemon_helpers import Daemon, connect, free_ports, reachable_by_exim_user, wait_for

from test_daemon_pool import idle_of

LOOKUP_LIBS = ("libpq.so", "libsqlite3.so", "libhiredis.so", "libjansson.so", "libdb-", "libidn2.so")


def mapped(pid):
    """The lookup libraries mapped in process pid."""
    text = pathlib.Path(f"/proc/{pid}/maps").read_text()
    return {lib for lib in LOOKUP_LIBS if lib in text}


@pytest.fixture
def daemon(postern_bin, tmp_path):
    started = []
    reachable_by_exim_user(tmp_path)

    def make(config):
        where = tmp_path / f"d{len(started)}"
        where.mkdir()
        os.chmod(where, 0o755)
        d = Daemon(postern_bin, where, config)
        d.start()
        started.append(d)
        d.wait_listening(None)
        return d
    yield make
    for d in started:
        d.stop()


def test_unnamed_lookup_libraries_stay_out_of_the_daemon_and_its_sessions(daemon):
    (p,) = free_ports(1)
    d = daemon(f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {p}\n")
    s, line = connect(p)
    assert line.startswith("220 ")
    assert mapped(d.proc.pid) == set()
    if os.geteuid() == 0:
        assert wait_for(lambda: idle_of(d.proc.pid))
        assert all(mapped(pid) == set() for pid, _ in idle_of(d.proc.pid))
    s.close()


def test_named_lookup_library_is_loaded_before_fork_and_used_by_sessions(daemon, tmp_path):
    db = tmp_path / "banner.sqlite"
    con = sqlite3.connect(db)
    con.execute("create table t (v text)")
    con.execute("insert into t values ('from-sqlite')")
    con.commit()
    con.close()
    os.chmod(db, 0o644)
    reachable_by_exim_user(tmp_path)
    (p,) = free_ports(1)
    d = daemon(f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {p}\n"
               f"smtp_banner = ${{lookup sqlite{{{db} select v from t}}}} ESMTP\n")
    assert mapped(d.proc.pid) == {"libsqlite3.so"}
    if os.geteuid() == 0:
        assert wait_for(lambda: idle_of(d.proc.pid))
        assert all(mapped(pid) == {"libsqlite3.so"} for pid, _ in idle_of(d.proc.pid))
    s, line = connect(p)
    assert line.startswith("220 from-sqlite ESMTP"), line
    s.close()
