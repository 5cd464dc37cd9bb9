"""Routing retry records (a router's ":defer:") and which commands route such an address again
before its retry time, beside Exim 4.96 (observed live, same configuration): the address
"dd@r.test" (record "R:dd@r.test", the router has local_parts) and "x@dd.test" ("R:dd.test")
deferred at -odi; then, with the router still deferring or no longer, one command runs. A plain
queue run leaves them alone with "routing defer (-52): retry time not reached"; -M, -qf, -R
and -Mc route them again (a new deferral moves the records' next try; a success removes them). The
"-52" lines come in recipient order, before any routing line, and only in the main log."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from smtp_transport_helpers import log_body, postern_bin
from test_routing_retry import CONF

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")


def records(dumpdb, spool):
    """The routing records as (key, errno, text, first failure, last try) lines."""
    out = subprocess.run([dumpdb, str(spool), "retry"], capture_output=True, text=True,
                         timeout=30).stdout.splitlines()
    recs = {}
    for i, l in enumerate(out):
        if re.match(r"\s+R:", l):
            key, errno, more, *text = l.split()
            first, last, nxt = re.findall(r"\d\d:\d\d:\d\d", out[i + 1])
            recs[key] = (errno, more, " ".join(text), first, last)
    return recs


def run(who, still_deferring, command):
    d = pathlib.Path(tempfile.mkdtemp(prefix=f"rforced-{who}-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        (d / "defer").touch()
        if who == "exim":
            for p in ["spool", "spool/db", "log"]:
                shutil.chown(d / p, "Debian-exim")
            users = "exim_user = Debian-exim\nexim_group = Debian-exim"
            tpuser, cmd, dumpdb = "  user = Debian-exim", "exim", "exim_dumpdb"
        else:
            users, tpuser, cmd = "exim_user = root\nexim_group = root", "", postern_bin()
            dumpdb = str(d / "exim_dumpdb")
            os.symlink(cmd, dumpdb)
        conf = d / "c.conf"
        # Nobody listens on port 1: a routed address defers at the transport.
        conf.write_text(CONF.format(d=d, users=users, tpuser=tpuser, port=1))
        subprocess.run([cmd, "-C", str(conf), "-odi", "-f", "s@s.test", "dd@r.test", "x@dd.test"],
                       input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
        mainlog = d / "log" / "mainlog"
        (mid,) = re.findall(r" (\S{6}-\S{6}-\S{2}) <= ", mainlog.read_text())
        before = records(dumpdb, d / "spool")
        skip = len(mainlog.read_text().splitlines())
        time.sleep(1.1)       # the records' times have a one-second resolution
        if not still_deferring:
            (d / "defer").unlink()
        if "RMIDX" in command:
            # Postern's schedule index gone: the run starts a delivery process for the message
            # (which logs the lines itself) instead of logging what the index kept.
            for f in (d / "spool" / "db").glob("schedule-*"):
                f.unlink()
        subprocess.run([cmd, "-C", str(conf)] + [mid if a == "@" else a for a in command if a != "RMIDX"],
                       capture_output=True, timeout=60)
        msglog = d / "spool" / "msglog" / mid
        lines = []
        for l in mainlog.read_text().splitlines()[skip:]:
            body = re.sub(r"pid=\d+", "pid=N", log_body(l))
            if body != "exim user lost privilege for using -C option":
                lines.append(body)
        after = records(dumpdb, d / "spool")
        # per key: gone, or (errno, more, text, same first failure, last try moved)
        change = {k: (None if k not in after else
                      after[k][:3] + (after[k][3] == v[3], after[k][4] != v[4]))
                  for k, v in before.items()}
        return sorted(before), lines, change, msglog.read_text().count("\n") if msglog.exists() else None
    finally:
        shutil.rmtree(d, ignore_errors=True)


RETRY_NOT_DUE = ["== dd@r.test routing defer (-52): retry time not reached",
                 "== x@dd.test routing defer (-52): retry time not reached"]
CASES = [
    (True, ["-q"]),
    (True, ["-q", "RMIDX"]),   # the run's delivery process checks the records itself
    (True, ["-qi"]),
    (True, ["-Mc", "@"]),
    (True, ["-M", "@"]),
    (True, ["-qf"]),
    (True, ["-R", "dd"]),
    (False, ["-q"]),
    (False, ["-M", "@"]),
    (False, ["-R", "dd"]),
]


@pytest.mark.parametrize("still,command", CASES,
                         ids=[("defer" if s else "ok") + "".join(c) for s, c in CASES])
def test_routing_retry_forced_as_exim(still, command):
    exim = run("exim", still, command)
    postern = run("postern", still, command)
    assert exim[0] == ["R:dd.test", "R:dd@r.test"], exim
    if command[0] == "-q":
        # What Exim did (a real run): a plain run leaves both addresses alone.
        assert sorted(l for l in exim[1] if l.startswith("==")) == RETRY_NOT_DUE, exim
    if command[0] == "-M":
        # ... and -M routes them again.
        assert not any("(-52)" in l for l in exim[1]), exim
    assert postern[0] == exim[0]
    # the order of the two addresses' lines is the order of routing in both
    assert postern[1] == exim[1], (postern, exim)
    assert postern[2] == exim[2], (postern, exim)
    # the message log: "retry time not reached" lines are not written to it
    assert postern[3] == exim[3], (postern, exim)
