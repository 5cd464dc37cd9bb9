"""check_spool_space, check_spool_inodes, check_log_space, check_log_inodes: Postern against
Debian's Exim 4.96 on the same configuration. Thresholds above what any disk here has make the
check fail: MAIL is refused with 452 in every SMTP mode (smtp_check_spool_space or not), a local
submission or a -bS run ends with "exim: insufficient disk space" and status 1 before it reads
its input, and the main log says which directory was short."""
import os
import re
import shutil
import subprocess

import pytest

from daemon_helpers import reachable_by_exim_user

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

BASE = """primary_hostname = space.test
spool_directory = {d}/spool
log_file_path = {logpath}
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
tls_advertise_hosts =
keep_environment =
acl_smtp_rcpt = accept
"""

ROUTING = """
begin routers
r:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = /dev/null
  user = Debian-exim
"""

SMTP = ("EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@space.test>\r\nRSET\r\n"
        "MAIL FROM:<a@b.c> SIZE=1000\r\nRSET\r\nMAIL FROM:<a>\r\nQUIT\r\n")
BSMTP = "MAIL FROM:<a@b.c>\nRCPT TO:<x@space.test>\nDATA\nSubject: x\n\nbody\n.\nQUIT\n"
MESSAGE = "To: x@space.test\nSubject: x\n\nbody\n"

HUGE = "100000G"   # more than any disk this runs on


