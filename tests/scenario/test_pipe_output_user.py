"""A pipe transport running as an unprivileged user: its returned output (return_output) reaches
the bounce and its log_output line reaches the main log, although the user can reach neither the
msglog nor the log directory (the delivery process opens both for it before the uid change, as
Exim does). The kept output file is gone once the bounce is sent."""
import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to change uid")

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
never_users =
trusted_users = root
keep_environment =
begin routers
bounces:
  driver = accept
  domains = s.test
  transport = mb
r:
  driver = accept
  transport = p
begin transports
mb:
  driver = appendfile
  file = {d}/mb/bounces
  user = nobody
p:
  driver = pipe
  command = /bin/sh -c 'echo pipe said this; echo and more; exit {status}'
  {option}
  user = nobody
  log_output
"""


@pytest.mark.parametrize("option,status", [("return_output", 0), ("return_fail_output", 1)])
def test_pipe_output_as_other_user_reaches_bounce(postern_bin, option, status):
    pwd.getpwnam("nobody")
    d = pathlib.Path(tempfile.mkdtemp(prefix="pipeout-"))
    try:
        os.chmod(d, 0o755)
        (d / "log").mkdir(mode=0o700)
        (d / "mb").mkdir()
        os.chmod(d / "mb", 0o777)
        conf = d / "c.conf"
        conf.write_text(CONF.format(d=d, option=option, status=status))
        subprocess.run([postern_bin, "-C", str(conf), "-odi", "-f", "sender@s.test", "a@r.test"],
                       input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
        log = (d / "log" / "mainlog").read_text()
        assert "<a@r.test>: p transport output: pipe said this" in log, log
        assert "** a@r.test R=r T=p" in log, log
        panic = d / "log" / "paniclog"
        assert not panic.exists() or panic.read_text() == "", panic.read_text()
        # The bounce is delivered by a background process of its own.
        box = d / "mb" / "bounces"
        for _ in range(100):
            if box.exists() and "pipe said this" in box.read_text():
                break
            time.sleep(0.1)
        bounce = box.read_text()
        assert "The following text was generated during the delivery attempt:" in bounce, bounce
        assert "------ a@r.test ------\n\npipe said this\nand more\n" in bounce, bounce
        left = list((d / "spool" / "msglog").iterdir()) if (d / "spool" / "msglog").exists() else []
        assert not [p for p in left if "-R" in p.name], left
    finally:
        shutil.rmtree(d, ignore_errors=True)
