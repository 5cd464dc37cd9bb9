"""Receptions by root with an untrusted -C, beside live Exim 4.96.

Exim receives a message as the exim user ("${run{/usr/bin/id}}" in its ACLs says uid=Debian-exim)
for -bs and -bm alike, while it still names root as the caller: U=root, $caller_uid 0, and root's
rights as a trusted caller (-f). Postern, which is not set-uid, gives root up the same way before
it reads the message when the configuration is untrusted. Compared: the main and panic logs
(with the ACLs' logwrite lines), stderr, what the delivery's pipe sees and the owners of the
spool files."""
import os

import test_root_config_exim as rc
from test_root_config_exim import MSG, Run

ACLS = ("acl_not_smtp = acl_ns\n"
        "begin acl\n"
        "acl_r:\n  accept logwrite = rcpt ${run{/usr/bin/id}} caller=$caller_uid/$caller_gid "
        "orig=$originator_uid/$originator_gid\n"
        "acl_ns:\n  accept logwrite = ns ${run{/usr/bin/id}} caller=$caller_uid/$caller_gid "
        "orig=$originator_uid/$originator_gid\n\n"
        "begin routers\n")

SMTP = ("HELO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<pd@test.example>\r\n"
        "DATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n")

pytestmark = rc.pytestmark


class AclRun(Run):
    """The rootc configuration with ACLs that log the uid a ${run} command gets."""
    def __init__(self, binary, **kw):
        super().__init__(binary, **kw)
        conf = self.d / "conf"
        text = conf.read_text().replace("acl_smtp_rcpt = accept", "acl_smtp_rcpt = acl_r", 1)
        conf.write_text(text.replace("begin routers\n", ACLS, 1))

    def spool_owners(self):
        return sorted(f"{p.relative_to(self.d / 'spool').parent}:{p.stat().st_uid}:{p.stat().st_gid}"
                      for p in (self.d / "spool").rglob("*") if p.is_file() and "db" not in p.parts)


def both(fn):
    res = []
    for binary in (rc.EXIM, os.environ["POSTERN"]):
        r = AclRun(binary)
        try:
            res.append(fn(r))
        finally:
            r.close()
    return res


def test_root_bs_receives_as_exim_user_like_exim():
    def go(r):
        r.cmd("-odi", "-bs", stdin=SMTP)
        return r.result()
    exim, ours = both(go)
    assert ours == exim
    assert "rcpt uid=102(Debian-exim) gid=105(Debian-exim) groups=105(Debian-exim)\\n caller=0/0 orig=0/0" \
        in exim["mainlog"]


def test_root_bm_receives_as_exim_user_like_exim():
    def go(r):
        r.cmd("-odi", "-f", "set@by.root", "pd@test.example", stdin=MSG)
        return r.result()
    exim, ours = both(go)
    assert ours == exim
    assert any(x.startswith("ID <= set@by.root U=root ") for x in exim["mainlog"])


def test_root_bm_odq_spool_files_like_exim():
    """Queued only: the files the reception writes belong to the exim user."""
    def go(r):
        r.cmd("-odq", "pd@test.example", stdin=MSG)
        return r.result(), r.spool_owners()
    exim, ours = both(go)
    assert ours == exim
    assert any(x.startswith("ID ns uid=102(Debian-exim)") for x in exim[0]["mainlog"])
    assert exim[1] and all(x.endswith(":102:105") for x in exim[1])


def test_root_bh_runs_as_exim_user_like_exim():
    """-bh by root: the session runs as the exim user too (the ACL's logwrite line as -bh shows
    it)."""
    def go(r):
        p = r.cmd("-bh", "10.0.0.1", stdin=SMTP)
        return [rc.clean_line(x, r.d, r.binary) for x in (p.stdout + p.stderr).splitlines()
                if x.startswith("LOG: rcpt")]
    exim, ours = both(go)
    assert ours == exim
    assert exim == ["LOG: rcpt uid=102(Debian-exim) gid=105(Debian-exim) groups=105(Debian-exim)\\n "
                    "caller=0/0 orig=0/0"]
