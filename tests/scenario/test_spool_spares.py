"""Spare spool files (src/core/spool_worker.c): a daemon's session has -D, the -H temporary and
msglog/<id> made in the background after MAIL and renames them into place. What must hold:
the message's files are as before (names, content, mode, owner, the -D lock while the session
has it), nothing named .postern-spare.* stays behind after QUIT, RSET, a dropped connection or
a killed session, and a message id is never given to two messages."""
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from daemon_helpers import Daemon, children_of, free_ports, reachable_by_exim_user, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")


@pytest.fixture
def daemon(postern_bin, tmp_path):
    started = []
    reachable_by_exim_user(tmp_path)

    def make(extra=""):
        (port,) = free_ports(1)
        where = tmp_path / f"d{len(started)}"
        where.mkdir()
        os.chmod(where, 0o755)
        d = Daemon(postern_bin, where, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}\n"
                   "host_lookup =\nacl_smtp_rcpt = accept\nqueue_only = true\n" + extra
                   + "\nbegin routers\nbegin transports\n")
        d.port = port
        d.start()
        started.append(d)
        d.wait_listening(None)
        return d
    yield make
    for d in started:
        d.stop()


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        assert self.reply().startswith("220")

    def reply(self):
        while True:
            lines = self.buf.split(b"\r\n")
            for i, line in enumerate(lines[:-1]):
                if len(line) >= 4 and line[3:4] == b" ":
                    self.buf = b"\r\n".join(lines[i + 1:])
                    return b"\r\n".join(lines[:i + 1]).decode()
            d = self.s.recv(4096)
            if not d:
                raise ConnectionError(self.buf)
            self.buf += d

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()

    def message(self, body="Subject: t\r\n\r\nhello\r\n"):
        assert self.cmd("MAIL FROM:<a@example.com>").startswith("250")
        assert self.cmd("RCPT TO:<b@example.com>").startswith("250")
        assert self.cmd("DATA").startswith("354")
        r = self.cmd(body + ".")
        assert r.startswith("250 OK id="), r
        return r.split("id=")[1].strip()


def spares(d, pid=None):
    """The spare files in the spool, of process pid or of every process."""
    out = []
    for sub in ("input", "msglog"):
        p = d.spool / sub
        if p.exists():
            out += [f"{sub}/{n}" for n in os.listdir(p) if n.startswith(".postern-spare.")
                    and (pid is None or n.split(".")[2] == str(pid))]
    return sorted(out)


def session_pid(d):
    """The one session: a replacement the daemon has just forked is not yet named
    postern-idle for a moment, so wait until only the session is left."""
    assert wait_for(lambda: len(children_of(d.proc.pid)) == 1, timeout=10), children_of(d.proc.pid)
    (pid,) = [p for p, _, _ in children_of(d.proc.pid)]
    return pid


def test_messages_from_spares_are_complete(daemon):
    d = daemon()
    c = Client(d.port)
    c.cmd("EHLO client.test")
    sess = session_pid(d)
    ids = [c.message(f"Subject: m{i}\r\n\r\nbody {i}\r\n") for i in range(5)]
    assert len(set(ids)) == 5
    mail = pwd.getpwnam("mail")
    for i, mid in enumerate(ids):
        dfile = d.spool / "input" / f"{mid}-D"
        hfile = d.spool / "input" / f"{mid}-H"
        assert dfile.read_bytes() == f"{mid}-D\nbody {i}\n".encode()
        h = hfile.read_text()
        assert h.startswith(f"{mid}-H\n") and f"Subject: m{i}" in h
        for f in (dfile, hfile):
            st = f.stat()
            assert (st.st_mode & 0o777, st.st_uid) == (0o640, mail.pw_uid), f
        log = (d.spool / "msglog" / mid).read_text()
        assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Received from a@example.com ", log), log
        assert log.count("\n") == 1
    # after each message's 250 the session has the next message's set made at once, with the
    # spool's mode and owner (not at the next MAIL, which left too little time before DATA)
    assert wait_for(lambda: len(spares(d, sess)) == 3, timeout=10), spares(d)
    for name in spares(d, sess):
        st = (d.spool / name).stat()
        assert (st.st_mode & 0o777, st.st_uid, st.st_size, st.st_nlink) == (0o640, mail.pw_uid, 0, 1), name
    c.cmd("QUIT")
    assert wait_for(lambda: children_of(d.proc.pid) == [])
    assert len(spares(d, sess)) == 3   # the process serves on (smtp_accept_process_reuse): kept


