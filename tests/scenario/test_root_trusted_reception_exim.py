"""Receptions by root with a trusted configuration (a -C file in the trusted list), beside live
Exim 4.96.

Exim is set-uid root and receives a local message as the exim user even for root with a trusted
configuration (strace: setgroups(1, [105]), setgid(105), setuid(102) before it reads the
message), then runs "exim -C file [-odi] -Mc id" to regain root for the delivery. Postern forks a
child that receives as the exim user; its root parent runs "postern -C file [-odi] -Mc id" for
each delivery (core/priv_receive.h).
Seen from inside the reception: "${run{/usr/bin/id}}" in the ACLs, $caller_uid, U=root, the -H
file's owner and its line 2; seen from the deliveries: the uid a pipe command gets (root is
still there to become nobody). Compared: main and panic logs, stderr, stdout, exit status, and
the owners of the spool files."""
import grp
import os
import pathlib
import pwd
import shutil
import subprocess
import time

import pytest

import test_root_config_exim as rc
from test_root_reception_exim import AclRun, SMTP
from daemon_helpers import wait_for
from test_host_check_privilege_exim import ENV, exim_user_uid

EXIM_TRUSTED_LIST = pathlib.Path("/etc/exim4/trusted_configs")   # Debian's TRUSTED_CONFIG_LIST
POSTERN_TRUSTED_LIST = pathlib.Path("/etc/postern/trusted_configs")

pytestmark = [rc.pytestmark,
              pytest.mark.skipif(EXIM_TRUSTED_LIST.exists() or POSTERN_TRUSTED_LIST.exists(),
                                 reason="a trusted configuration list exists already: not touched")]

MSG = "Subject: t\n\nhi\n"
SMTP2 = ("HELO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<pn@test.example>\r\nRCPT TO:<pd@test.example>\r\n"
         "DATA\r\nSubject: s\r\n\r\nbody\r\n.\r\n"
         "MAIL FROM:<a@b.c>\r\nRCPT TO:<pn@test.example>\r\nDATA\r\nSubject: 2\r\n\r\nbody\r\n.\r\nQUIT\r\n")
EXIM_ID = "uid=102(Debian-exim) gid=105(Debian-exim) groups=105(Debian-exim)\\n caller=0/0 orig=0/0"


class TrustedRun(AclRun):
    def h_line2(self):
        heads = list((self.d / "spool" / "input").rglob("*-H"))
        assert len(heads) == 1, heads
        st = heads[0].stat()
        return heads[0].read_text().splitlines()[1], f"{st.st_uid}:{st.st_gid}"


def both(fn):
    made_dir = not POSTERN_TRUSTED_LIST.parent.exists()
    res = []
    try:
        for binary in (rc.EXIM, os.environ["POSTERN"]):
            r = TrustedRun(binary)
            listing = EXIM_TRUSTED_LIST if binary == rc.EXIM else POSTERN_TRUSTED_LIST
            listing.parent.mkdir(exist_ok=True)
            listing.write_text(f"{r.d / 'conf'}\n")
            os.chmod(listing, 0o644)
            try:
                res.append(fn(r))
            finally:
                listing.unlink()
                r.close()
    finally:
        if made_dir:
            shutil.rmtree(POSTERN_TRUSTED_LIST.parent, ignore_errors=True)
    return res


def result(r, p):
    res = r.result()
    # The pipe command's parent: Exim's -Mc process, and Postern's, which runs itself again the
    # same way.
    cmdline = res["out"].pop("pd.cmdline", None)
    res["status"] = p.returncode
    res["stdout"] = [rc.clean_line(x, r.d, r.binary) for x in p.stdout.splitlines()
                     if not x.startswith("220 ")]
    return res, cmdline


def test_trusted_bs_odi_receives_as_exim_user_delivers_with_root():
    def go(r):
        p = r.cmd("-odi", "-bs", stdin=SMTP2)
        return result(r, p)
    (exim, ecmd), (ours, ocmd) = both(go)
    assert ours == exim
    assert "rcpt " + EXIM_ID in exim["mainlog"]
    assert exim["out"]["pn"][1].startswith("uid=65534(nobody)")
    assert exim["out"]["pd"][1].startswith("uid=102(Debian-exim)")
    # Both messages delivered before the session went on (-odi), in order.
    assert [x.split(" ", 2)[1] for x in exim["mainlog"] if x.startswith("ID ")] == \
        ["<=", "=>", "=>", "Completed", "<=", "=>", "Completed"]
    assert "-Mc ID" in ecmd[1] and ocmd == ecmd


@pytest.mark.parametrize("args", [["-odi", "pn@test.example", "pd@test.example"],
                                  ["-odi", "-t"], ["-odi", "-bS"]], ids=["-bm", "-t", "-bS"])
