"""A bad -f/-r argument in every mode, compared with live Exim 4.96.

Exim judges -f twice: its syntax where it stands on the command line (so it is reported before
a later unknown option, and -bV after it prints nothing), and what depends on the configuration
(allow_domain_literals, strip_trailing_dot) once the configuration is read, whatever the mode
(-bp, -q, -bh, -bP, -M, -bF, -brw ...; -bV then after its version lines). Postern judged it only
in -bm, -bt and -be. Each command line runs through both with the same configuration; status,
stderr (less the environment warning) and stdout must be the same. Lines that pass are in the
table too, so the check cannot pass by refusing everything.
"""
import os
import re
import shutil
import subprocess

import pytest

from daemon_helpers import reachable_by_exim_user

EXIM = shutil.which("exim")
pytestmark = pytest.mark.skipif(EXIM is None or os.geteuid() != 0,
                                reason="needs root and Exim 4.96 for the comparison")

MID = "1xUwnX-0007mi-05"

CASES = [
    # syntax: judged where -f stands
    ["-f", "a b<c", "-bx"], ["-f", "x<y", "-bV"], ["-f", " ", "-bp"], ["-r", "<a@b", "-bp"],
    ["-f", "a@", "-q"], ["-f", "@b.example", "-bh", "1.2.3.4"], ["-bx", "-f", "x<y"],
    ["-f", "a@b.example, c@d.example", "-bP", "spool_directory"],
    # the configuration's rules: judged once it is read
    ["-f", "a@[1.2.3.4]", "-bx"], ["-f", "a@[1.2.3.4]", "-bp"], ["-f", "a@[1.2.3.4]", "-bpc"],
    ["-f", "a@[1.2.3.4]", "-q"], ["-f", "a@[1.2.3.4]", "-bh", "1.2.3.4"],
    ["-f", "a@b.", "-bP", "spool_directory"], ["-r", "a@[1.2.3.4]", "-brw", "x@y"],
    ["-f", "a@[1.2.3.4]", "-bF", "/dev/null"], ["-f", "a@[1.2.3.4]", "-M", MID],
    ["-f", "a@[1.2.3.4]", "-Mvh", MID], ["-f", "a@b.", "-bt", "x@y"],
    ["-f", "a@[1.2.3.4]", "-bV"], ["-f", "a@b. ", "-bp"],
    # incompatible wins
    ["-f", "a@[1.2.3.4]", "-bs"],
    # accepted
    ["-f", "", "-bp"], ["-f", "<>", "-bpc"], ["-f", "a@b.example", "-bpc"],
    ["-f", "Name <a@b.example>", "-bP", "spool_directory"], ["-f", "abc", "-bpc"],
    ["-f", "a@b.example", "-bh", "1.2.3.4"],
]

CONF = """spool_directory = {d}/spool
log_file_path = {d}/%slog
primary_hostname = test.example
tls_advertise_hosts =
"""


def clean(text):
    lines = [x for x in text.splitlines()
             if "purging the environment" not in x and "Suggested action" not in x]
    return "\n".join(re.sub(r"\d\d\d\d-\d\d-\d\d \d\d:\d\d:\d\d ", "", x) for x in lines)


def version_free(text):
    # -bV's lines name the build; only what follows them is compared
    return [x for x in text.splitlines() if x.startswith("Configuration file is")]


def run(binary, conf, args):
    r = subprocess.run([binary, "-C", conf] + args, input=b"QUIT\r\n", capture_output=True,
                       timeout=10)
    out = r.stdout.decode(errors="replace")
    if "-bV" in args:
        out = version_free(out)
    elif "-bh" in args:
        out = [x for x in out.splitlines() if x[:3].isdigit()]  # the replies
        out = [re.sub(r"\w{3}, \d+ \w{3} \d{4} [\d:]+ [+-]\d{4}", "DATE", x) for x in out]
    return r.returncode, clean(r.stderr.decode(errors="replace")) if "-bh" not in args else \
        "\n".join(x for x in clean(r.stderr.decode(errors="replace")).splitlines()
                  if "bad -f" in x or "abandoned" in x), out


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_bad_sender_argument_like_exim(postern_bin, tmp_path, args):
    d = tmp_path
    reachable_by_exim_user(d)
    os.chmod(d, 0o777)  # each makes its logs and spool as its own exim user
    conf = d / "conf"
    conf.write_text(CONF.format(d=d))
    exim = run(EXIM, str(conf), args)
    for f in d.glob("*log"):
        f.unlink()
    shutil.rmtree(d / "spool", ignore_errors=True)
    ours = run(postern_bin, str(conf), args)
    assert ours == exim


# An unqualified -f is qualified with its local part as ${quote_local_part:} gives it.
QUALIFY = ["a..b", ".a", "a.(x)", '"a b"', "a\\b", '"ab"', "a(x)", "abc", "a.b", "Name <x.>"]


@pytest.mark.parametrize("given", QUALIFY)
def test_unqualified_sender_quoted_like_exim(postern_bin, tmp_path, given):
    reachable_by_exim_user(tmp_path)
    os.chmod(tmp_path, 0o777)
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(d=tmp_path))

    def sender(binary):
        r = subprocess.run([binary, "-C", str(conf), "-f", given, "-be", "$sender_address"],
                           capture_output=True, timeout=10)
        return r.returncode, r.stdout.decode(errors="replace"), clean(r.stderr.decode())
    exim = sender(EXIM)
    assert exim[0] == 0 or "bad -f" in exim[2]
    assert sender(postern_bin) == exim