def run(cmd, d, extra, args, stdin, logpath="{d}/log/%slog"):
    """(status, stdout, stderr, main log lines, messages on the spool), numbers that depend on
    the disk and the clock made neutral."""
    if d.exists():
        shutil.rmtree(d)
    for sub in ("spool", "log"):
        (d / sub).mkdir(parents=True)
        shutil.chown(d / sub, "Debian-exim", "Debian-exim")
    conf = d / "conf"
    conf.write_text(BASE.format(d=d, logpath=logpath.format(d=d)) + extra + ROUTING)
    r = subprocess.run([cmd, "-C", str(conf), "-odq"] + list(args), input=stdin, capture_output=True,
                       text=True, timeout=30)
    main = d / "log" / "mainlog"
    lines = main.read_text().splitlines() if main.exists() else []
    lines = [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (\S{6}-\S{6}-\S{2} )?", "", l) for l in lines]
    lines = [l for l in lines if not l.startswith("<=")] + [l[:2] for l in lines if l.startswith("<=")]
    spool = d / "spool" / "input"
    queued = len(list(spool.glob("*-H"))) if spool.exists() else 0

    def neutral(t):
        t = re.sub(r"space=-?\d+ inodes=-?\d+", "space=N inodes=N", t)
        t = re.sub(r"(ESMTP Exim 4.96|Postern \S+) .*", "ESMTP", t)
        return re.sub(r"id=\S+", "id=X", t)
    return (r.returncode, neutral(r.stdout), r.stderr, [neutral(l) for l in lines], queued)


def both(postern_bin, tmp_path, extra, args, stdin, **kw):
    reachable_by_exim_user(tmp_path)
    exim = run("/usr/sbin/exim", tmp_path / "exim", extra, args, stdin, **kw)
    ours = run(postern_bin, tmp_path / "postern", extra, args, stdin, **kw)
    assert ours == exim
    return ours


SHORT = {
    "spool space": f"check_spool_space = {HUGE}\n",
    "spool inodes": "check_spool_inodes = 2000000000\n",
    "spool space, no smtp check": f"check_spool_space = {HUGE}\nno_smtp_check_spool_space\n",
    "log space": f"check_log_space = {HUGE}\n",
    "log inodes": "check_log_inodes = 2000000000\n",
}


@pytest.mark.parametrize("name", list(SHORT))
def test_smtp_mail_refused(postern_bin, tmp_path, name):
    status, out, err, log, queued = both(postern_bin, tmp_path, SHORT[name], ["-bs"], SMTP)
    which = "log" if name.startswith("log") else "spool"
    assert status == 0 and queued == 0
    assert out.count("452 Space shortage, please try later\n") == 3, out
    assert log == [f"{which} directory space check failed: space=N inodes=N"] * 3


@pytest.mark.parametrize("name", ["spool space", "log inodes"])
@pytest.mark.parametrize("args,stdin", [(["x@space.test"], MESSAGE), (["-t"], MESSAGE), (["-bS"], BSMTP),
                                        (["-oep", "x@space.test"], MESSAGE)],
                         ids=["-bm", "-t", "-bS", "-oep"])
def test_local_reception_refused(postern_bin, tmp_path, name, args, stdin):
    status, out, err, log, queued = both(postern_bin, tmp_path, SHORT[name], args, stdin)
    which = "log" if name.startswith("log") else "spool"
    assert (status, out, err, queued) == (1, "", "exim: insufficient disk space\n", 0)
    assert log == [f"{which} directory space check failed: space=N inodes=N"]


def test_checked_after_bad_sender_before_recipients(postern_bin, tmp_path):
    """Exim's order: a bad -f address is reported first (its wording is not compared here);
    a bad recipient after the check."""
    short = SHORT["spool space"]
    for cmd, d in (("/usr/sbin/exim", tmp_path / "e"), (postern_bin, tmp_path / "p")):
        status, out, err, log, queued = run(cmd, d, short, ["-f", "a b@", "x@space.test"], MESSAGE)
        assert (status, log) == (1, []) and err.startswith("exim: bad -f address"), err
    assert both(postern_bin, tmp_path, short, ["a b@"], MESSAGE)[2] == "exim: insufficient disk space\n"


def test_room_enough_accepts(postern_bin, tmp_path):
    """Thresholds that the disk meets (and the checks off): the message is taken."""
    for extra in ("check_spool_space = 1K\ncheck_log_space = 1K\n",
                  "check_spool_space = 0\ncheck_spool_inodes = 0\ncheck_log_space = 0\ncheck_log_inodes = 0\n"):
        status, out, err, log, queued = both(postern_bin, tmp_path, extra, ["x@space.test"], MESSAGE)
        assert (status, err, log, queued) == (0, "", ["<="], 1)


@pytest.mark.parametrize("logpath,checked", [
    ("{d}/log/%slog : syslog", True),
    ("syslog : {d}/log/%slog", True),
    ("{d}/log/%s-%D", True),
    ("{d}/log/%D/%s", False),   # the directory is taken as written: "%D" does not exist
    ("syslog", False),
])
def test_log_directory_from_path(postern_bin, tmp_path, logpath, checked):
    status, out, err, log, queued = both(postern_bin, tmp_path, SHORT["log space"], ["x@space.test"], MESSAGE,
                                         logpath=logpath)
    assert (status == 1) == checked and (queued == 0) == checked


def test_host_checking_shows_log_line(postern_bin, tmp_path):
    """-bh: the same 452, and the log line on stderr as "LOG: ..."."""
    reachable_by_exim_user(tmp_path)
    outs = []
    for cmd, d in (("/usr/sbin/exim", tmp_path / "e"), (postern_bin, tmp_path / "p")):
        for sub in ("spool", "log"):
            (d / sub).mkdir(parents=True)
            shutil.chown(d / sub, "Debian-exim", "Debian-exim")
        conf = d / "conf"
        conf.write_text(BASE.format(d=d, logpath=f"{d}/log/%slog") + SHORT["spool space"])
        r = subprocess.run([cmd, "-C", str(conf), "-bh", "192.0.2.1"], input="EHLO x\r\nMAIL FROM:<a@b.c>\r\nQUIT\r\n",
                           capture_output=True, text=True, timeout=30)
        outs.append(([l for l in r.stdout.splitlines() if l.startswith("452")],
                     [re.sub(r"\d+", "N", l) for l in r.stderr.splitlines() if l.startswith("LOG:")]))
    assert outs[1] == outs[0]
    assert outs[0] == (["452 Space shortage, please try later"],
                       ["LOG: spool directory space check failed: space=N inodes=N"])
