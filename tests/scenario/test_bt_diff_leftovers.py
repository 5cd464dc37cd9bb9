"""Leftovers of the delivery issue, each checked against Exim 4.96 where Exim can show it:
-Mmad, start-up chdir, rewrite S-flag refusals, retry timeouts found while routing."""
import re

import pytest

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


RETRY_CONF = """spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = vm
exim_user = root
exim_group = root
begin routers
dd:
  driver = redirect
  data = :defer: some reason
  allow_defer
begin retry
* * F,2s,1s
"""


def test_routing_retry_timeout_fails_as_exim(postern_bin, tmp_path):
    """A routing deferral whose retry record is past the rule's cutoff fails the address: the ==
    line, then "** addr: retry timeout exceeded" (no R=), as Exim 4.96 logs it."""
    import subprocess
    import time
    spools = {}
    for binary in (postern_bin, EXIM):
        spool = tmp_path / pathlib_name(binary)
        spool.mkdir()
        (spool / "conf").write_text(RETRY_CONF.format(spool=spool))
        p = subprocess.run([binary, "-C", str(spool / "conf"), "-odi", "-f", "s@vm", "a@r.test"],
                           input="Subject: x\n\nbody\n", capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        spools[binary] = spool
    time.sleep(3)
    logs = []
    for binary, spool in spools.items():
        subprocess.run([binary, "-C", str(spool / "conf"), "-qf"], capture_output=True, timeout=30)
        lines = [line for line in (spool / "log" / "mainlog").read_text().splitlines() if " <= s@vm" in line
                 or "environment" not in line and "Suggested action" not in line]
        first_id = lines[0][20:36]
        logs.append([re.sub(r"^\S+ \S+ ", "", line).replace(first_id, "<ID>") for line in lines
                     if first_id in line and "environment" not in line and "error message" not in line
                     and "<= <>" not in line])
    assert logs[0] == logs[1]
    assert "<ID> ** a@r.test: retry timeout exceeded" in logs[1]


KILL_CONF = """spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = vm
exim_user = root
exim_group = root
begin routers
a:
  driver = accept
  transport = t
begin transports
t:
  driver = pipe
  command = /bin/sleep 37
  user = mail
"""


def parent_of(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])


def children_of_sleep(seconds, ancestor):
    """(pid, parent pid) of each `/bin/sleep SECONDS` below process `ancestor`: other runs of
    this test elsewhere on the machine have their own sleeps, which must not be touched."""
    import os
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
                if cmd[:2] != [b"/bin/sleep", str(seconds).encode()]:
                    continue
                ppid = parent_of(pid)
                up = ppid
                while up > 1 and up != ancestor:
                    up = parent_of(up)
                if up == ancestor:
                    out.append((int(pid), ppid))
            except (OSError, ValueError, IndexError):
                pass
    return out


