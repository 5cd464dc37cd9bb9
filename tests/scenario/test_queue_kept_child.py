"""The appendfile child a queue-run worker keeps between batches of one user (deliver_inproc.c).

One worker (queue_run_in_order: one message after another, in the order received) delivers:
  m0, m1 to a Maildir as nobody -> from the second batch in a row for nobody the child, now
                                   nobody, stays after its batch;
  m2 to a pipe that waits        -> meanwhile the test finds that idle child (the worker's child
                                   running as nobody) and kills it;
  m3 to a Maildir as nobody     -> the killed child never took it: a new child delivers it, with
                                   no failure line;
  m4 to a Maildir as mail       -> another user: a new child, as mail.
Every message delivered once, completed, and each file owned by its transport's user."""
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import tempfile
import time

import pytest

CONF = """\
spool_directory = {spool}
primary_hostname = test.example
exim_user = root
exim_group = root
log_file_path = {spool}/log/%slog
queue_run_in_order = true
begin routers
to_pipe:
  driver = accept
  local_parts = pipe
  transport = p
to_nobody:
  driver = accept
  local_parts = box
  transport = md_nobody
to_mail:
  driver = accept
  local_parts = mailbox
  transport = md_mail
begin transports
p:
  driver = pipe
  command = {script}
  user = nobody
md_nobody:
  driver = appendfile
  directory = {shared}/nobody/Maildir
  maildir_format
  create_directory
  user = nobody
md_mail:
  driver = appendfile
  directory = {shared}/mail/Maildir
  maildir_format
  create_directory
  user = mail
begin retry
* * F,1h,1s
"""

# Announce this delivery (its pid), then wait (boundedly) for the "go" file.
SCRIPT = """#!/bin/sh
echo $$ > {shared}/pipe.pid.tmp && mv {shared}/pipe.pid.tmp {shared}/pipe.pid
i=0
while [ ! -e {shared}/go ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done
cat > /dev/null
exit 0
"""


@pytest.fixture
def shared_dir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="qkept."))
    os.chmod(d, 0o777)
    for sub in ("nobody", "mail"):
        (d / sub).mkdir()
    shutil.chown(d / "nobody", "nobody")
    shutil.chown(d / "mail", "mail")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _status(pid):
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out


def _children(pid):
    kids = []
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int(_status(p.name)["PPid"][0]) == pid:
                    kids.append(int(p.name))
            except (OSError, KeyError, IndexError):
                pass
    return kids


