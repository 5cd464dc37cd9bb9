"""-t finding no recipients, reported per -oe as Exim 4.96 does (observed): under -oem (the
default), -oew and -oee a "Mail failure - no recipient addresses" message is spooled for the
sender (References: the message's Message-Id, a copy with the header fix-ups, arrival line
"<= <> R=<id>"), nothing printed but the panic-log echo, status 1 (0 with -oee); -oep/-oeq print
"exim: no recipients in message". Compared with Debian's exim where installed: exit status,
stderr, spool files (ids and times masked) and main-log lines."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

EXIM = shutil.which("exim") or "/usr/sbin/exim"

CONFIG = """spool_directory = {spool}
log_file_path = {spool}/log/%slog
exim_user = root
exim_group = root
primary_hostname = mx.local
queue_only = true
"""

ID = r"1[0-9A-Za-z]{5}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}"


def mask(t):
    # Postern's integrity line in -H (docs/spool.md), which Exim's reader ignores.
    t = re.sub(r"^-postern_sum .*\n", "", t, flags=re.M)
    t = re.sub(ID, "ID", t)
    t = re.sub(r"E1[0-9A-Za-z]{5}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", "EID", t)
    t = re.sub(r"\b\d{10}\b", "TIME", t)
    t = re.sub(r"\.\d{6}", ".USEC", t)
    t = re.sub(r"\w\w\w, \d\d? \w\w\w \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "DATE", t)
    t = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? ", "", t)
    return t


def run(prog, d, mode):
    spool = d / (os.path.basename(prog) + mode)
    spool.mkdir()
    conf = d / (spool.name + ".conf")
    conf.write_text(CONFIG.format(spool=spool))
    args = [prog, "-C", str(conf)] + ([mode] if mode else []) + ["-t", "-f", "a@b.example"]
    r = subprocess.run(args, input="Subject: t\n\nbody\n", capture_output=True, text=True, timeout=60)
    files = sorted((spool / "input").glob("*")) if (spool / "input").exists() else []
    log = (spool / "log" / "mainlog").read_text() if (spool / "log" / "mainlog").exists() else ""
    log = [mask(l) for l in log.splitlines() if re.match(r"\d{4}-", l) and "purging the environment" not in l]
    return r.returncode, mask(r.stderr), [mask(f.read_text()) for f in files], log


@pytest.fixture
def workdir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="oe-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d)


@pytest.mark.parametrize("mode", ["", "-oem", "-oew", "-oee", "-oep", "-oeq"])
def test_no_recipients(postern_bin, workdir, mode):
    status, stderr, files, log = run(postern_bin, workdir, mode)
    assert status == (0 if mode == "-oee" else 1)
    if mode in ("-oep", "-oeq"):
        assert stderr == "ID ID no recipients found in headers\nexim: no recipients in message\n"
        assert files == []
    else:
        assert stderr == "ID ID no recipients found in headers\n"
        assert len(files) == 2
        h = next(f for f in files if f.startswith("ID-H"))
        d = next(f for f in files if f.startswith("ID-D"))
        assert "\n<>\n" in h and "References: <EID@mx.local>" in h
        assert "Subject: Mail failure - no recipient addresses" in h
        assert d.endswith("------ This is a copy of your message, including all the headers. ------\n\n"
                          "Subject: t\nMessage-Id: <EID@mx.local>\nFrom: a@b.example\nDate: DATE\n\nbody\n")
        assert log[-1].startswith("ID <= <> R=ID U=root P=local S=")
    if os.path.exists(EXIM):
        assert (status, stderr, files, log) == run(EXIM, workdir, mode), "differs from Exim 4.96"
