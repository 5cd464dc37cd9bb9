"""The wait-<transport> hints records chained past 50 ids, as Exim 4.96 keeps them (observed with
exim_dumpdb/exim_fixdb/exim_tidydb after queueing 62 messages for one host with -odqs): the oldest
50 ids in "<host>:0", the rest in "<host>" whose sequence is 1; exim_tidydb drops ids of removed
messages, keeps an emptied continuation, and moves a continuation back into an emptied main
record ("renamed <host>:0")."""
import os
import shutil
import subprocess
import time

CONF = """\
spool_directory = {spool}
log_file_path = {spool}/%slog
primary_hostname = test.example
exim_user = root
exim_group = root
begin routers
r:
  driver = manualroute
  route_list = * 127.0.0.1 byname
  transport = remote_smtp
  self = send
begin transports
remote_smtp:
  driver = smtp
  port = 9
"""


def run(cmd, input=None):
    return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)


def tool(postern_bin, tmp_path, name):
    link = tmp_path / name
    if not link.exists():
        os.symlink(postern_bin, link)
    return str(link)


def queue_62(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    conf = tmp_path / "c.conf"
    conf.write_text(CONF.format(spool=spool))
    for i in range(62):
        r = run([postern_bin, "-C", str(conf), "-odqs", f"u{i}@example.com"],
                input=f"Subject: t{i}\n\nbody\n")
        assert r.returncode == 0, r.stderr
    ids = [line.split()[2] for line in (spool / "mainlog").read_text().splitlines() if " <= " in line]
    assert len(ids) == 62
    # -odqs hands the routing to a background delivery process: wait for the last one.
    dump = tool(postern_bin, tmp_path, "exim_dumpdb")
    for _ in range(100):
        if run([dump, str(spool), "wait-remote_smtp"]).stdout.count(ids[-1]):
            break
        time.sleep(0.1)
    return spool, conf, ids


def records(postern_bin, tmp_path, spool):
    out = run([tool(postern_bin, tmp_path, "exim_dumpdb"), str(spool), "wait-remote_smtp"]).stdout
    recs = {}
    for line in out.splitlines(keepends=True):
        assert line.endswith(" \n"), line        # every id followed by a space, as Exim
        key, *rest = line.split()
        recs[key] = rest
    return recs


def remove(postern_bin, conf, ids):
    for i in ids:
        assert run([postern_bin, "-C", str(conf), "-Mrm", i]).returncode == 0


def tidy(postern_bin, tmp_path, spool):
    r = run([tool(postern_bin, tmp_path, "exim_tidydb"), str(spool), "wait-remote_smtp"])
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[1:-1]


def test_chained_records(postern_bin, tmp_path):
    spool, conf, ids = queue_62(postern_bin, tmp_path)
    recs = records(postern_bin, tmp_path, spool)
    assert recs == {"127.0.0.1:0": ids[:50], "127.0.0.1": ids[50:]}
    r = run([tool(postern_bin, tmp_path, "exim_fixdb"), str(spool), "wait-remote_smtp"],
            input="127.0.0.1\n\n127.0.0.1:0\n\n")
    assert r.stdout.count("Sequence: 1\n") == 1 and r.stdout.count("Sequence: 0\n") == 1

    # Removed messages leave the records; the emptied main record takes the continuation back.
    remove(postern_bin, conf, [ids[0], ids[1], ids[50]])
    assert tidy(postern_bin, tmp_path, spool) == ["updated 127.0.0.1:0", "updated 127.0.0.1"]
    assert records(postern_bin, tmp_path, spool) == {"127.0.0.1:0": ids[2:50], "127.0.0.1": ids[51:]}
    remove(postern_bin, conf, ids[51:])
    assert tidy(postern_bin, tmp_path, spool) == ["renamed 127.0.0.1:0", "updated 127.0.0.1"]
    assert records(postern_bin, tmp_path, spool) == {"127.0.0.1": ids[2:50]}


def test_tidy_emptied(postern_bin, tmp_path):
    spool, conf, ids = queue_62(postern_bin, tmp_path)
    keep = tmp_path / "keep"
    shutil.copytree(spool, keep)
    # An emptied continuation is kept (empty), as Exim.
    remove(postern_bin, conf, ids[:50])
    assert tidy(postern_bin, tmp_path, spool) == ["updated 127.0.0.1:0"]
    assert records(postern_bin, tmp_path, spool) == {"127.0.0.1:0": [], "127.0.0.1": ids[50:]}
    # Everything gone: the continuation is emptied, taken back, and the record deleted.
    shutil.rmtree(spool)
    shutil.copytree(keep, spool)
    remove(postern_bin, conf, ids)
    assert tidy(postern_bin, tmp_path, spool) == [
        "updated 127.0.0.1:0", "renamed 127.0.0.1:0", "deleted 127.0.0.1 (empty)"]
    assert records(postern_bin, tmp_path, spool) == {}
