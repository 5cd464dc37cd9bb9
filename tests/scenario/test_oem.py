"""-oem (the default) and -oee: a malformed command-line recipient is reported to the sender by
mail, with a copy of the message, as Exim 4.96 does; the exit status is 1 (0 with -oee after the
error message was spooled); -oep prints it on stderr; a <> sender gets nothing. Compared with
Debian's exim where installed: the spool files of the error message must be the same apart from
the message id, the times and the parser's reason text."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

CONFIG = """spool_directory = {spool}
log_file_path = {spool}/log/%slog
exim_user = root
exim_group = root
primary_hostname = mx.local
queue_only = true
"""


def run(prog, d, *args, tag="s"):
    spool = d / (tag + prog.replace("/", "_"))
    spool.mkdir()
    conf = d / (spool.name + ".conf")
    conf.write_text(CONFIG.format(spool=spool))
    r = subprocess.run([prog, "-C", str(conf), *args], input="Subject: t\n\nbody\n", capture_output=True,
                       text=True, timeout=60)
    files = sorted((spool / "input").glob("*")) if (spool / "input").exists() else []
    return r, files


def normalised(files):
    out = []
    for f in files:
        t = f.read_text()
        # Postern's integrity line in -H (docs/spool.md), which Exim's reader ignores.
        t = re.sub(r"^-postern_sum .*\n", "", t, flags=re.M)
        t = re.sub(r"1[0-9A-Za-z]{5}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", "ID", t)
        t = re.sub(r"\b\d{10}\b", "TIME", t)
        t = re.sub(r"\.\d{6}", ".USEC", t)
        t = re.sub(r"\d\d \w\w\w \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "DATE", t)
        t = re.sub(r"  bad<address  .*\n", "  bad<address  WHY\n", t)
        t = re.sub(r"^-body_linecount .*$", "", t, flags=re.M)
        out.append(t)
    return out


@pytest.fixture
def workdir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="oem-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d)


def test_default_mails_the_error(postern_bin, workdir):
    r, files = run(postern_bin, workdir, "-f", "a@b.example", "bad<address", "good@c.example")
    assert r.returncode == 1
    assert len(files) == 2     # the error message only, not the message itself
    h = next(f for f in files if f.name.endswith("-H")).read_text()
    d = next(f for f in files if f.name.endswith("-D")).read_text()
    assert "\n<>\n" in h and "\na@b.example\n" in h and "-localerror" in h
    assert "Subject: Mail failure - malformed recipient address" in h
    assert "  bad<address  " in d and d.endswith("------\n\n\nSubject: t\n\nbody\n")


def test_oee_exits_zero_and_oep_prints(postern_bin, workdir):
    r, files = run(postern_bin, workdir, "-oee", "-f", "a@b.example", "bad<address")
    assert r.returncode == 0 and len(files) == 2
    r, files = run(postern_bin, workdir, "-oep", "-f", "a@b.example", "bad<address", tag="p")
    assert r.returncode == 1 and files == []
    assert 'bad recipient address "bad<address"' in r.stderr


def test_null_sender_gets_nothing(postern_bin, workdir):
    r, files = run(postern_bin, workdir, "-f", "<>", "bad<address")
    assert r.returncode == 1 and files == []


def test_same_spool_files_as_exim(postern_bin, workdir):
    if not shutil.which("exim"):
        pytest.skip("exim is not installed")
    _, want = run("exim", workdir, "-f", "a@b.example", "bad<address")
    _, got = run(postern_bin, workdir, "-f", "a@b.example", "bad<address")
    assert normalised(got) == normalised(want)
