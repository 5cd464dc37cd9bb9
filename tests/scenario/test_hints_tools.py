"""The hints database tools (exim_dumpdb, exim_tidydb, exim_fixdb under their own names and as
postern -bdb...): usage, records written by real ACL runs (ratelimit, seen) printed in Exim 4.96's
formats, tidying old records, and fixdb's show/delete dialogue."""
import os
import re
import subprocess
import time

CONF = """\
spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = test.example
acl_smtp_rcpt = r
begin acl
r:
  warn ratelimit = 10 / 1h / per_rcpt / $local_part
  warn ratelimit = 3 / 1h / per_mail / unique=$local_part / k3
  warn seen = 1h / key=$local_part
  accept
"""

SESSION = ("EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<u1@test.example>\r\n"
           "RCPT TO:<u2@test.example>\r\nRCPT TO:<u1@test.example>\r\nQUIT\r\n")

DB_LIST = "  <database-name> = retry | misc | wait-<transport-name> | callout | ratelimit | tls | seen\n"


def tool(postern_bin, tmp_path, name):
    link = tmp_path / name
    if not link.exists():
        os.symlink(postern_bin, link)
    return str(link)


def run(cmd, input=None):
    return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=30)


def fill(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    conf = tmp_path / "c.conf"
    conf.write_text(CONF.format(spool=spool))
    r = run([postern_bin, "-C", str(conf), "-bh", "1.2.3.4"], input=SESSION)
    assert r.returncode == 0, r.stderr
    return str(spool)


def test_usage(postern_bin, tmp_path):
    r = run([tool(postern_bin, tmp_path, "exim_dumpdb")])
    assert r.returncode == 1
    assert r.stderr == "Usage: exim_dumpdb [-z] [-k]  <spool-directory> <database-name>\n" + DB_LIST
    r = run([tool(postern_bin, tmp_path, "postern_tidydb"), str(tmp_path), "nosuch"])
    assert r.returncode == 1
    assert r.stderr == "Usage: exim_tidydb [-t <time>]  <spool-directory> <database-name>\n" + DB_LIST
    r = run([postern_bin, "-bdbfix"])
    assert r.stderr.startswith("Usage: exim_fixdb [-z]  <spool-directory>")
    r = run([tool(postern_bin, tmp_path, "exim_dumpdb"), str(tmp_path), "misc"])
    assert r.returncode == 1
    assert r.stderr == (f"** Failed to open database lock file {tmp_path}/db/misc.lockfile: "
                        "No such file or directory\n")


def test_dump_formats(postern_bin, tmp_path):
    spool = fill(postern_bin, tmp_path)
    dump = tool(postern_bin, tmp_path, "exim_dumpdb")
    r = run([dump, "-z", spool, "ratelimit"])
    assert r.returncode == 0, r.stderr
    lines = sorted(r.stdout.splitlines(), key=lambda l: l.split("key: ")[1])
    stamp = r"\d\d-[A-Z][a-z][a-z]-\d{4} \d\d:\d\d:\d\d"
    assert len(lines) == 3, lines
    assert re.fullmatch(stamp + r"\.\d{6} rate: +1\.000 epoch: " + stamp + r" size: \d+ key: 1h/per_mail/unique/k3",
                        lines[0]), lines[0]
    assert re.fullmatch(stamp + r"\.\d{6} rate: +2\.000 key: 1h/per_rcpt/u1", lines[1]), lines[1]
    assert re.fullmatch(stamp + r"\.\d{6} rate: +1\.000 key: 1h/per_rcpt/u2", lines[2]), lines[2]
    r = run([dump, spool, "seen"])
    assert [l.split("\t")[0] for l in r.stdout.splitlines()] == ["u1", "u2"]
    assert all(re.fullmatch(r"u\d\t" + stamp, l) for l in r.stdout.splitlines())
    r = run([dump, "-k", spool, "seen"])
    assert r.stdout == "  u1\n  u2\n"
    # -z prints UTC, the default local time
    utc = run([dump, "-z", spool, "seen"]).stdout
    ny = subprocess.run([dump, spool, "seen"], capture_output=True, text=True, timeout=30,
                        env=dict(os.environ, TZ="America/New_York")).stdout
    assert utc != ny and utc.split("\t")[0] == ny.split("\t")[0]


def test_tidy_and_fix(postern_bin, tmp_path):
    spool = fill(postern_bin, tmp_path)
    tidy = tool(postern_bin, tmp_path, "exim_tidydb")
    r = run([tidy, spool, "seen"])
    assert r.stdout == f"Tidying Exim hints database {spool}/db/seen\nTidying complete\n"
    time.sleep(2.1)
    r = run([tidy, "-t", "1s", spool, "seen"])
    assert r.returncode == 0
    assert sorted(r.stdout.splitlines()[1:-1]) == ["deleted u1 (too old)", "deleted u2 (too old)"]
    assert run([tool(postern_bin, tmp_path, "exim_dumpdb"), spool, "seen"]).stdout == ""

    fix = tool(postern_bin, tmp_path, "exim_fixdb")
    r = run([fix, "-z", spool, "ratelimit"], input="1h/per_rcpt/u1\nnosuch\nd\n1h/per_rcpt/u2\nd\n1h/per_rcpt/u2\nq\n")
    out = r.stdout.split("\n")
    assert out[0] == f"Modifying Exim hints database {spool}/db/ratelimit"
    assert re.fullmatch(r"> \d\d-\w{3}-\d{4} \d\d:\d\d:\d\d", out[1])
    assert out[2].startswith("0 time stamp:  ")
    assert re.fullmatch(r"1 fract\. time: \.\d{6}", out[3])
    assert out[4] == "2 sender rate:  2.000"
    assert out[5] == "> record nosuch not found"
    assert out[6] == "> No previous record name is set"
    assert out[11] == "> deleted"
    assert out[12] == "> record 1h/per_rcpt/u2 not found"
    r = run([tool(postern_bin, tmp_path, "exim_dumpdb"), "-k", spool, "ratelimit"])
    assert r.stdout == "  1h/per_mail/unique/k3\n  1h/per_rcpt/u1\n"