def test_transport_process_killed_logs_as_exim(postern_bin, tmp_path):
    """A transport process that dies without a result: Exim 4.96 writes (main and panic log)
    "failed to read delivery status for <addr> from delivery subprocess", then "<driver> transport
    process returned non-zero status 0x....: terminated by signal N", and defers with no text.
    This is the pipe transport (a forked child); the appendfile case is the next test."""
    import os
    import signal
    import subprocess
    import time
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(spool, 0o777)
    conf = tmp_path / "conf"
    import shutil
    import tempfile
    box = tempfile.mkdtemp(prefix="btdiff-box.")  # the user must reach it (pytest's tmp is 0700)
    os.chmod(box, 0o777)
    conf.write_text(KILL_CONF.format(spool=spool, box=box))
    p = subprocess.Popen([postern_bin, "-C", str(conf), "-odi", "a@vm"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.stdin.write(b"Subject: x\n\nbody\n")
    p.stdin.close()
    found = []
    for _ in range(200):
        found = children_of_sleep(37, p.pid)
        if found:
            break
        time.sleep(0.05)
    assert found, "the command did not start"
    sleep_pid, transport_pid = found[0]
    os.kill(transport_pid, signal.SIGKILL)
    os.kill(sleep_pid, signal.SIGKILL)
    p.wait(timeout=30)
    shutil.rmtree(box)
    log = re.sub(r"(?m)^\S+ \S+ \S+ ", "", (spool / "log" / "mainlog").read_text())
    assert "failed to read delivery status for a@vm from delivery subprocess\n" \
           "pipe transport process returned non-zero status 0x0009: terminated by signal 9\n" \
           "== a@vm R=a T=t defer (-1)\n" in log
    panic = (spool / "log" / "paniclog").read_text()
    assert "failed to read delivery status for a@vm" in panic and "terminated by signal 9" in panic


KILL_APPENDFILE_CONF = """spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = vm
exim_user = root
exim_group = root
log_selector = +pid
begin routers
a:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = {box}/mbox
  user = mail
  lock_interval = 1s
  lock_retries = 60
begin retry
* * F,1h,15m
"""


def descendants_with_uid(root, uid):
    import os
    parent = {}
    uids = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = open(f"/proc/{pid}/stat").read()
                parent[int(pid)] = int(stat.rsplit(")", 1)[1].split()[1])
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("Uid:"):
                        uids[int(pid)] = int(line.split()[1])
            except OSError:
                pass
    out = []
    for pid in parent:
        p = pid
        while p in parent and p != root and p > 1:
            p = parent[p]
        if p == root and pid != root and uids.get(pid) == uid:
            out.append(pid)
    return out


def test_appendfile_process_killed_logs_as_exim(postern_bin, tmp_path):
    """The same for appendfile, which runs in a child sharing the delivery process's memory
    (src/core/deliver_inproc.c): held here by a lock file, killed while it waits. Lines as Exim
    4.96 writes them for its killed appendfile process (observed), with the pid of the delivery
    process (log_selector +pid), and the msglog line; the message stays queued."""
    import os
    import pwd
    import shutil
    import signal
    import subprocess
    import tempfile
    import time
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(spool, 0o777)
    box = tempfile.mkdtemp(prefix="btdiff-box.")
    os.chmod(box, 0o777)
    try:
        with open(os.path.join(box, "mbox.lock"), "w") as f:
            f.write("held by the test\n")
        conf = tmp_path / "conf"
        conf.write_text(KILL_APPENDFILE_CONF.format(spool=spool, box=box))
        p = subprocess.Popen([postern_bin, "-C", str(conf), "-odi", "a@vm"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p.stdin.write(b"Subject: x\n\nbody\n")
        p.stdin.close()
        mail_uid = pwd.getpwnam("mail").pw_uid
        found = []
        for _ in range(200):
            found = descendants_with_uid(p.pid, mail_uid)
            if found:
                break
            time.sleep(0.05)
        assert found, "the appendfile child did not start"
        time.sleep(0.3)
        os.kill(found[0], signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        shutil.rmtree(box)
    raw = (spool / "log" / "mainlog").read_text()
    pids = set(re.findall(r"(?m)^\S+ \S+ \[(\d+)\] \S+ (?:failed|appendfile|==)", raw))
    assert len(pids) == 1, raw
    log = re.sub(r"(?m)^\S+ \S+ \[\d+\] \S+ ", "", raw)
    assert "failed to read delivery status for a@vm from delivery subprocess\n" \
           "appendfile transport process returned non-zero status 0x0009: terminated by signal 9\n" \
           "== a@vm R=a T=t defer (-1)\n" in log, raw
    assert re.search(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[\d+\] \S+ == a@vm", raw)
    panic = re.sub(r"(?m)^\S+ \S+ \[\d+\] \S+ ", "", (spool / "log" / "paniclog").read_text())
    assert panic == "failed to read delivery status for a@vm from delivery subprocess\n" \
                    "appendfile transport process returned non-zero status 0x0009: terminated by signal 9\n"
    (msglog,) = (spool / "msglog").glob("*")
    assert re.search(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d a@vm R=a T=t defer \(-1\)$", msglog.read_text())
    assert len(list((spool / "input").glob("*-H"))) == 1


ONE_TIME_CONF = """spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = vm
exim_user = root
exim_group = root
begin routers
list:
  driver = redirect
  local_parts = list
  data = good@vm, later@vm
  one_time
deferer:
  driver = redirect
  local_parts = later
  data = :defer: not now
  allow_defer
good:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = /dev/null
  user = mail
begin retry
* * F,1h,1m
"""


def test_one_time_as_exim(postern_bin, tmp_path):
    """one_time: the deferred child becomes a recipient remembering its original address (-H
    "later@vm  0,0  0,0#3"), the list address is marked delivered, and later attempts log the
    child with <list@vm> without expanding the list again."""
    import subprocess
    results = []
    for binary in (postern_bin, EXIM):
        spool = tmp_path / pathlib_name(binary)
        spool.mkdir()
        conf = spool / "conf"
        conf.write_text(ONE_TIME_CONF.format(spool=spool))
        p = subprocess.run([binary, "-C", str(conf), "-odi", "-f", "s@vm", "list@vm", "other@vm"],
                           input="Subject: x\n\nbody\n", capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        ids = [f.name[:-2] for f in (spool / "input").iterdir() if f.name.endswith("-H")]
        assert len(ids) == 1
        header = (spool / "input" / f"{ids[0]}-H").read_text()
        rcpts = header[header.index("\nYY ") + 1:header.index("\n\n")]
        subprocess.run([binary, "-C", str(conf), "-qf"], capture_output=True, timeout=30)
        log = [re.sub(r"^\S+ \S+ ", "", line).replace(ids[0], "<ID>")
               for line in (spool / "log" / "mainlog").read_text().splitlines()
               if ids[0] in line and "environment" not in line]
        results.append((rcpts, log))
    assert results[0] == results[1]
    assert "later@vm  0,0  0,0#3" in results[1][0]
    assert results[1][1].count("<ID> == later@vm <list@vm> R=deferer defer (-1): not now") == 2


def test_filter_without_allow_filter_as_exim(postern_bin, tmp_path):
    """A filter in redirect data or a file without allow_filter is not read as a list: Exim
    defers with "error in filter data|file: filtering not enabled"."""
    import subprocess
    (tmp_path / "spool").mkdir()
    (tmp_path / "fwd").write_text("# Exim filter\ndeliver x@y\n")
    for data in ("data = # Exim filter\\ndeliver x@y", "data = # Sieve filter\\nkeep;", f"file = {tmp_path}/fwd"):
        conf = tmp_path / "c.conf"
        conf.write_text(f"primary_hostname = vm\nspool_directory = {tmp_path}/spool\nbegin routers\nr:\n"
                        f"  driver = redirect\n  {data}\na:\n  driver = accept\n  transport = t\n"
                        "begin transports\nt:\n  driver = appendfile\n  file = /dev/null\n")
        got = [subprocess.run([b, "-C", str(conf), "-bt", "q@vm"], capture_output=True, text=True, timeout=30)
               for b in (postern_bin, EXIM)]
        assert (got[0].stdout, got[0].returncode) == (got[1].stdout, got[1].returncode), data
        assert "filtering not enabled" in got[1].stdout


MBX_CONF = """spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = vm
exim_user = root
exim_group = root
begin routers
a:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = {box}
  mbx_format
  user = mail
"""


def test_mbx_format_same_bytes_as_exim(postern_bin, tmp_path):
    """mbx_format: the 2048-byte file header, the per-message line with the size, CRLF line ends,
    the mbox prefix and suffix: byte-identical to Exim 4.96's file apart from times and ids."""
    import os
    import shutil
    import subprocess
    import tempfile
    boxes = []
    work = tempfile.mkdtemp(prefix="btdiff-mbx.")  # the user must reach it (pytest's tmp is 0700)
    os.chmod(work, 0o777)
    try:
        for binary in (postern_bin, EXIM):
            spool = tmp_path / pathlib_name(binary)
            spool.mkdir()
            box = f"{work}/{pathlib_name(binary)}.mbx"
            (spool / "conf").write_text(MBX_CONF.format(spool=spool, box=box))
            for body in ("Subject: one\n\nline1\nFrom here\n", "Subject: two\n\nsecond\n"):
                p = subprocess.run([binary, "-C", str(spool / "conf"), "-odi", "-f", "s@vm", "a@vm"], input=body,
                                   capture_output=True, text=True, timeout=30)
                assert p.returncode == 0, p.stderr
            boxes.append(open(box, "rb").read())
    finally:
        shutil.rmtree(work)

    def norm(x):
        x = x[:7] + b"X" * 8 + x[15:]  # UID validity: the creation time
        x = re.sub(rb"\d\d-\w\w\w-\d{4} \d\d:\d\d:\d\d [+-]\d{4}", b"DATE", x)
        x = re.sub(rb"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", b"ID", x)
        x = re.sub(rb"\w\w\w \w\w\w [ \d]\d \d\d:\d\d:\d\d \d{4}", b"BSD", x)
        return re.sub(rb"\w\w\w, \d\d? \w\w\w \d{4} \d\d:\d\d:\d\d [+-]\d{4}", b"RFC", x)
    assert boxes[0].startswith(b"*mbx*\r\n") and len(boxes[0]) > 2048
    assert b">From here\r\n" in boxes[1]
    assert norm(boxes[0]) == norm(boxes[1])