def test_trusted_local_odi_like_exim(args):
    stdin = {"-t": "To: pn@test.example, pd@test.example\n" + MSG,
             "-bS": SMTP.replace("HELO x\r\n", "").replace("QUIT\r\n", "")}.get(args[1], MSG)

    def go(r):
        p = r.cmd(*args, stdin=stdin)
        return result(r, p)[0]
    exim, ours = both(go)
    assert ours == exim
    assert any(EXIM_ID in x for x in exim["mainlog"])
    assert any(x.startswith("ID Completed") for x in exim["mainlog"])


def test_trusted_bm_odq_spool_like_exim():
    """Queued: the -H file and everything in the spool is the exim user's; line 2 names root."""
    def go(r):
        p = r.cmd("-odq", "-f", "set@by.root", "pd@test.example", stdin=MSG)
        return result(r, p)[0], r.h_line2(), r.spool_owners()
    exim, ours = both(go)
    assert ours == exim
    assert exim[1] == ("root 0 0", "102:105")
    assert exim[2] and all(x.endswith(":102:105") for x in exim[2])
    assert any(x.startswith("ID <= set@by.root U=root ") for x in exim[0]["mainlog"])


@pytest.mark.parametrize("od,mode", [("-odb", "-bm"), (None, "-bm"), ("-odb", "-bs"), (None, "-bs")])
def test_trusted_background_delivery_with_root_like_exim(od, mode):
    def go(r):
        if mode == "-bs":
            p = r.cmd(*([od] if od else []), "-bs", stdin=SMTP2)
            assert wait_for(lambda: sum(x.endswith("Completed") for x in r.log("mainlog")) == 2)
        else:
            p = r.cmd(*([od] if od else []), "pn@test.example", "pd@test.example", stdin=MSG)
        assert r.wait_log("Completed")
        time.sleep(0.3)
        res = result(r, p)[0]
        res["mainlog"].sort()   # two background deliveries race
        return res
    exim, ours = both(go)
    assert ours == exim
    assert exim["out"]["pn"][1].startswith("uid=65534(nobody)")


@pytest.mark.parametrize("mode", ["-bm", "-bs"])
def test_trusted_root_owned_spool_fails_like_exim(mode):
    """A spool directory root made (as an older Postern receiving as root would have): the
    reception as the exim user cannot write it and fails, the caller keeps its message."""
    def go(r):
        inp = r.d / "spool" / "input"
        inp.mkdir()
        os.chmod(inp, 0o750)
        if mode == "-bs":
            p = r.cmd("-odi", "-bs", stdin=SMTP)
        else:
            p = r.cmd("-odi", "pd@test.example", stdin=MSG)
        res = result(r, p)[0]
        res["queued"] = sorted(x.name for x in inp.iterdir())
        return res
    exim, ours = both(go)
    assert ours == exim
    assert exim["status"] == 1 and exim["queued"] == []
    assert any("Failed to create spool file D/spool//input//ID-D: Permission denied" in x
               for x in exim["paniclog"])


def test_trusted_bm_exit_status_like_exim():
    """The parent ends with the reception's status: a bad -t message (no recipients)."""
    def go(r):
        p = r.cmd("-odi", "-t", stdin=MSG)
        # The bounce to root is made by the exim user (U=Debian-exim) and fails to route.
        assert r.wait_log("Frozen (delivery error message)")
        time.sleep(0.3)
        res = result(r, p)[0]
        # The bounce's own acl_not_smtp line: Exim's bounce is received by a new process the exim
        # user starts (caller 102/105); Postern's is made in the receiving process, whose caller
        # stays root (a difference of the bounce module's, not of the privileges).
        res["mainlog"] = [x for x in res["mainlog"] if not x.startswith("ID ns ")]
        return res
    exim, ours = both(go)
    assert ours == exim
    assert exim["status"] != 0


def proc_ids(pid):
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(x) for x in val.split()]
    return ids


def children(pid):
    res = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        res.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return res


