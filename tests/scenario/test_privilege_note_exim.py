"""The "exim user lost privilege for using -C option" line, beside live Exim 4.96.

Exim writes it to the main and panic logs (so also on stderr) at every start when its caller is
the exim user and -C names a configuration it does not trust, unless deliver_drop_privilege is
set; root calling with -C keeps its privilege for these modes and gets no line. Compared: the
stderr lines, main log and panic log (times and ids masked) for -be, -bp and -odq."""
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
keep_environment =
{main}
begin routers
local:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = {d}/mail
  user = Debian-exim
"""

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0
                                or not shutil.which("runuser"),
                                reason="needs Exim 4.96, root and runuser")


def clean(text, d):
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
        line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
        out.append(line.replace(str(d), "D"))
    return out


def run(binary, args, as_user, main=""):
    d = pathlib.Path(tempfile.mkdtemp(prefix="privnote_"))
    try:
        os.chmod(d, 0o755)
        (d / "spool").mkdir()
        os.chmod(d / "spool", 0o777)
        (d / "conf").write_text(CONF.format(d=d, main=main))
        os.chmod(d / "conf", 0o644)
        cmd = [binary, "-C", str(d / "conf"), *args]
        if as_user:
            cmd = ["runuser", "-u", "Debian-exim", "--", *cmd]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        logs = {}
        for name in ("mainlog", "paniclog"):
            f = d / "spool" / "log" / name
            logs[name] = clean(f.read_text(), d) if f.exists() else None
        return r.returncode, clean(r.stderr, d), logs
    finally:
        shutil.rmtree(d, ignore_errors=True)


CASES = {
    "be": (["-be", "$primary_hostname"], True, ""),
    "bp": (["-bp"], True, ""),
    "odq": (["-odq", "a@test.example"], True, ""),
    "odq-drop-privilege": (["-odq", "a@test.example"], True, "deliver_drop_privilege"),
    "odq-root": (["-odq", "a@test.example"], False, ""),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lost_privilege_line_like_exim(name):
    args, as_user, main = CASES[name]
    exim = run(EXIM, args, as_user, main)
    ours = run(os.environ["POSTERN"], args, as_user, main)
    assert ours == exim