def _wait_for(cond, what, secs=60):
    end = time.monotonic() + secs
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def _queue(postern_bin, conf, rcpt, n):
    r = subprocess.run([postern_bin, "-C", str(conf), "-odq", "-f", "s@test.example", f"{rcpt}@test.example"],
                       input=f"Subject: m{n}\n\nbody {n}\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    time.sleep(0.01)   # distinct receive times: queue_run_in_order follows them


def _files(maildir):
    return sorted((maildir / "new").glob("*")) if (maildir / "new").exists() else []


def test_kept_child_killed_while_idle_and_changed_for_another_user(postern_bin, tmp_path, shared_dir):
    spool = tmp_path / "spool"
    script = shared_dir / "pipe.sh"
    script.write_text(SCRIPT.format(shared=shared_dir))
    script.chmod(0o755)
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(spool=spool, script=script, shared=shared_dir))
    for n, rcpt in enumerate(["box", "box", "pipe", "box", "mailbox"]):
        _queue(postern_bin, conf, rcpt, n)
    runner = subprocess.Popen([postern_bin, "-C", str(conf), "-q"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: (shared_dir / "pipe.pid").exists(), "the pipe delivery")
        # The worker is the runner's child that is an ancestor of the pipe command.
        p = int((shared_dir / "pipe.pid").read_text())
        chain = [p]
        while chain[-1] not in (runner.pid, 0, 1):
            chain.append(int(_status(chain[-1])["PPid"][0]))
        assert chain[-1] == runner.pid, chain
        worker = chain[-2]
        nobody = pwd.getpwnam("nobody").pw_uid
        kept = [k for k in _children(worker) if k not in chain and int(_status(k)["Uid"][0]) == nobody]
        assert len(kept) == 1, f"no idle appendfile child kept by the worker: {_children(worker)}"
        assert len(_files(shared_dir / "nobody" / "Maildir")) == 2
        os.kill(kept[0], 9)
        (shared_dir / "go").touch()
        assert runner.wait(timeout=120) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    log = (spool / "log" / "mainlog").read_text()
    assert "abnormally" not in log and "**" not in log and " == " not in log, log
    ids = re.findall(r"^\S+ \S+ (\S+) <= ", log, re.M)
    assert len(ids) == 5
    for mid in ids:
        assert len(re.findall(rf"^\S+ \S+ {mid} => ", log, re.M)) == 1, log
        assert len(re.findall(rf"^\S+ \S+ {mid} Completed", log, re.M)) == 1, log
    boxes = _files(shared_dir / "nobody" / "Maildir")
    assert sorted(re.search(r"body \d", f.read_text()).group(0) for f in boxes) == ["body 0", "body 1", "body 3"]
    assert all(f.stat().st_uid == nobody for f in boxes)
    mails = _files(shared_dir / "mail" / "Maildir")
    assert [re.search(r"body \d", f.read_text()).group(0) for f in mails] == ["body 4"]
    assert mails[0].stat().st_uid == pwd.getpwnam("mail").pw_uid
    assert not list((spool / "input").glob("*-H"))


CONF_LOCKED = """\
spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = vm
exim_user = root
exim_group = root
queue_run_in_order = true
begin routers
to_maildir:
  driver = accept
  local_parts = box
  transport = md
to_mbox:
  driver = accept
  transport = t
begin transports
md:
  driver = appendfile
  directory = {box}/Maildir
  maildir_format
  create_directory
  user = mail
t:
  driver = appendfile
  file = {box}/mbox
  user = mail
  lock_interval = 1s
  lock_retries = 60
begin retry
* * F,1h,15m
"""


def test_kept_child_killed_during_its_second_batch(postern_bin, tmp_path):
    """The kept child dies in the middle of a batch (its second, as the same user): the worker
    writes Exim's lines and retry record for it as for any appendfile child that died
    (test_deliver_died_retry.py), and the run goes on."""
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(spool, 0o777)
    box = pathlib.Path(tempfile.mkdtemp(prefix="qkept-box."))
    os.chmod(box, 0o777)
    try:
        (box / "mbox.lock").write_text("held by the test\n")   # the mbox delivery waits for it
        conf = tmp_path / "conf"
        conf.write_text(CONF_LOCKED.format(spool=spool, box=box))
        _queue(postern_bin, conf, "box", 0)
        _queue(postern_bin, conf, "box", 1)
        _queue(postern_bin, conf, "a", 2)
        runner = subprocess.Popen([postern_bin, "-C", str(conf), "-q"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            mail = pwd.getpwnam("mail").pw_uid
            def sleeping_child():
                # The one mail-user process below the runner, waiting between its lock tries
                # (nanosleep or clock_nanosleep), not in its idle poll.
                for w in _children(runner.pid):
                    for k in _children(w):
                        try:
                            if int(_status(k)["Uid"][0]) == mail and \
                                    pathlib.Path(f"/proc/{k}/syscall").read_text().split()[0] in ("35", "230"):
                                return k
                        except (OSError, KeyError, IndexError):
                            pass
                return None
            _wait_for(lambda: sleeping_child() is not None, "the mbox delivery to wait for its lock")
            assert len(_files(box / "Maildir")) == 2   # the same child delivered m1 before
            os.kill(sleeping_child(), 9)
            assert runner.wait(timeout=120) == 0
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait()
        dump = subprocess.run([postern_bin, "-bdbdump", str(spool), "retry"], capture_output=True,
                              text=True, timeout=30).stdout
        assert re.search(r"(?m)^  T:a@test.example -1 0 unknown error$", dump), dump
        log = (spool / "log" / "mainlog").read_text()
        assert "abnormally" not in log, log
        ids = re.findall(r"^\S+ \S+ (\S+) <= ", log, re.M)
        for mid in ids[:2]:
            assert len(re.findall(rf"^\S+ \S+ {mid} Completed", log, re.M)) == 1, log
        assert not re.search(rf"^\S+ \S+ {ids[2]} (=>|Completed)", log, re.M), log
        assert [p.name for p in (spool / "input").glob("*-H")] == [f"{ids[2]}-H"]
    finally:
        shutil.rmtree(box)
