"""Host checking (-bh) by root with the trusted default configuration runs as the exim user, as
Debian's Exim 4.96 does (seen from outside: the uid of the running process, while the session
waits for its next command). Each program uses its own default configuration and exim user
(Exim's Debian-exim, Postern's build default); no -C, so no test aid applies."""
import os
import pwd
import shutil
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}   # no POSTERN_TEST_TRUST_CONFIG


def exim_user_uid(cmd):
    out = subprocess.run([cmd, "-bP", "exim_user"], capture_output=True, text=True, env=ENV, timeout=30).stdout
    return pwd.getpwnam(out.split("=", 1)[1].strip()).pw_uid


def running_uids(cmd, args):
    p = subprocess.Popen([cmd] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=ENV)
    try:
        p.stdin.write(b"EHLO client.test\r\n")
        p.stdin.flush()
        deadline = time.time() + 10
        out = b""
        while b"250 " not in out and time.time() < deadline:
            out += p.stdout.read1(4096)
        assert b"250 " in out, out
        with open(f"/proc/{p.pid}/status") as f:
            uid_line = next(l for l in f if l.startswith("Uid:"))
        return [int(x) for x in uid_line.split()[1:]]
    finally:
        p.stdin.write(b"QUIT\r\n")
        p.stdin.close()
        p.wait(timeout=10)


@pytest.mark.parametrize("args", [["-bh", "192.0.2.1"], ["-bhc", "192.0.2.1"]], ids=["-bh", "-bhc"])
def test_host_check_as_exim_user(postern_bin, args):
    exim = running_uids("/usr/sbin/exim", args)
    assert exim == [exim_user_uid("/usr/sbin/exim")] * 4
    ours = running_uids(postern_bin, args)
    assert ours == [exim_user_uid(postern_bin)] * 4
