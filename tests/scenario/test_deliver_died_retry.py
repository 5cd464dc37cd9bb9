"""A killed appendfile child leaves the retry record Exim 4.96 writes for it (observed with
exim_dumpdb after kill -9 of Exim's appendfile transport process under -odi):
"T:a@vm -1 0 unknown error", next try by the retry rule (F,1h,15m: 15 minutes on), and a plain
-q then skips the address with "defer (-53): Retry time not yet reached"."""
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time

from test_bt_diff_leftovers import KILL_APPENDFILE_CONF, descendants_with_uid


def test_killed_appendfile_child_writes_retry_record(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(spool, 0o777)
    box = tempfile.mkdtemp(prefix="died-box.")
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
        assert p.wait(timeout=30) == 70
        dump = subprocess.run([postern_bin, "-bdbdump", str(spool), "retry"], capture_output=True,
                              text=True, timeout=30).stdout
        assert re.search(r"(?m)^  T:a@vm -1 0 unknown error$", dump), dump
        stamps = re.findall(r"\d\d-\w{3}-\d{4} (\d\d):(\d\d):(\d\d)", dump)
        assert len(stamps) == 3, dump
        secs = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in stamps]
        assert (secs[2] - secs[1]) % 86400 == 900, dump   # next try: the rule's 15 minutes
        # A plain queue run leaves it alone, as Exim's does.
        subprocess.run([postern_bin, "-C", str(conf), "-q"], timeout=60, check=True)
        log = (spool / "log" / "mainlog").read_text()
        assert re.search(r"== a@vm R=a T=t defer \(-53\): Retry time not yet reached", log), log
        assert len(list((spool / "input").glob("*-H"))) == 1
    finally:
        shutil.rmtree(box)


ERRNO_DEFER_CONF = """\
spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = test.example
qualify_domain = test.example
exim_user = root
exim_group = root
never_users =
begin routers
r1:
  driver = accept
  transport = t1
begin transports
t1:
  driver = appendfile
  file = {missing}/sub/box
  create_directory = false
  user = mail
begin retry
* * F,2h,15m
"""


def test_local_defer_with_errno_keeps_only_strerror(postern_bin, tmp_path):
    """Exim 4.96 with this configuration logged "== u@p.test R=r1 T=t1 defer (2): No such file or
    directory: creating lock file hitching post ..." and exim_dumpdb showed
    "  T:u@p.test 2 0 No such file or directory": with errno > 0 the record holds strerror only."""
    spool = tmp_path / "spool"
    conf = tmp_path / "conf"
    base = tempfile.mkdtemp(prefix="errno-defer.")   # reachable by mail, unlike tmp_path's parents
    os.chmod(base, 0o755)
    conf.write_text(ERRNO_DEFER_CONF.format(spool=spool, missing=os.path.join(base, "nodir")))
    try:
        run_errno_defer(postern_bin, spool, conf)
    finally:
        shutil.rmtree(base)


def run_errno_defer(postern_bin, spool, conf):
    p = subprocess.run([postern_bin, "-C", str(conf), "-odi", "u@p.test"], input=b"Subject: x\n\nhi\n",
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    log = (spool / "log" / "mainlog").read_text()
    assert re.search(r"== u@p.test R=r1 T=t1 defer \(2\): No such file or directory: creating lock file", log), log
    dump = subprocess.run([postern_bin, "-bdbdump", str(spool), "retry"], capture_output=True,
                          text=True, timeout=30).stdout
    assert re.search(r"(?m)^  T:u@p.test 2 0 No such file or directory$", dump), dump
