"""Who owns the log files and directories a root process creates, compared with Exim 4.96.

Exim opens (and creates) its logs as the exim user even when it runs as root, so mainlog,
rejectlog and paniclog and the directories made for them belong to the exim user and group
(0640 / 0750), and a log file that root owns is refused with "Permission denied".
Each case runs the same submission through live Exim and through Postern, each in its own
world-searchable directory owned by the exim user (pytest's tmp_path is private to root).
"""
import datetime
import os
import pathlib
import pwd
import shutil
import stat
import subprocess
import tempfile

import pytest

EXIM = shutil.which("exim")
pytestmark = pytest.mark.skipif(EXIM is None or os.geteuid() != 0,
                                reason="needs root and Exim 4.96 for the comparison")

CONF = """exim_user = mail
exim_group = mail
spool_directory = {d}/spool
log_file_path = {logpath}
primary_hostname = test.example
begin routers
r:
  driver = redirect
  data = :blackhole:
"""


def make_base():
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-logown-"))
    os.chmod(d, 0o755)
    (d / "spool").mkdir()
    for p in (d, d / "spool"):
        shutil.chown(p, "mail", "mail")
    return d


def submit(binary, d, logpath):
    conf = d / "conf"
    conf.write_text(CONF.format(d=d, logpath=logpath.format(d=d)))
    return subprocess.run([binary, "-C", str(conf), "-odq", "-f", "a@b.example", "x@test.example"],
                          input=b"Subject: x\n\nhi\n", capture_output=True, timeout=30)


def owner(path):
    s = os.lstat(path)
    return (pwd.getpwuid(s.st_uid).pw_name, s.st_gid, oct(stat.S_IMODE(s.st_mode)))


def tree(d, top):
    """Owner and mode of everything under d/top, by relative name."""
    out = {}
    for root, dirs, files in os.walk(d / top):
        for n in dirs + files:
            p = pathlib.Path(root) / n
            out[str(p.relative_to(d))] = owner(p)
    out[top] = owner(d / top)
    return out


@pytest.fixture
def bases():
    made = []

    def make():
        made.append(make_base())
        return made[-1]
    yield make
    for d in made:
        shutil.rmtree(d, ignore_errors=True)


def both(bases, postern_bin, logpath, prepare=None):
    results = []
    for binary in (EXIM, postern_bin):
        d = bases()
        if prepare:
            prepare(d)
        r = submit(binary, d, logpath)
        results.append((d, r))
    return results


@pytest.mark.parametrize("logpath, top", [
    ("{d}/logs/%slog", "logs"),
    ("{d}/logs/%s-%D.log", "logs"),  # datestamped file name
    ("{d}/mlogs/%s.%M", "mlogs"),
    ("{d}/logs/%slog : {d}/other/%slog", "logs"),  # two paths: a panic line, so a paniclog
])
def test_created_logs_belong_to_the_exim_user(bases, postern_bin, logpath, top):
    (ed, er), (pd, pr) = both(bases, postern_bin, logpath)
    assert er.returncode == 0, er.stderr
    assert pr.returncode == 0, pr.stderr
    mail = pwd.getpwnam("mail")
    got = tree(pd, top)
    assert got == tree(ed, top)
    assert got[top] == ("mail", mail.pw_gid, "0o750")
    assert any(k.endswith("log") or ".20" in k for k in got)
    for name, (user, _, mode) in got.items():
        assert user == "mail"
    if "other" in logpath:
        assert "mainlog" in (pd / "logs" / "mainlog").name
        assert (pd / "logs" / "paniclog").exists() and (ed / "logs" / "paniclog").exists()
    today = datetime.datetime.now().strftime("%Y%m%d")
    if "%D" in logpath:
        assert (pd / "logs" / f"main-{today}.log").exists()


def root_owned_mainlog(d):
    logs = d / "logs"
    logs.mkdir()
    (logs / "mainlog").touch()
    os.chmod(logs / "mainlog", 0o640)


def test_root_owned_log_file_is_refused(bases, postern_bin):
    """A mainlog that root owns cannot be opened by the exim user: Exim reports it on stderr
    with the euid of the process that asked (root) and leaves the file untouched."""
    (ed, er), (pd, pr) = both(bases, postern_bin, "{d}/logs/%slog", root_owned_mainlog)
    for d, r in ((ed, er), (pd, pr)):
        err = r.stderr.decode()
        assert f'Cannot open main log file "{d}/logs/mainlog": Permission denied: euid=0 egid=0' in err
        assert (d / "logs" / "mainlog").read_bytes() == b""
        assert owner(d / "logs" / "mainlog")[0] == "root"
    # Exim cannot create a panic log in root's directory either; Postern creates log files as
    # root and gives them to the exim user (docs/logging.md), so its panic log is the exim user's.
    assert not (ed / "logs" / "paniclog").exists()
    assert owner(pd / "logs" / "paniclog")[0] == "mail"


def test_exim_user_process_writes_logs_root_created(bases, postern_bin):
    """After a root submission created the logs, a process running as the exim user (here a
    -bs session started by the exim user) appends to the same main log."""
    d = bases()
    r = submit(postern_bin, d, "{d}/logs/%slog")
    assert r.returncode == 0, r.stderr
    before = (d / "logs" / "mainlog").read_text()
    mail = pwd.getpwnam("mail")

    def as_mail():
        os.setgroups([])
        os.setgid(mail.pw_gid)
        os.setuid(mail.pw_uid)
    s = subprocess.run([postern_bin, "-C", str(d / "conf"), "-bs"], preexec_fn=as_mail,
                       input=b"HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@test.example>\r\n"
                             b"DATA\r\nSubject: y\r\n\r\nhi\r\n.\r\nQUIT\r\n",
                       capture_output=True, timeout=30)
    assert b"Cannot open" not in s.stderr, s.stderr
    after = (d / "logs" / "mainlog").read_text()
    assert len(after.splitlines()) > len(before.splitlines())
    assert "U=mail" in after[len(before):]  # written by the exim-user process
