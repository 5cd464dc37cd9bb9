"""What `make run` does: the daemon on the embedded configuration (-C @builtin) started in a
directory of the user's, with the spool, logs and pid file under ./var there.

Session 11 made a relative pid file path an error (as in Exim), which stopped `make run` at once;
and the embedded configuration counted as an untrusted -C, so each delivery was run again as the
exim user with "-C <cwd>/builtin", a file that does not exist, and nothing was delivered or
logged. Now "./var" in the embedded configuration means the directory the program was started
in, and the configuration compiled into the program is trusted as the compiled-in search list is.
"""
import os
import pathlib
import pwd
import shutil
import smtplib
import subprocess
import time

import pytest

from daemon_helpers import free_ports, reachable_by_exim_user

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="make run's daemon is started as root")


def wait_for(pred, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def test_builtin_daemon_from_a_checkout(postern_bin, tmp_path):
    reachable_by_exim_user(tmp_path)
    user = subprocess.run([postern_bin, "-C", "@builtin", "-bP", "-n", "exim_user"],
                          capture_output=True, text=True, check=True).stdout.strip()
    pw = pwd.getpwnam(user)
    for d in ("var", "var/spool", "var/log"):
        (tmp_path / d).mkdir(exist_ok=True)
        os.chown(tmp_path / d, pw.pw_uid, pw.pw_gid)
    shown = subprocess.run([postern_bin, "-C", "@builtin", "-bP", "spool_directory", "pid_file_path"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert shown.splitlines() == [f"spool_directory = {tmp_path}/var/spool",
                                  f"pid_file_path = {tmp_path}/var/postern.pid"]
    (port,) = free_ports(1)
    # -oX for a free port (with -oX a pid file is written only when -oP names one, as in Exim)
    daemon = subprocess.Popen([postern_bin, "-C", "@builtin", "-bdf", "-oX", str(port),
                               "-oP", str(tmp_path / "var" / "postern.pid")],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        pid_file = tmp_path / "var" / "postern.pid"
        assert wait_for(pid_file.exists), daemon.stdout.read1().decode() if daemon.poll() else "no pid file"
        assert int(pid_file.read_text().split()[0]) == daemon.pid
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("", ["postmaster@localhost"], b"Subject: make run\r\n\r\nhello\r\n")
        mainlog = tmp_path / "var" / "log" / "mainlog"

        def delivery_tried():
            text = mainlog.read_text() if mainlog.exists() else ""
            ids = [x.split()[2] for x in text.splitlines() if " <= " in x]
            return ids and any(f" {ids[0]} {m} " in text for m in ("=>", "==", "**"))
        assert wait_for(delivery_tried), mainlog.read_text()
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    shutil.rmtree(tmp_path / "var", ignore_errors=True)
