"""EXPN through the routers and ETRN without smtp_etrn_command, as Exim 4.96 does them.

EXPN: one level of redirection is shown ("250-<child>" per generated address, pipes and files
included), an accepted address is shown itself, failures are "553 <address> is undeliverable"
and deferrals "553 <address> cannot be resolved at this time". The golden was recorded with
Debian's exim -bh (RECORD_EXPN_GOLDEN=1 to record again).
ETRN "#text" with no smtp_etrn_command starts a queue run "-R text" in the background."""
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "expn" / "expn.txt"

CONFIG = """spool_directory = {spool}
exim_user = root
exim_group = root
primary_hostname = mx.local
qualify_domain = test.ex
acl_smtp_expn = accept
begin routers
al:
  driver = redirect
  local_parts = list
  data = a@x.example, b@y.example, |/bin/true, /tmp/file
fl:
  driver = redirect
  local_parts = failme
  allow_fail
  data = :fail: gone away
df:
  driver = redirect
  local_parts = deferme
  allow_defer
  data = :defer: later
one:
  driver = redirect
  local_parts = one
  data = single@z.example
acc:
  driver = accept
  local_parts = plain
  transport = t
begin transports
t:
  driver = appendfile
  file = /tmp/x
"""

COMMANDS = ["helo x", "expn list", "expn list@test.ex", "expn failme", "expn deferme", "expn one",
            "expn plain", "expn nosuch", "expn", "expn a b", "expn <one@test.ex>", "quit"]


def expn_transcript(prog):
    d = pathlib.Path(tempfile.mkdtemp(prefix="expn-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool").mkdir()
        conf = d / "c.conf"
        conf.write_text(CONFIG.format(spool=d / "spool"))
        r = subprocess.run([prog, "-C", str(conf), "-bh", "10.0.0.1"],
                           input="".join(c + "\r\n" for c in COMMANDS), capture_output=True, text=True,
                           timeout=60)
        return [l for l in r.stdout.splitlines() if l[:3].isdigit() and not l.startswith("220 ")]
    finally:
        shutil.rmtree(d)


def test_expn_same_as_exim(postern_bin):
    if os.environ.get("RECORD_EXPN_GOLDEN"):
        GOLDEN.write_text("\n".join(expn_transcript("exim")) + "\n")
    want = GOLDEN.read_text().splitlines()
    assert "250-<|/bin/true>" in want
    assert expn_transcript(postern_bin) == want


def test_etrn_default_runs_queue(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    (spool / "log").mkdir(parents=True)
    conf = tmp_path / "c.conf"
    conf.write_text(f"spool_directory = {spool}\nlog_file_path = {spool}/log/%slog\nexim_user = root\n"
                    "exim_group = root\nprimary_hostname = mx.local\nacl_smtp_etrn = accept\n")
    r = subprocess.run([postern_bin, "-C", str(conf), "-bs"],
                       input="helo x\r\netrn nohash\r\netrn #foo.example\r\nquit\r\n",
                       capture_output=True, text=True, timeout=30)
    assert "501 argument must begin with #" in r.stdout
    assert "250 OK" in r.stdout
    log = ""
    for _ in range(50):
        log = (spool / "log" / "mainlog").read_text()
        if "End queue run" in log:
            break
        time.sleep(0.1)
    assert "ETRN #foo.example received from" in log
    assert "Start queue run: pid=" in log and "-R foo.example" in log
