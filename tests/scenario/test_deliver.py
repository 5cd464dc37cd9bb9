"""The delivery process end to end: local submission and the daemon start deliveries as Exim
4.96 does, routing outcomes are logged in Exim's words (lines recorded from Exim 4.96 with the
same routers, ids and times masked), finished recipients go to the -H non-recipients, and a
message with nothing left is removed ("Completed")."""
import os
import pathlib
import re
import shutil
import smtplib
import subprocess
import tempfile
import time

from daemon_helpers import Daemon, free_ports, wait_for

ROUTERS = """
acl_smtp_rcpt = acc
begin acl
acc:
  accept

begin routers
bh:
  driver = redirect
  local_parts = bh : bh2
  data = :blackhole:
fl:
  driver = redirect
  local_parts = fl
  allow_fail
  data = :fail: go away
df:
  driver = redirect
  local_parts = df
  allow_defer
  data = :defer: later
multi:
  driver = redirect
  local_parts = multi
  data = bh@test.example, df@test.example

# Without a retry rule a routing deferral times out at once (Exim 4.96: "** ...: retry timeout
# exceeded"); these tests look at deferrals.
begin retry
* * F,1h,15m
"""


def config(spool, extra=""):
    # keep_environment: the recorded logs start without Exim's environment warning.
    return (f"spool_directory = {spool}\nkeep_environment =\n"
            "primary_hostname = test.example\nqualify_domain = test.example\n"
            f"{extra}\n{ROUTERS}")


def masked_lines(log):
    out = []
    for line in log.splitlines():
        line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
        line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
        out.append(line)
    return out


def submit(postern, conf, *args, body="Subject: t\n\nhello\n"):
    return subprocess.run([postern, "-C", str(conf), *args], input=body, capture_output=True,
                          text=True, timeout=30)


def spool_ids(spool):
    d = pathlib.Path(spool) / "input"
    return sorted(p.name[:-2] for p in d.glob("*-H")) if d.exists() else []


