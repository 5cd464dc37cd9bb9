"""A log that cannot be opened, compared with live Exim 4.96 (docs/logging.md, "When a log cannot
be opened").

Exim ends the process with status 1 when the main log cannot be opened (after writing the lost
line and "Cannot open main log file ..." to the panic log) and when the panic log cannot be
opened ("exim: could not open panic log - aborting: see message(s) above" on stderr). In an SMTP
session it answers "421 Unexpected failure, please try later" ("... log failure ..." for the
panic log) and goes on answering what the client sent: RSET 250, QUIT 221, the rest 421. A line
logged to the panic log alone (logwrite = :panic:) does not go to the main log.

Each case makes a log unopenable by putting a directory where the file would be. The effective
uid and gid in "euid=N egid=N" are masked: Exim's -bs and daemon run as the exim user by then,
Postern's as root (docs/command-line.md: root with -C keeps root).
"""
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import tempfile

import pytest

from daemon_helpers import free_ports

EXIM = shutil.which("exim")
pytestmark = pytest.mark.skipif(EXIM is None or os.geteuid() != 0,
                                reason="needs root and Exim 4.96 for the comparison")

CONF = """exim_user = mail
exim_group = mail
spool_directory = {d}/spool
keep_environment =
tls_advertise_hosts =
log_file_path = {d}/logs/%slog
primary_hostname = test.example
acl_smtp_connect = acl_c
{extra}
begin acl
acl_c:
  warn logwrite = :{which}: boo
  accept
"""


def world(which, dirs, extra=""):
    """A directory the exim user can reach, with logs/ owned by it and the given names in logs/
    made directories (so they cannot be opened as files)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-paniclog-"))
    os.chmod(d, 0o755)
    mail = pwd.getpwnam("mail")
    logs = d / "logs"
    logs.mkdir()
    os.chown(logs, mail.pw_uid, mail.pw_gid)
    for n in dirs:
        (logs / n).mkdir()
    (d / "c.conf").write_text(CONF.format(d=d, which=which, extra=extra))
    return d


def masked(text, d):
    text = text.replace(str(d), "D")
    text = re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", text)
    text = re.sub(r"euid=\d+ egid=\d+", "euid=N egid=N", text)
    text = re.sub(r"pid=\d+", "pid=N", text)
    return re.sub(r"Exim 4\.96 .*\r", "Exim 4.96 DATE\r", text)


def outcome(r, d):
    logs = d / "logs"
    files = {}
    for n in sorted(os.listdir(logs)):
        p = logs / n
        files[n] = masked(p.read_text(), d) if p.is_file() else "(directory)"
    return {"rc": r.returncode, "stdout": masked(r.stdout.decode(), d),
            "stderr": masked(r.stderr.decode(), d), "logs": files}


@pytest.mark.parametrize("which, dirs", [
    ("panic", []),                          # both fine: the panic-only line is not in mainlog
    ("panic", ["paniclog"]),                # panic log unopenable: abort, 421 log failure
    ("main", ["paniclog"]),                 # not needed: nothing happens
    ("panic", ["mainlog"]),                 # panic-only line: the main log is not touched
    ("main", ["mainlog"]),                  # main log unopenable: panic log has it, 421
    ("main", ["mainlog", "paniclog"]),      # both: abort, 421 log failure
    ("panic", ["mainlog", "paniclog"]),
])
def test_bs_session_with_unopenable_log(postern_bin, which, dirs):
    results = []
    made = []
    try:
        for binary in (EXIM, postern_bin):
            d = world(which, dirs)
            made.append(d)
            r = subprocess.run([binary, "-C", str(d / "c.conf"), "-bs"], input=b"NOOP\r\nRSET\r\nQUIT\r\n",
                               capture_output=True, timeout=60)
            results.append(outcome(r, d))
        exim, postern = results
        assert postern == exim
        # What the case is about, so that a change in both cannot pass unseen.
        if dirs:
            fatal = which == "main" and "mainlog" in dirs or which == "panic" and "paniclog" in dirs
            assert (exim["rc"] == 1) == fatal, exim
    finally:
        for d in made:
            shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("dirs", [["mainlog"], ["mainlog", "paniclog"]])
def test_daemon_start_with_unopenable_log(postern_bin, dirs):
    """The daemon's start line cannot be written: it ends with status 1 at once."""
    results = []
    made = []
    try:
        for binary in (EXIM, postern_bin):
            (port,) = free_ports(1)
            d = world("main", dirs, extra=f"daemon_smtp_ports = {port}\nlocal_interfaces = 127.0.0.1")
            made.append(d)
            r = subprocess.run([binary, "-C", str(d / "c.conf"), "-bdf"], capture_output=True, timeout=30)
            o = outcome(r, d)
            o["stderr"] = o["stderr"].replace(f":{port}", ":PORT")
            o["logs"] = {k: v.replace(f":{port}", ":PORT") for k, v in o["logs"].items()}
            results.append(o)
        exim, postern = results
        assert postern == exim
        assert exim["rc"] == 1
    finally:
        for d in made:
            shutil.rmtree(d, ignore_errors=True)


def test_bs_banner_that_does_not_expand(postern_bin):
    """A PANIC_DIE in a session (smtp_banner fails to expand): 421 Unexpected failure and the
    closedown answers; the line in the main and panic logs; status 1."""
    results = []
    made = []
    try:
        for binary in (EXIM, postern_bin):
            d = world("main", [], extra="smtp_banner = ${lookup{x}lsearch{/nonexistent/postern}}")
            made.append(d)
            r = subprocess.run([binary, "-C", str(d / "c.conf"), "-bs"], input=b"NOOP\r\nRSET\r\nQUIT\r\n",
                               capture_output=True, timeout=60)
            results.append(outcome(r, d))
        exim, postern = results
        assert postern == exim
        assert exim["rc"] == 1 and exim["stdout"].startswith("421 Unexpected failure"), exim
    finally:
        for d in made:
            shutil.rmtree(d, ignore_errors=True)
