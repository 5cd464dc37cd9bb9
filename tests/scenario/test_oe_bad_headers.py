"""-t with To:/Cc: items that do not parse, under each -oe mode, compared with Exim 4.96
(exit status, stderr, spool files with ids and times masked, main-log lines).

Observed from Exim: under -oem (the default), -oew and -oee the message goes to the good
recipients and the sender gets "Mail failure - malformed recipient address"; the status is 1
when nobody was left, except under -oee (0: the error was mailed). Under -oep and -oeq the
message is not accepted at all, even for the good recipients: "exim: invalid address:  <item>:
<why>" (or "exim: invalid addresses:" and a line per item) on stderr, status 1, nothing
spooled, only the "bad addresses found in headers" line logged; for a <> sender as well."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from test_oe_modes import CONFIG, mask

EXIM = shutil.which("exim") or "/usr/sbin/exim"

MESSAGES = {
    "some-good": "To: good@c.example\nCc: bad@@c.example, x y z\nSubject: t\n\nbody\n",
    "all-bad": "To: bad@@c.example\nSubject: t\n\nbody\n",
    "unterminated": "To: <x@c.example\nSubject: t\n\nbody\n",
}
MODES = ["", "-oem", "-oew", "-oee", "-oep", "-oeq"]


def run(prog, d, mode, text, sender):
    spool = d / (os.path.basename(prog) + mode)
    spool.mkdir()
    conf = d / (spool.name + ".conf")
    conf.write_text(CONFIG.format(spool=spool))
    args = [prog, "-C", str(conf)] + ([mode] if mode else []) + ["-t", "-f", sender]
    r = subprocess.run(args, input=text, capture_output=True, text=True, timeout=60)
    inp = spool / "input"
    files = sorted(inp.glob("*")) if inp.exists() else []
    logf = spool / "log" / "mainlog"
    log = [mask(line) for line in (logf.read_text().splitlines() if logf.exists() else [])
           if line[:1].isdigit() and "purging the environment" not in line]
    return r.returncode, mask(r.stderr), [mask(f.read_text()) for f in files], log


@pytest.fixture
def workdir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="oe-bad-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_bad_header_addresses(postern_bin, workdir, name, mode):
    text = MESSAGES[name]
    status, stderr, files, log = got = run(postern_bin, workdir, mode, text, "a@b.example")
    good = name == "some-good"
    if mode in ("-oep", "-oeq"):
        assert status == 1 and files == [], got
        assert log == ["ID ID bad addresses found in headers"], log
        if good:
            assert stderr.endswith("exim: invalid addresses:\n  bad@@c.example, x y z: domain missing or malformed\n"
                                   "  x y z: missing or malformed local part (expected word or \"<\")\n"), stderr
        else:
            assert "\nexim: invalid address:  " in stderr, stderr
    else:
        assert status == (0 if good or mode == "-oee" else 1), got
        assert any("Subject: Mail failure - malformed recipient address" in f for f in files), files
        assert len(files) == (4 if good else 2), files
    if os.path.exists(EXIM):
        assert got == run(EXIM, workdir, mode, text, "a@b.example"), "differs from Exim 4.96"


@pytest.mark.parametrize("mode", ["-oep", "-oee", "-oem"])
@pytest.mark.parametrize("name", ["some-good", "all-bad"])
def test_bad_header_addresses_null_sender(postern_bin, workdir, name, mode):
    got = run(postern_bin, workdir, mode, MESSAGES[name], "<>")
    status, stderr, files, log = got
    if mode == "-oep":
        assert status == 1 and files == [] and "exim: invalid address" in stderr, got
    else:
        assert not any("Mail failure" in f for f in files), files
        assert any("Error while reading message with no usable sender address" in line for line in log), log
    if os.path.exists(EXIM):
        assert got == run(EXIM, workdir, mode, MESSAGES[name], "<>"), "differs from Exim 4.96"