def test_odi_routing_outcomes(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    conf = tmp_path / "c.conf"
    conf.write_text(config(spool))
    r = submit(postern_bin, conf, "-odi", "-f", "s@x.example", "bh@test.example", "df@test.example")
    assert r.returncode == 0, r.stderr
    lines = masked_lines((spool / "log" / "mainlog").read_text())
    # Exim 4.96 with the same routers: recipients are routed newest first.
    assert lines[1:] == [
        "ID == df@test.example R=df defer (-1): later",
        "ID => :blackhole: <bh@test.example> R=bh",
    ], lines
    ids = spool_ids(spool)
    assert len(ids) == 1
    header = (spool / "input" / f"{ids[0]}-H").read_text()
    # bh is finished: it is a non-recipient now; df is still to do; no journal is left.
    assert re.search(r"^NN bh@test\.example$", header, re.M), header
    assert not (spool / "input" / f"{ids[0]}-J").exists()
    msglog = (spool / "msglog" / ids[0]).read_text()
    assert "df@test.example R=df defer (-1): later" in msglog

    # A second attempt (-M) does not deliver bh again.
    r = subprocess.run([postern_bin, "-C", str(conf), "-M", ids[0]], capture_output=True, text=True, timeout=30)
    log = masked_lines((spool / "log" / "mainlog").read_text())
    assert log.count("ID => :blackhole: <bh@test.example> R=bh") == 1, log


def test_all_done_completes(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    conf = tmp_path / "c.conf"
    conf.write_text(config(spool))
    r = submit(postern_bin, conf, "-odi", "-f", "s@x.example", "bh@test.example", "bh2@test.example")
    assert r.returncode == 0, r.stderr
    lines = masked_lines((spool / "log" / "mainlog").read_text())
    assert lines[1:] == [
        "ID => :blackhole: <bh2@test.example> R=bh",
        "ID => :blackhole: <bh@test.example> R=bh",
        "ID Completed",
    ], lines
    assert spool_ids(spool) == []
    assert not list((spool / "msglog").glob("*"))


def test_redirect_children_finished_separately(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    conf = tmp_path / "c.conf"
    conf.write_text(config(spool))
    submit(postern_bin, conf, "-odi", "-f", "s@x.example", "multi@test.example")
    lines = masked_lines((spool / "log" / "mainlog").read_text())
    assert "ID == df@test.example <multi@test.example> R=df defer (-1): later" in lines, lines
    ids = spool_ids(spool)
    header = (spool / "input" / f"{ids[0]}-H").read_text()
    # The delivered child is remembered, the parent is not finished.
    assert "bh@test.example" in header
    assert not re.search(r"^N. multi@test\.example$", header, re.M), header


def test_odq_and_queue_only_leave_the_message(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    conf = tmp_path / "c.conf"
    conf.write_text(config(spool))
    submit(postern_bin, conf, "-odq", "-f", "s@x.example", "bh@test.example")
    assert len(spool_ids(spool)) == 1
    conf.write_text(config(spool, "queue_only"))
    submit(postern_bin, conf, "-f", "s@x.example", "bh@test.example")
    assert len(spool_ids(spool)) == 2
    # -odi overrides queue_only (queue_only_override is true by default)
    submit(postern_bin, conf, "-odi", "-f", "s@x.example", "bh@test.example")
    assert len(spool_ids(spool)) == 2
    assert masked_lines((spool / "log" / "mainlog").read_text()).count("ID Completed") == 1


def test_background_delivery_by_default(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    conf = tmp_path / "c.conf"
    conf.write_text(config(spool))
    r = submit(postern_bin, conf, "-f", "s@x.example", "bh@test.example")
    assert r.returncode == 0
    assert wait_for(lambda: "Completed" in (spool / "log" / "mainlog").read_text(), timeout=10)
    assert wait_for(lambda: spool_ids(spool) == [], timeout=20)


def public_dir():
    # The sessions run as the exim user (mail), which cannot enter pytest's tmp_path.
    pub = tempfile.mkdtemp(prefix="postern-deliver-")
    os.chmod(pub, 0o755)
    return pub


def test_daemon_starts_delivery(postern_bin, tmp_path):
    (port,) = free_ports(1)
    d = Daemon(postern_bin, public_dir(), "primary_hostname = test.example\nqualify_domain = test.example\n"
               + ROUTERS, args=["-oX", str(port)])
    d.start(wait_port=port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("s@x.example", ["bh@test.example"], "Subject: t\n\nhello\n")
            s.sendmail("s@x.example", ["df@test.example"], "Subject: t\n\nhello\n")
        assert wait_for(lambda: "Completed" in d.mainlog and "== df@test.example" in d.mainlog, timeout=15), d.mainlog
        assert len(spool_ids(d.spool)) == 1
        assert d.paniclog == ""
    finally:
        d.stop()
        shutil.rmtree(d.dir, ignore_errors=True)


def test_daemon_queue_only(postern_bin, tmp_path):
    (port,) = free_ports(1)
    d = Daemon(postern_bin, public_dir(), "primary_hostname = test.example\nqueue_only\n" + ROUTERS,
               args=["-oX", str(port)])
    d.start(wait_port=port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("s@x.example", ["bh@test.example"], "Subject: t\n\nhello\n")
        time.sleep(1)
        assert "Completed" not in d.mainlog
        assert len(spool_ids(d.spool)) == 1
    finally:
        d.stop()
        shutil.rmtree(d.dir, ignore_errors=True)


FILTER = """# Exim filter
if $h_subject: contains "freezeme" then freeze text "frozen by me" endif
if $h_subject: contains "deferme" then defer text "defer by me" endif
if $h_subject: contains "redir" then deliver bh@test.example endif
if $h_subject: contains "hdr" then headers add "X-Filt: yes" endif
"""


def test_system_filter(postern_bin, tmp_path):
    """Log lines recorded from Exim 4.96 with the same filter and routers."""
    spool = tmp_path / "spool"
    filt = tmp_path / "filter"
    filt.write_text(FILTER)
    conf = tmp_path / "c.conf"
    conf.write_text(config(spool, f"system_filter = {filt}"))
    want = {
        "freezeme": ["ID Frozen by the system filter: frozen by me"],
        "deferme": ["ID Delivery deferred by system filter"],
        "redir": ["ID original recipients ignored (system filter)",
                  "ID => :blackhole: <bh@test.example> R=bh", "ID Completed"],
        "hdr": ["ID == df@test.example R=df defer (-1): later"],
    }
    for subject, lines in want.items():
        log = spool / "log" / "mainlog"
        if log.exists():
            log.unlink()
        submit(postern_bin, conf, "-odi", "-f", "s@x.example", "df@test.example",
               body=f"Subject: {subject}\n\nhello\n")
        assert masked_lines(log.read_text())[1:] == lines, subject
    # headers add is kept in -H for later attempts; the frozen one is marked frozen
    headers = [(spool / "input" / f"{i}-H").read_text() for i in spool_ids(spool)]
    assert sum("X-Filt: yes" in h for h in headers) == 1
    assert sum("\n-frozen " in h for h in headers) == 1
