"""-bt through a redirect router whose file is a Sieve filter: Exim 4.96 prints the filter's
verdict on the standard error ("Implicit keep", "No implicit keep", "Sieve error: ...") before
the routing on the standard output. Expected outputs recorded from Debian's exim4 with this
configuration; compared with a live Exim too when one is installed."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

EXIM = shutil.which("exim")

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
keep_environment =
begin routers
f:
  driver = redirect
  domains = a.test
  file = {d}/filter.sieve
  allow_filter
  allow_fail
  file_transport = ft
  reply_transport = rt
  user = mail
  no_check_local_user
d:
  driver = accept
  transport = ft
begin transports
ft:
  driver = appendfile
  file = {d}/mbox
  user = mail
rt:
  driver = autoreply
"""

INBOX = "u@a.test -> inbox\n  transport = ft\n"
CASES = [
    ("keep;", INBOX, "No implicit keep\n"),
    ('redirect "x@b.test";', "x@b.test\n    <-- u@a.test\n  router = d, transport = ft\n",
     "No implicit keep\n"),
    ("discard;", "mail to u@a.test is discarded\n", "No implicit keep\n"),
    ('require "vacation";\nvacation "away";', INBOX, "Sieve error: vacation disabled in line 2\n"),
    ("", INBOX, "Implicit keep\n"),
    ('require "fileinto";\nfileinto "/tmp/x";', "u@a.test -> /tmp/x\n  transport = ft\n",
     "No implicit keep\n"),
]


@pytest.mark.parametrize("script,out,err", CASES)
def test_sieve_verdict_on_stderr(postern_bin, script, out, err):
    # The router's user (mail) reads the filter: a directory it can reach.
    d = pathlib.Path(tempfile.mkdtemp(prefix="bt_sieve_"))
    os.chmod(d, 0o755)
    try:
        compare(postern_bin, d, script, out, err)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def compare(postern_bin, tmp_path, script, out, err):
    (tmp_path / "filter.sieve").write_text("# Sieve filter\n" + script + "\n")
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(d=tmp_path))
    runs = [postern_bin] + ([EXIM] if EXIM and os.geteuid() == 0 else [])
    for binary in runs:
        r = subprocess.run([binary, "-C", str(conf), "-bt", "u@a.test"], capture_output=True, text=True,
                           timeout=30)
        assert (r.stdout, r.stderr, r.returncode) == (out, err, 0), binary