@pytest.mark.parametrize("reuse", [1, 100])
def test_no_spares_left_after_rset_quit_or_drop(daemon, reuse):
    """A process that ends with its connection removes its spares; one that serves on
    (smtp_accept_process_reuse) keeps its one set for the next connection, never more."""
    d = daemon(f"smtp_accept_process_reuse = {reuse}")
    c = Client(d.port)
    c.cmd("EHLO client.test")
    sess = session_pid(d)
    assert c.cmd("MAIL FROM:<a@example.com>").startswith("250")
    # made in the background (by a pre-forked process even before its connection)
    assert wait_for(lambda: len(spares(d, sess)) == 3, timeout=10), (sess, spares(d))
    assert c.cmd("RSET").startswith("250")
    assert c.cmd("MAIL FROM:<a@example.com>").startswith("250")
    assert len(spares(d, sess)) == 3, (sess, spares(d))   # the same set serves the next one
    c.cmd("QUIT")
    assert wait_for(lambda: children_of(d.proc.pid) == [], timeout=10), children_of(d.proc.pid)
    kept = [] if reuse == 1 else spares(d, sess)
    assert len(kept) in (0, 3)
    assert wait_for(lambda: spares(d, sess) == kept, timeout=10), (sess, spares(d))
    # a connection that goes away without QUIT
    c = Client(d.port)
    c.cmd("EHLO client.test")
    sess = session_pid(d)
    c.cmd("MAIL FROM:<a@example.com>")
    assert wait_for(lambda: len(spares(d, sess)) == 3, timeout=10), (sess, spares(d))
    c.s.close()
    assert wait_for(lambda: children_of(d.proc.pid) == [], timeout=10), children_of(d.proc.pid)
    assert wait_for(lambda: len(spares(d, sess)) == (0 if reuse == 1 else 3), timeout=10), (sess, spares(d))
    assert not list((d.spool / "input").glob("*-D"))


def test_idle_processes_spares_go_with_them(daemon):
    """Pre-forked processes make their first message's spares while they wait; a daemon that
    stops (SIGTERM) or dies (SIGKILL) takes them along: the idle processes see the end of
    their channel and remove their own."""
    for how in (signal.SIGTERM, signal.SIGKILL):
        d = daemon()
        assert wait_for(lambda: len(spares(d)) == 3 * 8, timeout=10), spares(d)
        os.kill(d.proc.pid, how)
        d.proc.wait()
        assert wait_for(lambda: spares(d) == [], timeout=10), (how, spares(d))


def test_killed_session_spares_removed_by_daemon(daemon):
    d = daemon()
    c = Client(d.port)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@example.com>")
    sess = session_pid(d)
    assert wait_for(lambda: len(spares(d, sess)) == 3)
    os.kill(sess, signal.SIGKILL)
    assert wait_for(lambda: spares(d, sess) == [], timeout=10), spares(d, sess)


