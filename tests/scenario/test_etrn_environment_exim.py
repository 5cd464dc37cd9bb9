"""The environment of smtp_etrn_command, Postern against Debian's Exim 4.96: Exim purges its own
environment at start (keep_environment, add_environment), so the command sees none of the
caller's variables, and an ETRN command that is the MTA itself ("-R domain") writes no second
"Warning: purging the environment." line."""
import os
import re
import shutil
import subprocess
import time

import pytest

from daemon_helpers import reachable_by_exim_user, wait_for

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

BASE = """primary_hostname = etrn.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
tls_advertise_hosts =
acl_smtp_etrn = accept
smtp_etrn_command = {command}
"""

CALLER_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/root", "FOO": "bar"}
WARNING = "Warning: purging the environment."

SETTINGS = {
    "unset": "",
    "kept and added": "keep_environment = ^F\nadd_environment = A=1\n",
}


def session(cmd, d, command, extra):
    if d.exists():
        shutil.rmtree(d)
    for sub in ("spool", "log", "out"):
        (d / sub).mkdir(parents=True)
        shutil.chown(d / sub, "Debian-exim", "Debian-exim")
    conf = d / "conf"
    conf.write_text(BASE.format(d=d, command=command.format(cmd=cmd, d=d)) + extra)
    subprocess.run([cmd, "-C", str(conf), "-bs"], input="EHLO x\r\nETRN etrn.test\r\nQUIT\r\n",
                   capture_output=True, text=True, env=CALLER_ENV, timeout=30)


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_command_environment_as_exim(postern_bin, tmp_path, setting):
    reachable_by_exim_user(tmp_path)
    script = tmp_path / "show-env"
    script.write_text(f"#!/bin/sh\nenv > \"$1/out/env\"\n")
    script.chmod(0o755)
    seen = []
    for cmd, d in (("/usr/sbin/exim", tmp_path / "e"), (postern_bin, tmp_path / "p")):
        session(cmd, d, f"{script} {{d}}", SETTINGS[setting])
        out = d / "out" / "env"
        assert wait_for(lambda: out.exists() and out.read_text(), 10)
        time.sleep(0.2)
        lines = sorted(out.read_text().replace(str(d), "D").splitlines())
        seen.append(lines)
    assert seen[1] == seen[0]
    want = ["PWD=D/spool"] if setting == "unset" else ["A=1", "FOO=bar", "PWD=D/spool"]
    assert seen[0] == want


def test_mta_as_command_warns_once(postern_bin, tmp_path):
    """The queue run the ETRN starts does not warn again (the session itself does)."""
    reachable_by_exim_user(tmp_path)
    counts = []
    for cmd, d in (("/usr/sbin/exim", tmp_path / "e"), (postern_bin, tmp_path / "p")):
        session(cmd, d, "{cmd} -C {d}/conf -R etrn.test", "")
        main = d / "log" / "mainlog"
        assert wait_for(lambda: "End queue run" in main.read_text(), 15), main.read_text()
        counts.append(main.read_text().count(WARNING))
    assert counts == [1, 1]
