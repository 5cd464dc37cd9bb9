"""Named queues, compared with Debian's Exim 4.96 on a private spool: the ACL `queue =` modifier
at reception (where the spool files go, with and without split_spool_directory, Q= on the <=
line, $queue_name, Exim's errors, the name staying set for later messages of the connection),
queue runs with -qG (Q= on the delivery lines, the bounce going to the same queue, a plain -q
leaving named queues alone), listing (-bp... with -qG), message control in a named queue and
-MG. The same commands on the same kind of spool must give the same output, exit status, log
lines and spool layout (ids, pids, times masked)."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

EXIM = shutil.which("exim") or "/usr/sbin/exim4"

CONF = """\
spool_directory = {dir}/spool
primary_hostname = test.example
qualify_domain = test.example
exim_user = root
exim_group = root
never_users =
log_file_path = {dir}/log/%slog
acl_smtp_rcpt = acl_rcpt
acl_smtp_mail = acl_mail
acl_smtp_data = acl_data
{extra}
begin acl
acl_mail:
  accept senders = m@b.example
         queue = mq
  accept
acl_rcpt:
  warn   logwrite = rcpt $local_part before=<$queue_name>
  accept local_parts = slash
         queue = a/b
  accept local_parts = taint
         queue = $local_part
  warn   local_parts = rej
         queue = rq
  deny   local_parts = rej
  accept local_parts = plain
  accept local_parts = dflt
         queue =
  accept local_parts = other
         queue = other
  accept queue = quar
         logwrite = rcpt $local_part after=<$queue_name>
acl_data:
  accept logwrite = data <$queue_name>
acl_nss:
  accept logwrite = nss <$sender_address> <$queue_name>
         queue = ${{if eq{{$sender_address}}{{}}{{}}{{$queue_name}}}}
begin routers
rf:
  driver = redirect
  local_parts = fail : defer
  allow_fail
  allow_defer
  data = :${{local_part}}: forced $local_part
r1:
  driver = accept
  transport = t1
begin transports
t1:
  driver = appendfile
  file = {dir}/mail/box
  headers_add = X-Q: <$queue_name>
  user = mail
