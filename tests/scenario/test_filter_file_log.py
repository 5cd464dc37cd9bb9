"""A filter's file item delivered by an appendfile transport that names its own file: the "=>"
line shows the file written, not the item (Exim 4.96, recorded live with the same
configuration: "=> /tmp/x/mbox <u@a.test> R=f T=ft" for a Sieve keep and for "save /x/other")."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
keep_environment =
begin routers
f:
  driver = redirect
  domains = a.test
  file = {d}/filter
  allow_filter
  file_transport = ft
  user = mail
  no_check_local_user
begin transports
ft:
  driver = appendfile
  file = {d}/mbox
  user = mail
"""


@pytest.mark.parametrize("script", ["# Sieve filter\nkeep;\n", "# Exim filter\nsave {d}/other\n"])
def test_file_item_logs_the_transports_file(postern_bin, script):
    if os.geteuid() != 0:
        pytest.skip("needs root to deliver as another user")
    d = pathlib.Path(tempfile.mkdtemp(prefix="filter_file_"))
    try:
        os.chmod(d, 0o777)
        for sub in ("spool", "log"):
            (d / sub).mkdir()
            shutil.chown(d / sub, "Debian-exim", "Debian-exim")
        (d / "filter").write_text(script.format(d=d))
        os.chmod(d / "filter", 0o644)
        (d / "conf").write_text(CONF.format(d=d))
        r = subprocess.run([postern_bin, "-C", str(d / "conf"), "-odi", "-f", "s@x.test", "u@a.test"],
                           input="Subject: x\n\nbody\n", capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        log = (d / "log" / "mainlog").read_text()
        lines = [re.sub(r"^\S+ \S+ \S+ ", "", x) for x in log.splitlines() if " => " in x]
        assert lines == [f"=> {d}/mbox <u@a.test> R=f T=ft"], log
        assert (d / "mbox").read_text().endswith("body\n\n")
    finally:
        shutil.rmtree(d, ignore_errors=True)