def test_leftover_of_dead_process_with_same_pid_is_replaced(daemon):
    """A spare left by a killed process whose daemon was down meanwhile: the next process with
    that pid replaces it instead of failing; a stale file never becomes a message's -D. The
    names are never free for long in a live session (the next set is made right after each
    message), so the leftovers are put there for the pid of a session that is then killed while
    the daemon is stopped (it cannot clean up), and a new session in a process with that pid
    is simulated by the unit test (tests/unit/spool/test_spool_worker.c); here, what a
    session does with spares it did not make: they are the files of a dead process, and the
    next daemon's orphan sweep or the next session with that pid deals with them."""
    d = daemon("smtp_accept_process_reuse = 1")
    c = Client(d.port)
    c.cmd("EHLO client.test")
    sess = session_pid(d)
    mid = c.message()
    assert wait_for(lambda: len(spares(d, sess)) == 3, timeout=10), spares(d)
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        os.kill(sess, signal.SIGKILL)
        # its spares stay (the stopped daemon cannot reap it); overwrite them as stale files
        for name in spares(d, sess):
            (d.spool / name).write_bytes(b"stale content\n")
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    # the daemon reaps the killed session and removes what it left
    assert wait_for(lambda: spares(d, sess) == [], timeout=10), spares(d, sess)
    c = Client(d.port)
    c.cmd("EHLO client.test")
    mid2 = c.message()
    assert (d.spool / "input" / f"{mid2}-D").read_bytes() == f"{mid2}-D\nhello\n".encode()
    assert b"stale" not in (d.spool / "input" / f"{mid2}-H").read_bytes()
    assert (d.spool / "msglog" / mid2).read_text().count("\n") == 1
    assert (d.spool / "input" / f"{mid}-D").read_bytes() == f"{mid}-D\nhello\n".encode()
    c.cmd("QUIT")


def test_split_spool_directory_has_no_spares(daemon):
    d = daemon("split_spool_directory = true")
    c = Client(d.port)
    c.cmd("EHLO client.test")
    mid = c.message()
    assert (d.spool / "input" / mid[5] / f"{mid}-H").exists()
    c.cmd("MAIL FROM:<a@example.com>")
    time.sleep(0.3)
    assert spares(d) == []
    c.cmd("QUIT")


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (the kill point)")
def test_session_killed_between_unnamed_create_and_link_leaves_nothing(daemon):
    """A spare is an unnamed O_TMPFILE inode until its link: a session killed there (strace
    injects SIGKILL at its first linkat, the next set's -D spare, made right after a message's
    250) leaves no file at all, even while the daemon, which would remove a dead session's
    named spares, is stopped. The message acknowledged just before is complete."""
    d = daemon()
    c = Client(d.port)
    c.cmd("EHLO client.test")
    first = c.message("Subject: one\r\n\r\nbody one\r\n")
    sess = session_pid(d)
    assert wait_for(lambda: len(spares(d, sess)) == 3, timeout=10), spares(d)
    trace = d.dir / "strace.out"
    st = subprocess.Popen(["strace", "-f", "-o", str(trace), "-e", "trace=linkat",
                           "-e", "inject=linkat:signal=SIGKILL:when=1", "-p", str(sess)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: "TracerPid:\t0" not in open(f"/proc/{sess}/status").read(), timeout=10)
        os.kill(d.proc.pid, signal.SIGSTOP)   # no clean-up by the daemon meanwhile
        try:
            second = c.message("Subject: two\r\n\r\nbody two\r\n")   # uses the ready set
            assert wait_for(lambda: not os.path.exists(f"/proc/{sess}/status")
                            or "State:\tZ" in open(f"/proc/{sess}/status").read(), timeout=10)
            assert spares(d, sess) == [], spares(d, sess)
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)
    finally:
        st.wait(timeout=10)
    assert "linkat(" in trace.read_text() and "+++ killed by SIGKILL" in trace.read_text()
    for mid, body in ((first, "body one"), (second, "body two")):
        assert (d.spool / "input" / f"{mid}-D").read_bytes() == f"{mid}-D\n{body}\n".encode()
        assert (d.spool / "input" / f"{mid}-H").exists()
    # nothing of the killed process anywhere in the spool, and the daemon serves on
    names = [n for sub in ("input", "msglog") for n in os.listdir(d.spool / sub)]
    assert not [n for n in names if f".{sess}." in n], names
    c2 = Client(d.port)
    c2.cmd("EHLO client.test")
    third = c2.message("Subject: three\r\n\r\nbody three\r\n")
    c2.cmd("QUIT")
    out = subprocess.run([d.postern, "-C", str(d.conf), "-bpc"],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "3", (out.stdout, third)
