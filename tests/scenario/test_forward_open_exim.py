"""A redirect router's file is opened as the router's user, beside live Exim 4.96.

Exim reads a .forward (and the files it :include:s) in a subprocess under the router's uid and
gid, after finding out as root whether the file exists. Observed, with user = nobody:
  - a file only root can read: "failed to open <file>: Permission denied (euid=65534
    egid=65534)", a deferral (-1); ignore_eacces declines instead;
  - the open comes first: a root-only file with a bad mode is still "Permission denied";
  - then the mode, then check_owner ("bad mode" wins over "bad owner");
  - a missing file in a directory the user cannot search declines (checked as root), a present
    one there cannot be opened;
  - an :include:d root-only file: "error in redirect file: failed to open included file <file>:
    Permission denied (euid=65534 egid=65534)", errno -17, as other redirect list errors.
Both MTAs queue the message (-odq) and deliver it with a -q run as root, so that Exim keeps its
privilege for the delivery."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

EXIM = "/usr/sbin/exim"

CONF = """exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = {d}/spool
log_file_path = {d}/spool/log/%slog
primary_hostname = test.example
qualify_domain = test.example
keep_environment =
begin routers
userforward:
  driver = redirect
  local_parts = user1
  user = nobody
  file = {d}/{fwd}
{ropts}
local:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = {d}/mail/out
  user = Debian-exim
"""

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0,
                                reason="needs Exim 4.96 and root")


def run(binary, setup, ropts="", fwd="fwd"):
    d = pathlib.Path(tempfile.mkdtemp(prefix="fwdopen_"))
    try:
        os.chmod(d, 0o755)
        for sub in ("mail", "spool"):
            (d / sub).mkdir()
            os.chmod(d / sub, 0o777)
        setup(d)
        (d / "conf").write_text(CONF.format(d=d, ropts=ropts, fwd=fwd))
        for args in (["-odq", "-f", "a@test.example", "user1@test.example"], ["-q"]):
            r = subprocess.run([binary, "-C", str(d / "conf"), *args], input="Subject: x\n\nbody\n",
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
        lines = []
        for line in (d / "spool" / "log" / "mainlog").read_text().splitlines():
            if "lost privilege" in line or "environment" in line or "queue run" in line:
                continue
            line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
            line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
            if " <= <> " in line:
                line = re.sub(r" S=\d+", " S=N", line)   # the bounce's random boundary
            lines.append(line.replace(str(d), "D"))
        return sorted(lines)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def forward(mode, text="b@test.example\n", name="fwd"):
    def setup(d):
        f = d / name
        f.parent.mkdir(exist_ok=True)
        f.write_text(text)
        os.chmod(f, mode)
    return setup


def private_dir(present):
    def setup(d):
        (d / "priv").mkdir()
        os.chmod(d / "priv", 0o700)
        if present:
            (d / "priv" / "fwd").write_text("b@test.example\n")
    return setup


def include_root_only(d):
    (d / "inc").write_text("b@test.example\n")
    os.chmod(d / "inc", 0o600)
    (d / "fwd").write_text(f":include:{d}/inc\n")
    os.chmod(d / "fwd", 0o644)


CASES = {
    "root-only": (forward(0o600), "", "fwd"),
    "root-only-bad-mode": (forward(0o602), "", "fwd"),
    "root-only-ignore-eacces": (forward(0o600), "  ignore_eacces", "fwd"),
    "readable": (forward(0o644), "", "fwd"),
    "mode-before-owner": (forward(0o666), "  check_owner\n  owners = Debian-exim", "fwd"),
    "bad-owner": (forward(0o644), "  check_owner\n  owners = Debian-exim", "fwd"),
    "private-dir-missing": (private_dir(False), "", "priv/fwd"),
    "private-dir-present": (private_dir(True), "", "priv/fwd"),
    "include-root-only": (include_root_only, "", "fwd"),
    "include-relative": (forward(0o644, ":include:rel\n"), "", "fwd"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_file_opened_as_user_like_exim(name):
    setup, ropts, fwd = CASES[name]
    exim = run(EXIM, setup, ropts, fwd)
    ours = run(os.environ["POSTERN"], setup, ropts, fwd)
    assert ours == exim
