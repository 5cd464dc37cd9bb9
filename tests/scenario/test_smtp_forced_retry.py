"""Which deliveries override a host's retry time, beside Exim 4.96 (observed live, same
configuration). Three messages wait for a host that refused a connection (the first tried it
with -odi, the second found its retry time not reached, the third was only queued); then, before
the retry time, the host is up (or still down, or answers 421) and one command runs:

- `-q`, `-qi` and `-Mc` leave the host alone: "defer (-54): retry time not reached for any
  host", the record unchanged, every message that met the record listed in `wait-t`;
- `-qf`, `-qff`, `-M` try it; `-R` forces only the first message it selects (a success removes
  the record, so the others follow; a failure leaves them at -54), `-Rf` forces all;
- a success removes the host's record and the emptied `wait-t` record; a failure keeps the
  first-failed time and moves the last and next tries.
- the host's line goes to the message log too; a "retry time not reached" line only in the
  message's first delivery attempt;
- the command returns only when the connection's last message is done: after `-M` delivered its
  message, msg1 (listed in `wait-t`) goes over the same connection, and its "=>" line is in the
  log when `-M` returns (the log is read at once).

The messages are compared as a set of per-message line sequences: the order of a queue run and
which message a connection carries next (the `*` of a continued connection) are Exim's random
queue order."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from smtp_transport_helpers import log_body, postern_bin
from daemon_helpers import free_port

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
{users}
never_users =
trusted_users = root
keep_environment =
begin routers
r:
  driver = manualroute
  route_list = * 127.0.0.1::{port}
  self = send
  transport = t
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
{tpuser}
begin retry
* * F,1h,1h
"""


class Host:
    """A server on the port: every command gets a 2xx (greeting "220"), or the greeting is
    given (e.g. "421 busy") and the connection closed after the client's next line."""

    def __init__(self, port, greeting):
        self.greeting = greeting
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(30)
        with c, c.makefile("rb") as f:
            try:
                c.sendall(self.greeting.encode() + b"\r\n")
                in_data = False
                while True:
                    line = f.readline()
                    if not line or not self.greeting.startswith("220"):
                        return
                    text = line.decode("utf-8", "replace").rstrip("\r\n")
                    if in_data:
                        if text == ".":
                            in_data = False
                            c.sendall(b"250 OK id=x\r\n")
                        continue
                    cmd = text.upper()
                    if cmd.startswith("EHLO"):
                        c.sendall(b"250-sink\r\n250 PIPELINING\r\n")
                    elif cmd.startswith("DATA"):
                        in_data = True
                        c.sendall(b"354 go\r\n")
                    elif cmd.startswith("QUIT"):
                        c.sendall(b"221 bye\r\n")
                        return
                    else:
                        c.sendall(b"250 OK\r\n")
            except OSError:
                return

    def close(self):
        self.sock.close()


