"""-odi submission by a caller that is not root, with a configuration in the trusted list
(/etc/exim4/trusted_configs, Debian's TRUSTED_CONFIG_LIST; /etc/postern/trusted_configs),
delivering over the smtp transport, beside live Exim 4.96.

Observed with Exim 4.96 (strace -u): the trusted list is read only for root and the exim user.
- The exim user (Debian-exim) with a listed -C: no "lost privilege" line, the message arrives
  (U=Debian-exim) and the immediate delivery goes out at once; Postern does the same: the same
  commands and batches at the server and the same log lines.
- Any other user (nobody): the list is not read, Exim gives its set-uid root up at once and,
  as nobody, cannot make the spool's input directory: status 1, no message, no log file.
  Postern (never set-uid) fails the same way: status 1, no message, no log file, and the same
  stderr: 'Failed to create directory "<spool>/input": Permission denied' and an empty line
  (after the environment warning), times left out."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

import smtpclient_batches as sb
from smtpclient_batches import BatchServer, Conn

LISTS = {"exim": pathlib.Path("/etc/exim4/trusted_configs"), "postern": pathlib.Path("/etc/postern/trusted_configs")}

pytestmark = [pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                 reason="needs Debian's exim and root"),
              pytest.mark.skipif(any(p.exists() for p in LISTS.values()),
                                 reason="a trusted configuration list exists already: not touched")]


# Without conftest's test aid (POSTERN_TEST_TRUST_CONFIG): the trust under test is the real one.
def submit(who, caller):
    """One -odi submission by caller with a listed -C; returns (status, batches, log lines or
    None when no log file was made, messages left in the spool, stderr without times and with
    the run's directory as D)."""
    srv = BatchServer([Conn(replies={"EHLO": "250-fake\r\n250 PIPELINING\r\n"})] if caller != "nobody" else [])
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-trusted-"))
    listing = LISTS[who]
    made_dir = not listing.parent.exists()
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        for p in ["spool", "spool/db", "log"]:
            shutil.chown(d / p, "Debian-exim")
        conf = d / "c.conf"
        conf.write_text(sb.CONF.format(d=d, users="exim_user = Debian-exim\nexim_group = Debian-exim",
                                       tpuser="", port=srv.port, extra="", main="", auths=""))
        listing.parent.mkdir(exist_ok=True)
        listing.write_text(f"{conf}\n")
        os.chmod(listing, 0o644)
        cmd = "exim" if who == "exim" else sb.postern_bin()
        p = subprocess.run(["runuser", "-u", caller, "--", cmd, "-C", str(conf), "-odi", "a@r.test"],
                           input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60,
                           env={k: v for k, v in os.environ.items() if k != "POSTERN_TEST_TRUST_CONFIG"})
        srv.wait()
        log = sb.read_log(d) if (d / "log" / "mainlog").exists() else None
        left = len(list((d / "spool").rglob("*-H")))
        err = re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", p.stderr.decode()).replace(str(d), "D")
        return p.returncode, srv.batches, log, left, err
    finally:
        listing.unlink(missing_ok=True)
        if made_dir:
            shutil.rmtree(listing.parent, ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)




def test_exim_user_trusted_config_odi_delivers_like_exim():
    ex = submit("exim", "Debian-exim")
    pr = submit("postern", "Debian-exim")
    assert ex[0] == pr[0] == 0
    assert pr[1] == ex[1]   # stderr not compared: the exim user's run has no error
    assert ex[1][0][1] == ["MAIL FROM:<Debian-exim@client.test>", "RCPT TO:<a@r.test>", "DATA"]
    assert pr[2] == ex[2]
    assert ex[2][:2] == ["M1 <= Debian-exim@client.test U=Debian-exim P=local S=306",
                         'M1 => a@r.test R=r T=t H=127.0.0.1 [127.0.0.1] C="250 OK id=1"']
    assert ex[3] == pr[3] == 0


def test_other_user_trusted_config_is_not_trusted_like_exim():
    ex = submit("exim", "nobody")
    pr = submit("postern", "nobody")
    assert ex[:4] == (1, [], None, 0)
    assert 'Failed to create directory "D/spool/input": Permission denied\n\n' in ex[4]
    assert pr == ex
