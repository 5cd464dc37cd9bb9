"""Leftovers of the delivery issue, each checked against Exim 4.96 where Exim can show it:
-Mmad, start-up chdir, rewrite S-flag refusals, retry timeouts found while routing."""
import re

from test_queue import Queue, EXIM, mask


def test_mmad_matches_exim(postern_bin, tmp_path):
    outputs = []
    for binary in (postern_bin, EXIM):
        q = Queue(binary, tmp_path / pathlib_name(binary))
        ids = [q.submit("a1@x.example", "a2@x.example", "a3@x.example"), q.submit("b@x.example")]
        assert q.run("-Mmd", ids[0], "a2@x.example").returncode == 0
        q.clear_log()
        got = []
        for args in (["-Mmad", ids[0], ids[1]], ["-Mmad", ids[0]], ["-Mmad", "1xUjVi-0007Vu-XX"],
                     ["-Mmad", "bad-id"]):
            p = q.run(*args)
            got.append((args[0], p.returncode, mask(p.stdout, ids), mask(p.stderr, ids)))
        p = q.run("-qf")
        assert p.returncode == 0
        log = [mask(line, ids) for line in q.log() if "queue run" not in line]
        # A queue run's order between messages is random in Exim: compare its lines as a set.
        done = sorted(line for line in log if line.endswith("Completed"))
        outputs.append((got, [line for line in log if not line.endswith("Completed")], done))
        assert q.ids() == []  # every recipient was marked: the queue run completed both
    assert outputs[0] == outputs[1]
    assert any("marked delivered" in line for line in outputs[1][1])


def pathlib_name(binary):
    return "exim" if binary == EXIM else "postern"


CWD_CONF = """spool_directory = {spool}
primary_hostname = vm
begin routers
a:
  driver = accept
  debug_print = cwd ${{run{{/bin/pwd}}{{$value}}{{fail}}}}
  transport = t
begin transports
t:
  driver = appendfile
  file = /dev/null
"""


def test_startup_directory_is_the_spool_as_exim(postern_bin, tmp_path):
    """Exim works from its spool directory once the configuration is read (making it, one level,
    when it does not exist): ${run} in -bt and -be sees it, and relative names resolve there."""
    import subprocess
    (tmp_path / "spool").mkdir()
    (tmp_path / "msg.txt").write_text("Subject: s\n\nb\n")
    cases = [(tmp_path / "spool", args) for args in (["-bt", "x@vm"], ["-be", "${run{/bin/pwd}}"],
                                                     ["-bem", "msg.txt", "$h_subject:"])]
    cases.append((None, ["-be", "${run{/bin/pwd}}"]))
    runs = []
    for spool, args in cases:
        got = []
        for binary in (postern_bin, EXIM):
            # A spool directory that does not exist: a fresh name for each program.
            sp = spool or tmp_path / f"missing-{len(got)}"
            conf = tmp_path / "c.conf"
            conf.write_text(CWD_CONF.format(spool=sp))
            p = subprocess.run([binary, "-C", str(conf)] + args, cwd=tmp_path, capture_output=True, text=True,
                               timeout=30)
            got.append((p.returncode, p.stdout.replace(str(sp), "<SPOOL>"), p.stderr))
            if spool is None:
                assert oct(sp.stat().st_mode & 0o777) == "0o750"
        assert got[0] == got[1], args
        runs.append(got[0])
    assert str(tmp_path / "spool") in runs[0][2] and runs[1][1] == "<SPOOL>\n\n"
    assert runs[2][0] == 1  # msg.txt is not in the spool directory
    assert runs[3][1] == "<SPOOL>\n\n"


RW_CONF = """primary_hostname = vm
spool_directory = {spool}
exim_user = root
exim_group = root
acl_smtp_rcpt = r
begin acl
r:
  accept logwrite = rcpt is $local_part@$domain
begin rewrite
{rule}
"""


def test_rewrite_s_flag_patterns_as_exim(postern_bin, tmp_path):
    """An S rule needs a regular expression; "\\N^...\\N" is one (the pattern is expanded first)."""
    import subprocess
    (tmp_path / "spool").mkdir()
    rules = ["x@y <z@w> S", "*@y <z@w> S", "\\N<x@y>\\N <z@w> S", "\\N^<x@(y)>$\\N <z@w$1> S",
             "^<x@(y)>\\N$\\N <z@v$1> S"]
    for rule in rules:
        conf = tmp_path / "rw.conf"
        conf.write_text(RW_CONF.format(spool=tmp_path / "spool", rule=rule))
        got = []
        for binary in (postern_bin, EXIM):
            v = subprocess.run([binary, "-C", str(conf), "-bV"], capture_output=True, text=True, timeout=30)
            err = [line for line in v.stderr.splitlines() if "rewrite rule" in line]
            h = subprocess.run([binary, "-C", str(conf), "-bh", "192.0.2.1"], capture_output=True, text=True,
                               timeout=30, input="helo x\r\nmail from:<a@b>\r\nrcpt to:<x@y>\r\nquit\r\n")
            rcpt = [line for line in h.stderr.splitlines() + h.stdout.splitlines() if line.startswith("LOG: rcpt is")]
            got.append((err, rcpt))
        assert got[0] == got[1], rule
    # the last two rewrote, the first three were refused at load
    assert got[0][1] == ["LOG: rcpt is z@vy"]