def test_default_config_bs_receiver_is_exim_user(postern_bin):
    """With each program's default (trusted) configuration and no test aid, seen from outside
    while the session waits for its next command: Exim's process is the exim user throughout;
    Postern's is root, and the one child that holds the session is the exim user, with the exim
    group as its only group."""
    def ids_while_waiting(cmd):
        p = subprocess.Popen([cmd, "-odq", "-bs"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=ENV)
        try:
            p.stdin.write(b"EHLO client.test\r\n")
            p.stdin.flush()
            deadline = time.time() + 10
            out = b""
            while b"250 " not in out and time.time() < deadline:
                out += p.stdout.read1(4096)
            assert b"250 " in out, out
            return proc_ids(p.pid), [proc_ids(c) for c in children(p.pid)]
        finally:
            p.stdin.write(b"QUIT\r\n")
            p.stdin.close()
            p.wait(timeout=10)
            assert p.returncode == 0

    exim_uid = exim_user_uid(rc.EXIM)
    exim_gid = pwd.getpwuid(exim_uid).pw_gid
    top, kids = ids_while_waiting(rc.EXIM)
    assert top == {"Uid": [exim_uid] * 4, "Gid": [exim_gid] * 4, "Groups": [exim_gid]}
    assert kids == []
    our_uid = exim_user_uid(postern_bin)
    out = subprocess.run([postern_bin, "-bP", "exim_group"], capture_output=True, text=True, env=ENV).stdout
    our_gid = grp.getgrnam(out.split("=", 1)[1].strip()).gr_gid
    top, kids = ids_while_waiting(postern_bin)
    assert top["Uid"] == [0] * 4
    assert kids == [{"Uid": [our_uid] * 4, "Gid": [our_gid] * 4, "Groups": [our_gid]}]


def test_receiver_killed_after_250_loses_nothing():
    """Postern only: the exim-user child is killed right after it answered 250 for a message
    (-odq: nothing is handed over). The caller sees the status a killed receiver gives (the root
    parent dies of the same signal); the message stays on the spool and a queue run delivers it."""
    made_dir = not POSTERN_TRUSTED_LIST.parent.exists()
    r = TrustedRun(os.environ["POSTERN"])
    try:
        POSTERN_TRUSTED_LIST.parent.mkdir(exist_ok=True)
        POSTERN_TRUSTED_LIST.write_text(f"{r.d / 'conf'}\n")
        os.chmod(POSTERN_TRUSTED_LIST, 0o644)
        p = subprocess.Popen([r.binary, "-C", str(r.d / "conf"), "-odq", "-bs"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=rc.ENV, cwd=r.d)
        try:
            p.stdin.write(SMTP.replace("QUIT\r\n", "").encode())
            p.stdin.flush()
            out = b""
            deadline = time.time() + 10
            while b"250 OK id=" not in out and time.time() < deadline:
                out += p.stdout.read1(4096)
            assert b"250 OK id=" in out, out
            kids = children(p.pid)
            assert len(kids) == 1
            os.kill(kids[0], 9)
            p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
        assert p.returncode == -9
        msgid = out.split(b"250 OK id=")[1].split()[0].decode()
        assert (r.d / "spool" / "input" / f"{msgid}-H").exists()
        r.cmd("-q")
        assert any(x == "ID Completed" for x in r.log("mainlog"))
    finally:
        POSTERN_TRUSTED_LIST.unlink(missing_ok=True)
        if made_dir:
            shutil.rmtree(POSTERN_TRUSTED_LIST.parent, ignore_errors=True)
        r.close()


def test_parent_killed_ends_the_reception():
    """Postern only: the caller knows the root parent's pid; when that is killed (SIGTERM), the
    exim-user child holding the session ends too, and nothing was queued."""
    made_dir = not POSTERN_TRUSTED_LIST.parent.exists()
    r = TrustedRun(os.environ["POSTERN"])
    try:
        POSTERN_TRUSTED_LIST.parent.mkdir(exist_ok=True)
        POSTERN_TRUSTED_LIST.write_text(f"{r.d / 'conf'}\n")
        os.chmod(POSTERN_TRUSTED_LIST, 0o644)
        p = subprocess.Popen([r.binary, "-C", str(r.d / "conf"), "-odi", "-bs"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=rc.ENV, cwd=r.d)
        try:
            p.stdin.write(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<pd@test.example>\r\nDATA\r\n")
            p.stdin.flush()
            out = b""
            deadline = time.time() + 10
            while b"354 " not in out and time.time() < deadline:
                out += p.stdout.read1(4096)
            assert b"354 " in out, out
            kids = children(p.pid)
            assert len(kids) == 1
            p.terminate()
            p.wait(timeout=10)
            def alive(pid):   # a zombie waiting for a reaper has ended too
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        return f.read().rsplit(")", 1)[1].split()[0] != "Z"
                except OSError:
                    return False
            deadline = time.time() + 5
            while alive(kids[0]) and time.time() < deadline:
                time.sleep(0.05)
            assert not alive(kids[0])
        finally:
            if p.poll() is None:
                p.kill()
        assert p.returncode == -15
        assert not list((r.d / "spool" / "input").rglob("*-H"))
    finally:
        POSTERN_TRUSTED_LIST.unlink(missing_ok=True)
        if made_dir:
            shutil.rmtree(POSTERN_TRUSTED_LIST.parent, ignore_errors=True)
        r.close()
