"""Retry records written by real deliveries, dumped with exim_dumpdb, against the lines Exim 4.96's
exim_dumpdb printed for the same failures (recorded by hand from Exim runs with the same fake
server; docs/retry.md): a refused connection, a 451 to RCPT (per recipient and sender) and a 451
after the data (per host and message)."""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_events_order import FakeServer, refused_port  # noqa: E402

CONF = """\
spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = test.example
qualify_domain = test.example
begin routers
r1:
  driver = manualroute
  route_list = * 127.0.0.1::{port} byname
  transport = t1
  self = send
begin transports
t1:
  driver = smtp
begin retry
* * F,2h,15m; G,16h,1h,1.5; F,4d,6h
"""

# Exim 4.96 (the port and the message id replaced)
EXIM = {
    "refused": "  T:127.0.0.1:127.0.0.1:<port> 111 65 Connection refused",
    "rcpt451": "  R:u@r.example:<s@snd.example> -44 13121 H=127.0.0.1 [127.0.0.1]: SMTP error from remote "
               "mail server after RCPT TO:<u@r.example>: 451 4.7.1 greylisted",
    "data451": "  T:127.0.0.1:127.0.0.1:<port>:<id> -46 13121 H=127.0.0.1 [127.0.0.1]: SMTP error from "
               "remote mail server after end of data: 451 4.3.0 data later",
}


class Server451(FakeServer):
    def __init__(self, where):
        super().__init__("ok")
        self.where = where

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            c.settimeout(10)
            with c, c.makefile("rwb") as f:
                def w(x):
                    f.write(x.encode() + b"\r\n")
                    f.flush()
                w("220 fake.example ESMTP")
                data = False
                for raw in f:
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    up = line.upper()
                    if data:
                        if line == ".":
                            data = False
                            w("451 4.3.0 data later" if self.where == "data" else "250 OK")
                        continue
                    if up.startswith("EHLO"):
                        w("250-fake.example hello")
                        w("250 PIPELINING")
                    elif up.startswith("RCPT"):
                        w("451 4.7.1 greylisted" if self.where == "rcpt" else "250 OK")
                    elif up == "DATA":
                        w("354 go")
                        data = True
                    elif up == "QUIT":
                        w("221 bye")
                        break
                    else:
                        w("250 OK")


@pytest.mark.parametrize("case", ["refused", "rcpt451", "data451"])
def test_retry_record(postern_bin, case):
    # The remote transport runs as the exim user: a world-traversable spool.
    work = pathlib.Path(tempfile.mkdtemp(prefix="retry-rec-"))
    server = None
    held = None
    try:
        os.chmod(work, 0o755)
        spool = work / "spool"
        (spool / "log").mkdir(parents=True)
        for name in ("mainlog", "paniclog"):
            (spool / "log" / name).touch()
            os.chmod(spool / "log" / name, 0o666)
        if case == "refused":
            # bound, not listening: refuses connections and no other test can take it meanwhile
            held, port = refused_port()
        else:
            server = Server451("rcpt" if case == "rcpt451" else "data")
            port = server.port
        conf = work / "c.conf"
        conf.write_text(CONF.format(spool=spool, port=port))
        r = subprocess.run([postern_bin, "-C", str(conf), "-odi", "-f", "s@snd.example", "u@r.example"],
                           input="Subject: retry\n\nbody\n", capture_output=True, text=True, timeout=60)
        log = (spool / "log" / "mainlog").read_text()
        ids = re.findall(r" (\S{6}-\S{6}-\S{2}) <= ", log)
        assert ids, r.stderr + log
        dump = work / "exim_dumpdb"
        os.symlink(postern_bin, dump)
        d = subprocess.run([str(dump), "-z", str(spool), "retry"], capture_output=True, text=True, timeout=30)
        lines = d.stdout.splitlines()
        want = EXIM[case].replace("<port>", str(port)).replace("<id>", ids[0])
        assert want in lines, d.stdout + log
        times = lines[lines.index(want) + 1]
        stamps = re.findall(r"\d\d-\w{3}-\d{4} (\d\d):(\d\d):(\d\d)", times)
        assert len(stamps) == 3 and not times.endswith("*"), times
        secs = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in stamps]
        assert (secs[2] - secs[1]) % 86400 == 15 * 60  # F,2h,15m: the next try in 15 minutes
    finally:
        if server:
            server.close()
        if held:
            held.close()
        shutil.rmtree(work, ignore_errors=True)


def test_retry_record_removed_after_success(postern_bin):
    """The record a refused connection left for the host is removed when the message is then
    delivered there (-M). Successful deliveries first look in a read-only open whether any
    record they would remove exists (src/core/retry_db.c): this is the case where one does, so
    the removal must still happen."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="retry-rm-"))
    held, port = refused_port()
    server = None
    try:
        os.chmod(work, 0o755)
        spool = work / "spool"
        (spool / "log").mkdir(parents=True)
        for name in ("mainlog", "paniclog"):
            (spool / "log" / name).touch()
            os.chmod(spool / "log" / name, 0o666)
        conf = work / "c.conf"
        conf.write_text(CONF.format(spool=spool, port=port))
        r = subprocess.run([postern_bin, "-C", str(conf), "-odi", "-f", "s@snd.example", "u@r.example"],
                           input="Subject: retry\n\nbody\n", capture_output=True, text=True, timeout=60)
        log = (spool / "log" / "mainlog").read_text()
        ids = re.findall(r" (\S{6}-\S{6}-\S{2}) <= ", log)
        assert ids, r.stderr + log
        dump = work / "exim_dumpdb"
        os.symlink(postern_bin, dump)

        def records():
            d = subprocess.run([str(dump), "-z", str(spool), "retry"], capture_output=True, text=True, timeout=30)
            return [ln for ln in d.stdout.splitlines() if ln.startswith("  T:") or ln.startswith("  R:")]
        key = f"  T:127.0.0.1:127.0.0.1:{port} "
        assert any(ln.startswith(key) for ln in records()), records()
        # The same port now takes the message: the held socket starts listening.
        server = Server451("none")
        server.sock.close()
        held.listen(5)
        held.settimeout(0.2)
        server.sock, held = held, None
        r = subprocess.run([postern_bin, "-C", str(conf), "-M", ids[0]], capture_output=True, text=True, timeout=60)
        log = (spool / "log" / "mainlog").read_text()
        assert f"{ids[0]} => u@r.example" in log, r.stderr + log
        assert not any(ln.startswith(key) for ln in records()), records()
    finally:
        if server:
            server.close()
        if held:
            held.close()
        shutil.rmtree(work, ignore_errors=True)
