"""Named queues with an untrusted -C by root, beside live Exim 4.96.

Exim names the queue to the processes it runs again with -MCG: a reception's delivery is
"exim -C file [-odi] -MCG q -Mc id" and a daemon's queue runner for -qGq is
"exim -C file -MCG q -qGq" (both observed with strace -f -e trace=execve). Both are called by the
exim user, so they keep no root and note the lost privilege. A -qGq run started by root itself
keeps root. The command line of the process that runs the pipe command is compared through
/proc/$PPID/cmdline, with the logs, stderr and the uid the command sees."""
import os
import subprocess

import pytest

import test_root_config_exim as rc
from test_root_config_exim import ENV, MSG, Run, stop_daemon

QUEUE_ACL = "begin acl\nacl_q:\n  accept queue = nq\n\nbegin routers\n"

SMTP = ("HELO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<pn@test.example>\r\nRCPT TO:<pd@test.example>\r\n"
        "DATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n")

pytestmark = rc.pytestmark


class NamedRun(Run):
    """The rootc configuration with an RCPT ACL that puts every message in queue "nq"."""
    def __init__(self, binary, **kw):
        super().__init__(binary, **kw)
        conf = self.d / "conf"
        text = conf.read_text().replace("acl_smtp_rcpt = accept", "acl_smtp_rcpt = acl_q", 1)
        conf.write_text(text.replace("begin routers\n", QUEUE_ACL, 1))

    def queued_id(self):
        ids = [p.name[:-2] for p in (self.d / "spool" / "nq" / "input").rglob("*-H")]
        assert len(ids) == 1, ids
        return ids[0]


def both(fn, **kw):
    res = []
    for binary in (rc.EXIM, os.environ["POSTERN"]):
        r = NamedRun(binary, **kw)
        try:
            res.append(fn(r))
        finally:
            r.close()
    return res


def test_root_bs_odi_named_queue_delivery_like_exim():
    """-odi -bs by root into a named queue: the delivery runs again with -MCG nq -Mc id."""
    def go(r):
        r.cmd("-odi", "-bs", stdin=SMTP)
        assert r.wait_log("== pn@test.example")
        return r.result()
    exim, ours = both(go)
    assert ours == exim
    assert exim["out"]["pd.cmdline"][1] == "BIN -C D/conf -odi -MCG nq -Mc ID"


def test_root_daemon_named_queue_runner_like_exim():
    """-bd -qGnq/1s by root: each queue runner is "-C file -MCG nq -qGnq" as the exim user."""
    def go(r):
        r.cmd("-odq", "-bs", stdin=SMTP)
        r.queued_id()
        p = subprocess.Popen([r.binary, "-C", str(r.d / "conf"), "-bd", "-qGnq/1s", "-oP", str(r.d / "pid")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             cwd=r.d, env=ENV)
        try:
            assert r.wait_log("ID Frozen")
            assert r.wait_log("End 'nq' queue run")
        finally:
            stop_daemon(p, r.d / "pid")
        res = r.result()
        main = [x for x in res["mainlog"] if "daemon started" not in x and "certificate" not in x]
        res["mainlog"] = main[:main.index("End 'nq' queue run: pid=N") + 1]
        res["paniclog"] = res["paniclog"][:1]
        return res
    exim, ours = both(go)
    assert ours == exim
    assert exim["out"]["pd.cmdline"][1] == "BIN -C D/conf -MCG nq -qGnq"
    assert exim["out"]["pd"][1].startswith("uid=102(Debian-exim)")


def test_root_qG_run_keeps_root_like_exim():
    """-qGnq started by root with the untrusted -C keeps root: the delivery to nobody works and
    the pipe runs in the queue runner's own process (no re-execution)."""
    def go(r):
        r.cmd("-odq", "-bs", stdin=SMTP)
        r.queued_id()
        r.cmd("-qGnq")
        return r.result()
    exim, ours = both(go)
    assert ours == exim
    assert ours["out"]["pn"][1].startswith("uid=65534")
    assert exim["out"]["pd.cmdline"][1] == "BIN -C D/conf -qGnq"