def run(who, host_state, command):
    """Queue the three messages with the host down, then run command (message numbers as @1..)
    with the host in host_state ("up", "down", "421"). Returns (lines of the command as
    (message number, normalised line)), other lines, the retry record's fields and whether its
    last try moved, the message numbers listed in wait-t)."""
    port = free_port()
    d = pathlib.Path(tempfile.mkdtemp(prefix=f"fretry-{who}-"))
    host = None
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
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
        conf.write_text(CONF.format(d=d, users=users, tpuser=tpuser, port=port))

        def mta(*args, data=None):
            subprocess.run([cmd, "-C", str(conf)] + list(args), input=data, capture_output=True, timeout=60)

        def dump(db):
            return subprocess.run([dumpdb, str(d / "spool"), db], capture_output=True, text=True,
                                  timeout=30).stdout.splitlines()

        def retry_record():
            out = dump("retry")
            i = next((i for i, l in enumerate(out) if l.strip().startswith("T:127.0.0.1:")), None)
            if i is None:
                return None
            key, errno, more, *text = out[i].split()
            first, last, nxt = re.findall(r"\d\d:\d\d:\d\d", out[i + 1])
            return (errno, more, " ".join(text)), first, last

        msg = b"Subject: t\n\nbody\n"
        mta("-odi", "-f", "s@s.test", "a@r.test", data=msg)
        mta("-odi", "-f", "s@s.test", "b@r.test", data=msg)
        mta("-odq", "-f", "s@s.test", "c@r.test", data=msg)
        mainlog = d / "log" / "mainlog"
        ids = re.findall(r" (\S{6}-\S{6}-\S{2}) <= ", mainlog.read_text())
        assert len(ids) == 3
        before = retry_record()
        assert before is not None
        skip = len(mainlog.read_text().splitlines())
        # The record's times have a one-second resolution: a new try must show a later one.
        time.sleep(1.1)
        if host_state != "down":
            host = Host(port, "220 sink" if host_state == "up" else "421 busy")
        mta(*[ids[int(a[1:]) - 1] if re.fullmatch(r"@\d", a) else a for a in command])
        per_msg = {}
        other = []
        for l in mainlog.read_text().splitlines()[skip:]:
            body = log_body(l)
            ident = l.split()[2]
            if ident in ids:
                body = re.sub(r"^(==|=>) [abc]@", r"\1 X@", body).replace("]*", "]")
                per_msg.setdefault(ids.index(ident) + 1, []).append(body)
            elif body != "exim user lost privilege for using -C option":
                # (Exim's note when it re-executes itself with -C for a continued connection)
                other.append(re.sub(r"pid=\d+", "pid=N", body))
        after = retry_record()
        record = None if after is None else (after[0], after[1] == before[1], after[2] != before[2])
        waiting = set()
        for l in dump("wait-t"):
            if l.startswith("127.0.0.1 "):
                waiting = {ids.index(x) + 1 for x in l.split()[1:]}
        msglogs = {}
        for f in (d / "spool" / "msglog").glob("*"):
            if f.name in ids:
                msglogs[ids.index(f.name) + 1] = [l.split(" ", 2)[2] for l in f.read_text().splitlines()]
        return per_msg, other, record, waiting, msglogs
    finally:
        if host:
            host.close()
        shutil.rmtree(d, ignore_errors=True)


NOT_DUE = "== X@r.test R=r T=t defer (-54): retry time not reached for any host for 'r.test'"
DELIVERED = ["=> X@r.test R=r T=t H=127.0.0.1 [127.0.0.1] C=\"250 OK id=x\"", "Completed"]
REFUSED = ["H=127.0.0.1 [127.0.0.1] Connection refused", "== X@r.test R=r T=t defer (111): Connection refused"]

# (host state, command, what Exim 4.96 did: the line sequences of the messages it logged for)
CASES = [
    ("up", ["-q"], [[NOT_DUE]] * 3),
    ("up", ["-qi"], [[NOT_DUE]]),                 # only the message never tried before
    ("up", ["-Mc", "@2"], [[NOT_DUE]]),
    ("up", ["-qf"], [DELIVERED] * 3),
    ("up", ["-qff"], [DELIVERED] * 3),
    ("up", ["-M", "@2"], [DELIVERED] * 2),        # msg2, then msg1 (listed in wait-t) over its connection
    ("up", ["-R", "r.test"], [DELIVERED] * 3),
    ("up", ["-Rf", "r.test"], [DELIVERED] * 3),
    ("down", ["-M", "@1"], [REFUSED]),
    ("down", ["-qf"], [REFUSED] * 3),
    ("down", ["-R", "r.test"], [REFUSED, [NOT_DUE], [NOT_DUE]]),
    ("down", ["-Rf", "r.test"], [REFUSED] * 3),
    ("421", ["-M", "@1"], [["H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after initial "
                            "connection: 421 busy",
                            "== X@r.test R=r T=t defer (0) H=127.0.0.1 [127.0.0.1]: SMTP error from remote "
                            "mail server after initial connection: 421 busy"]]),
]


@pytest.mark.parametrize("state,command,expected", CASES, ids=[f"{s}{''.join(c)}" for s, c, _ in CASES])
def test_forced_retry_as_exim(state, command, expected):
    exim = run("exim", state, command)
    postern = run("postern", state, command)
    # What Exim did (taken from a real run) still holds, so the comparison is not vacuous.
    assert sorted(exim[0].values()) == sorted(expected), exim
    # Which messages tried the host and what each logged, the queue run's own lines, the host's
    # retry record (gone after a success; after a failure: same first failure, later last try),
    # and the messages listed in wait-t.
    assert sorted(postern[0].values()) == sorted(exim[0].values()), (postern, exim)
    if command[0] in ("-M", "-Mc"):
        assert postern[0] == exim[0]
    assert postern[1:4] == exim[1:4], (postern, exim)
    # The message logs: the host's line as in the main log; a "retry time not reached" line
    # only in a message's first attempt. (Which message -R forces, and so whose log has what,
    # is random.)
    if command[0] != "-R":
        assert postern[4] == exim[4], (postern, exim)