begin retry
* * F,1h,10m
"""

ID = re.compile(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b")
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", re.M)
PID = re.compile(r"pid=\d+")
BOUNDARY = re.compile(r"\d+-eximdsn-\d+")
DATE = re.compile(r"\w\w\w, \d+ \w\w\w \d{4} \d\d:\d\d:\d\d [-+]\d{4}")
FROMLINE = re.compile(r"^From (\S+) \w\w\w \w\w\w [ \d]\d \d\d:\d\d:\d\d \d{4}$", re.M)
AGE = re.compile(r"^ *\d+[mhd] ", re.M)


class Side:
    """One MTA (postern or exim) with its own directory, spool and log."""

    def __init__(self, binary, workdir, extra=""):
        self.binary = binary
        self.dir = workdir
        workdir.mkdir(parents=True)
        (workdir / "log").mkdir()
        # the transport runs as "mail", which cannot reach into pytest's private tmp dirs
        self.maildir = pathlib.Path(tempfile.mkdtemp(prefix="nq-mail-", dir="/tmp"))
        os.chmod(self.maildir, 0o1777)
        self.spool = workdir / "spool"
        self.conf = workdir / "conf"
        self.conf.write_text(CONF.format(dir=workdir, extra=extra).replace(f"{workdir}/mail/", f"{self.maildir}/"))
        self.split = "split_spool_directory" in extra
        self.order = []           # message ids in the order first seen, for masking

    def cleanup(self):
        shutil.rmtree(self.maildir, ignore_errors=True)

    def run(self, *args, input=None):
        return subprocess.run([self.binary, "-C", str(self.conf), *args], input=input,
                              capture_output=True, text=True, timeout=60)

    def smtp(self, *cmds, od="-odq"):
        text = "".join(c + "\r\n" for c in ["EHLO x", *cmds, "QUIT"])
        p = self.run(od, "-bs", input=text)
        replies = [line for line in p.stdout.replace("\r", "").splitlines()
                   if not line.startswith("250-") and not line.startswith("220 ")]
        return self.mask(replies)

    def message(self, rcpts, sender="a@b.example", subject="t"):
        cmds = [f"MAIL FROM:<{sender}>"] + [f"RCPT TO:<{r}@test.example>" for r in rcpts]
        return cmds + ["DATA", f"Subject: {subject}\r\n\r\nbody\r\n."]

    def ids_seen(self, text):
        for i in ID.findall(text):
            if i not in self.order:
                self.order.append(i)

    def mask(self, obj):
        if isinstance(obj, list):
            return [self.mask(x) for x in obj]
        self.ids_seen(obj)
        for k, i in enumerate(self.order):
            obj = obj.replace(i, f"<ID{k}>")
        return obj.replace(str(self.dir), "<DIR>").replace(str(self.maildir), "<MAIL>")

    def log(self, name="mainlog"):
        p = self.dir / "log" / name
        text = p.read_text() if p.exists() else ""
        lines = [PID.sub("pid=N", line) for line in STAMP.sub("", text).splitlines()
                 if "purging the environment" not in line and "keep_environment" not in line]
        # a bounce's size depends on the length of its random MIME boundary
        lines = [re.sub(r" S=\d+", " S=N", line) if "<= <>" in line else line for line in lines]
        return self.mask(lines)

    def clear_log(self):
        for name in ("mainlog", "paniclog"):
            p = self.dir / "log" / name
            if p.exists():
                p.write_text("")

    def files(self):
        """Spool files under input/ and msglog/ of every queue (the db/ hints are each MTA's own)."""
        out = []
        for root, _dirs, names in os.walk(self.spool):
            rel = os.path.relpath(root, self.spool)
            if rel.split(os.sep)[0] == "db" or ".postern-free" in rel.split(os.sep):
                continue  # hints, and Postern's pool of recycled files (docs/spool.md)
            if self.split:  # the subdirectory is a character of the id
                rel = re.sub(r"/[0-9A-Za-z]$", "/<c>", rel)
            for n in names:
                out.append(os.path.join(rel, n))
        self.ids_seen(" ".join(out))
        return sorted(self.mask(out))


@pytest.fixture
def both(postern_bin, tmp_path):
    made = []

    def make(extra=""):
        made.extend([Side(postern_bin, tmp_path / "postern", extra), Side(EXIM, tmp_path / "exim", extra)])
        return made[-2:]
    yield make
    for s in made:
        s.cleanup()


def compare(results):
    (p, e) = results
    assert p == e, f"\nPOSTERN {p!r}\nEXIM    {e!r}"
    return p


@pytest.mark.parametrize("extra", ["", "split_spool_directory"])
def test_reception_into_named_queues_as_exim(both, extra):
    out = []
    for s in both(extra):
        replies = s.smtp(*s.message(["q1", "plain"]),
                         *s.message(["plain"], sender="m@b.example"),  # the MAIL ACL's queue
                         *s.message(["dflt"]),                      # an empty name: the default
                         *s.message(["plain"]))                     # still the default
        out.append((replies, s.log(), s.files()))
    replies, log, files = compare(out)
    assert re.search(r"^<ID0> <= a@b.example U=root P=local-esmtp S=\d+ Q=quar$", "\n".join(log), re.M)
    assert re.search(r"^<ID1> <= m@b.example U=root P=local-esmtp S=\d+ Q=mq$", "\n".join(log), re.M)
    assert "<ID0> data <quar>" in log
    assert any(f.endswith("<ID0>-H") and f.startswith("quar/input") for f in files)
    assert any(f.endswith("<ID2>-H") and f.startswith("input") for f in files)


def test_queue_modifier_errors_and_stickiness_as_exim(both):
    out = []
    for s in both():
        replies = s.smtp("MAIL FROM:<a@b.example>", "RCPT TO:<slash@test.example>",
                         "RCPT TO:<taint@test.example>", "RSET",
                         # a warn sets the queue although its RCPT is refused; it stays set for
                         # the next message of the connection too (Exim keeps one global)
                         *s.message(["rej", "plain"]), *s.message(["plain"]),
                         *s.message(["q1", "other"]))
        out.append((replies, s.log(), s.files()))
    replies, log, files = compare(out)
    assert "451 Temporary local problem - please try later" in replies
    assert any("Directory separator not permitted in queue name: 'a/b'" in line for line in log)
    assert any("Tainted name 'taint' for queue not permitted" in line for line in log)
    assert sum(1 for line in log if line.endswith("Q=rq")) == 2
    assert any(line.endswith("Q=other") for line in log)


def test_queue_run_of_named_queue_as_exim(both):
    out = []
    for s in both():
        s.smtp(*s.message(["ok", "fail", "defer"]))
        s.clear_log()
        plain = s.run("-q")
        after_plain = s.files()
        s.run("-qGquar")
        first = s.log()
        s.clear_log()
        s.run("-qGquar")                  # within the retry time
        second = s.log()
        box = (s.maildir / "box").read_text()
        box = FROMLINE.sub(r"From \1 <date>", DATE.sub("<date>", BOUNDARY.sub("<b>", box)))
        out.append((plain.returncode, after_plain, first, second, s.mask(box), s.files()))
    _, after_plain, first, second, box, files = compare(out)
    assert all("quar/" in f for f in after_plain)
    assert "<ID0> == defer@test.example Q=quar R=rf defer (-1): forced defer" in first
    assert "<ID0> ** fail@test.example Q=quar R=rf: forced fail" in first
    assert "<ID0> => ok <ok@test.example> Q=quar R=r1 T=t1" in first
    assert "<ID1> <= <> R=<ID0> U=root P=local S=N Q=quar" in first
    assert "<ID0> == defer@test.example Q=quar routing defer (-52): retry time not reached" in second
    assert "X-Q: <quar>" in box
    assert not any(f.startswith("input") or f.startswith("msglog") for f in files)


def test_immediate_delivery_from_named_queue_as_exim(both):
    out = []
    for s in both():
        s.smtp(*s.message(["ok", "defer"]), od="-odi")
        out.append((s.log(), s.files()))
    log, files = compare(out)
    assert "<ID0> => ok <ok@test.example> Q=quar R=r1 T=t1" in log
    assert files == ["quar/input/<ID0>-D", "quar/input/<ID0>-H", "quar/msglog/<ID0>"]


@pytest.mark.parametrize("opt", ["-bp", "-bpc", "-bpr", "-bpu", "-bpa"])
def test_listing_with_qG_as_exim(both, opt):
    out = []
    for s in both():
        s.smtp(*s.message(["ok", "fail"]), *s.message(["plain"]), *s.message(["other"]))
        got = [(q, s.run(*q, opt)) for q in ([], ["-qGquar"], ["-qGother"], ["-qGnone"])]
        # -bpr lists in directory order: compare its messages as a set
        text = [AGE.sub(" <age> ", s.mask(p.stdout)) for _, p in got]
        if opt == "-bpr":
            text = [sorted(t.split("\n\n")) for t in text]
        out.append([(q, p.returncode, t, p.stderr) for (q, p), t in zip(got, text)])
    compare(out)


def test_message_control_in_named_queue_as_exim(both):
    out = []
    for s in both():
        s.smtp(*s.message(["ok"]))
        i = s.order[0]
        s.clear_log()
        got = []
        for args in (["-Mf", i], ["-qGquar", "-Mf", i], ["-qGquar", "-Mt", i], ["-qGquar", "-Mf", "1xUjVi-0007Vu-XX"],
                     ["-Mvl", i], ["-qGquar", "-Mrm", "1xUjVi-0007Vu-XX"], ["-qGquar", "-Mrm", i]):
            p = s.run(*args)
            got.append((args[:-1], p.returncode, s.mask(p.stdout), p.stderr))
        out.append((got, s.log(), s.files()))
    got, log, files = compare(out)
    assert "<ID0> Spool file <ID0>-D not found" in log
    assert "<ID1> Spool Q=quar file <ID1>-D not found" in log
    assert files == []


@pytest.mark.parametrize("extra", ["", "split_spool_directory"])
def test_MG_moves_messages_as_exim(both, extra):
    out = []
    for s in both(extra):
        s.smtp(*s.message(["plain"]), *s.message(["plain"]))
        a, b = s.order[0], s.order[1]
        s.clear_log()
        steps = []
        for args in (["-MG", "quar", a],                       # default -> quar
                     ["-MG", "quar", a],                       # not in the default queue now
                     ["-qGquar", "-MG", "other", a, b],        # b is not in quar
                     ["-qGother", "-MG", "", "1xUjVi-0007Vu-XX", a],  # back to the default
                     ["-MG", "quar", b, a]):
            p = s.run(*args)
            steps.append((s.mask(" ".join(args)), p.returncode, s.mask(p.stdout), p.stderr, s.files()))
        # the moved messages are found and delivered by a run of their new queue (in any order)
        moves = s.log()
        s.clear_log()
        s.run("-qGquar")
        out.append((steps, moves, sorted(s.log()), s.files()))
    steps, log, run, files = compare(out)
    assert steps[0][2] == "Message <ID0> \n"
    assert "<ID0> moved from input, msglog to (quar) input, msglog" in log
    assert "<ID0> moved from (other) input, msglog to input, msglog" in log
    assert "<ID0> => plain <plain@test.example> Q=quar R=r1 T=t1" in run
    assert "<ID1> => plain <plain@test.example> Q=quar R=r1 T=t1" in run
    assert files == []


def test_MG_to_the_same_queue_as_exim(both):
    out = []
    for s in both():
        s.smtp(*s.message(["q1"]))
        p = s.run("-qGquar", "-MG", "quar", s.order[0])
        out.append((p.returncode, s.mask(p.stdout), s.log(), s.log("paniclog"), s.files()))
    _, _, log, panic, files = compare(out)
    assert any("failed while moving message: File exists" in line for line in panic)
    assert len(files) == 3


def test_names_exim_would_take_outside_the_spool_are_refused(postern_bin, tmp_path):
    """Beyond Exim: `queue = ..` (Exim spools beside the spool directory) and -MG to a name with
    a '/' (Exim makes nested directories) are refused."""
    s = Side(postern_bin, tmp_path / "p", extra="")
    s.cleanup()                       # nothing is delivered here
    s.conf.write_text(s.conf.read_text().replace("queue = a/b", "queue = .."))
    replies = s.smtp("MAIL FROM:<a@b.example>", "RCPT TO:<slash@test.example>")
    assert replies[-2:] == ["451 Temporary local problem - please try later",
                            "221 test.example closing connection"]
    assert any("Queue name '..' not permitted" in line for line in s.log())
    s.smtp(*s.message(["plain"]))
    for name in ("a/b", "..", "."):
        p = s.run("-MG", name, s.order[0])
        assert p.returncode == 1 and "not permitted" in p.stderr
    p = s.run("-qG..", "-bp")
    assert p.returncode == 1 and "Queue name '..' not permitted" in p.stderr
    assert s.files() == ["input/<ID0>-D", "input/<ID0>-H", "msglog/<ID0>"]
    assert not (tmp_path / "p" / "input").exists()


def test_bounce_queue_chosen_by_not_smtp_start_acl_as_exim(both):
    """Exim runs acl_not_smtp_start for the bounce it makes (in its child process, which starts
    in the queue of the message being delivered); a `queue =` there puts the bounce elsewhere
    (here: the default queue) without changing the delivery's own Q=."""
    out = []
    for s in both("acl_not_smtp_start = acl_nss"):
        s.smtp(*s.message(["ok", "fail"]))
        s.clear_log()
        s.run("-qGquar")
        deadline = time.time() + 15      # the bounce's delivery may run in the background
        while time.time() < deadline and sum("Completed" in line for line in s.log()) < 2:
            time.sleep(0.1)
        out.append((sorted(s.log()), s.files()))
    log, files = compare(out)
    assert "nss <> <quar>" in log
    assert "<ID0> ** fail@test.example Q=quar R=rf: forced fail" in log
    assert "<ID1> => a <a@b.example> R=r1 T=t1" in log
    assert files == []


def test_commit_directory_left_by_killed_runner_is_per_queue(postern_bin, tmp_path):
    """Beyond Exim (Postern's runner commit directory): what a killed runner of a named queue
    left there is recovered by the next run of that queue only, back beside its -D."""
    s = Side(postern_bin, tmp_path / "p")
    try:
        s.smtp(*s.message(["ok"]))
        i = s.order[0]
        dead = s.spool / "quar" / "commit" / "999999"
        dead.mkdir(parents=True)
        (s.spool / "quar" / "input" / f"{i}-H").rename(dead / f"{i}-H")
        s.run("-q")                                   # the default queue's run leaves it alone
        assert (dead / f"{i}-H").exists()
        assert not (s.spool / "input").exists() or not list((s.spool / "input").iterdir())
        s.run("-qGquar")
        assert "<ID0> => ok <ok@test.example> Q=quar R=r1 T=t1" in s.log()
        assert s.files() == []
    finally:
        s.cleanup()
