"""Envelope addresses read back from the spool are tainted (as in Exim 4.96), so a transport may not
build a file name from $local_part: appendfile, autoreply and queuefile refuse it before touching
any file. The expected lines were recorded from Exim 4.96 for the same configurations (queuefile,
which Debian's Exim lacks, follows the same rule in the same words)."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest


@pytest.fixture
def world_dir():
    if os.geteuid() != 0:
        pytest.skip("needs root to run transports as another user")
    d = tempfile.mkdtemp(prefix="tainted_paths_")
    os.chmod(d, 0o777)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def run(postern_bin, d, transport):
    conf = d / "conf"
    conf.write_text(f"""spool_directory = {d}/spool
primary_hostname = test.ex
begin routers
r:
  driver = accept
  transport = t
  user = mail
begin transports
t:
{transport.format(d=d)}""")
    r = subprocess.run([postern_bin, "-C", str(conf), "-odi", "-f", "s@x.example", "u1@test.ex"],
                       input="Subject: x\n\nhi\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    log = (d / "spool" / "log" / "mainlog").read_text()
    return [re.sub(r"^\S+ \S+ \S+ ", "", l) for l in log.splitlines() if "u1@test.ex R=" in l]


def test_appendfile_refuses_tainted_file(postern_bin, world_dir):
    lines = run(postern_bin, world_dir, "  driver = appendfile\n  file = {d}/f-$local_part\n")
    assert lines == [f"== u1@test.ex R=r T=t defer (-1): Tainted '{world_dir}/f-u1' "
                     "(file or directory name for t transport) not permitted"]
    assert not (world_dir / "f-u1").exists()


def test_autoreply_refuses_tainted_once_file(postern_bin, world_dir):
    lines = run(postern_bin, world_dir, "  driver = autoreply\n  to = a@b.example\n  text = hi\n"
                "  once = {d}/once-$local_part\n  file = {d}/file-$local_part\n")
    assert lines == [f"== u1@test.ex R=r T=t defer (13): Permission denied: Tainted "
                     f"'{world_dir}/once-u1' (once file for t transport) not permitted"]
    assert not list(world_dir.glob("once-*"))


def test_autoreply_refuses_tainted_file(postern_bin, world_dir):
    lines = run(postern_bin, world_dir, "  driver = autoreply\n  to = a@b.example\n  text = hi\n"
                "  file = {d}/file-$local_part\n")
    assert lines == [f"== u1@test.ex R=r T=t defer (13): Permission denied: Tainted "
                     f"'{world_dir}/file-u1' (file for t transport) not permitted"]


def test_queuefile_refuses_tainted_directory(postern_bin, world_dir):
    lines = run(postern_bin, world_dir, "  driver = queuefile\n  directory = {d}/q-$local_part\n")
    assert lines == [f"== u1@test.ex R=r T=t defer (13): Permission denied: Tainted "
                     f"'{world_dir}/q-u1' (directory for t transport) not permitted"]
