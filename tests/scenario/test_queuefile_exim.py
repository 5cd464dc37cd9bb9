"""Issue 4 acceptance 3: a message the queuefile transport exports (facts §9), placed in the input/
directory of an Exim 4.96 spool, is delivered by Exim on its next queue run."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

EXIM = shutil.which("exim") or shutil.which("exim4")


@pytest.fixture
def world_dir():
    """A directory the delivering user (mail) can reach (pytest's tmp_path is private)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run Exim's delivery as another user")
    d = tempfile.mkdtemp(prefix="queuefile_exim_")
    os.chmod(d, 0o777)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


# queuefile links the spool files, so it runs as the user owning them: the exim user (as in Exim).
POSTERN_CONF = """spool_directory = {d}/postern
exim_user = mail
exim_group = mail
primary_hostname = test.ex
qualify_domain = test.ex
begin routers
r:
  driver = accept
  transport = export
  user = mail
begin transports
export:
  driver = queuefile
  directory = {d}/out
"""

EXIM_CONF = """spool_directory = {d}/exim
log_file_path = {d}/exim/log/%slog
exim_user = root
exim_group = root
primary_hostname = exim.test.ex
qualify_domain = test.ex
keep_environment =
begin routers
local:
  driver = accept
  local_parts = u1
  transport = mbox
  user = mail
begin transports
mbox:
  driver = appendfile
  file = {d}/mail/$local_part_data
"""


@pytest.mark.skipif(EXIM is None, reason="Debian's exim4-daemon-heavy is not installed")
def test_exported_message_is_delivered_by_exim(postern_bin, world_dir):
    d = world_dir
    (d / "out").mkdir()
    os.chmod(d / "out", 0o777)
    (d / "mail").mkdir()
    os.chmod(d / "mail", 0o777)
    (d / "postern.conf").write_text(POSTERN_CONF.format(d=d))
    (d / "exim.conf").write_text(EXIM_CONF.format(d=d))
    r = subprocess.run([postern_bin, "-C", str(d / "postern.conf"), "-odi", "-f", "s@x.example",
                        "u1@test.ex"],
                       input="Subject: exported\n\nline one\n.dot line\n", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    log = (d / "postern" / "log" / "mainlog").read_text()
    # One recipient: queuefile exports the whole message per address, so a second address of the
    # same message would find the files there and defer ("File exists"), as in Exim.
    assert "=> u1 <u1@test.ex> R=r T=export" in log, log
    assert "Completed" in log, log
    files = sorted(p.name for p in (d / "out").iterdir())
    assert len(files) == 2 and files[0].endswith("-D") and files[1].endswith("-H"), files
    msgid = files[0][:-2]

    # Place both files in Exim's spool and run its queue.
    (d / "exim" / "input").mkdir(parents=True)
    for f in files:
        shutil.copy2(d / "out" / f, d / "exim" / "input" / f)
    r = subprocess.run([EXIM, "-C", str(d / "exim.conf"), "-qf"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    exim_log = (d / "exim" / "log" / "mainlog").read_text()
    assert f"{msgid} => u1 <u1@test.ex> R=local T=mbox" in exim_log, exim_log
    assert f"{msgid} Completed" in exim_log, exim_log
    for u in ("u1",):
        box = (d / "mail" / u).read_text()
        assert box.startswith("From s@x.example "), box
        assert "\nSubject: exported\n" in box and "\nline one\n.dot line\n" in box, box
    assert not list((d / "exim" / "input").iterdir())
