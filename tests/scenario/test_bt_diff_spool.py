"""-bt with a spool directory that does not exist yet: Exim 4.96 creates it (owned by the Exim
user, mode 0750) and routes as usual; so does Postern (checked live: the leftover note that said
Exim does not was wrong). Compared with a live Exim when one is installed."""
import os
import pathlib
import pwd
import shutil
import stat
import subprocess
import tempfile

import pytest

EXIM = shutil.which("exim")

CONF = """primary_hostname = client.test
spool_directory = {d}/sp
exim_user = Debian-exim
exim_group = Debian-exim
begin routers
r:
  driver = manualroute
  route_list = * 127.0.0.1
  self = send
  transport = t
begin transports
t:
  driver = smtp
"""


def test_bt_creates_a_missing_spool_directory(postern_bin):
    if os.geteuid() != 0:
        pytest.skip("needs root (the directory is given to the Exim user)")
    runs = [postern_bin] + ([EXIM] if EXIM else [])
    seen = []
    for binary in runs:
        d = pathlib.Path(tempfile.mkdtemp(prefix="bt_spool_"))
        try:
            os.chmod(d, 0o755)
            (d / "conf").write_text(CONF.format(d=d))
            r = subprocess.run([binary, "-C", str(d / "conf"), "-bt", "u@a.test"], capture_output=True,
                               text=True, timeout=30)
            st = (d / "sp").stat()
            seen.append((r.stdout, r.returncode, stat.S_IMODE(st.st_mode), pwd.getpwuid(st.st_uid).pw_name))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    assert seen[0] == ("u@a.test\n  router = r, transport = t\n  host 127.0.0.1 [127.0.0.1]\n", 0, 0o750,
                       "Debian-exim")
    assert all(s == seen[0] for s in seen), seen
