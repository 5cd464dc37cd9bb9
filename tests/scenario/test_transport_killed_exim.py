"""A remote transport process killed (kill -9) during a delivery that also has a local and an
unrouteable recipient, beside a live Exim 4.96. Observed with Exim: the local delivery is done
first; the killed smtp process gives "Delivery status for <addr>: got 0 of 7 bytes (pipeheader)
from transport process <pid> for transport smtp" followed by an empty line (main and panic log),
"== <addr> ... defer (-1): smtp transport process returned non-zero status 0x0009: terminated by
signal 9"; the attempt goes on: the bounce for the unrouteable address is sent (it is marked
delivered in -H) and the message is frozen."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from daemon_helpers import free_ports, reachable_by_exim_user
from test_queue import EXIM

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

CONF = """primary_hostname = vm
spool_directory = {d}/spool
log_file_path = {d}/spool/log/%slog
keep_environment =
begin routers
r:
  driver = manualroute
  domains = r.test
  route_list = * 127.0.0.1::{port}
  self = send
  transport = t
loc:
  driver = accept
  domains = vm
  local_parts = loc : snd
  transport = f
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
  command_timeout = 30s
f:
  driver = appendfile
  file = {d}/mail/${{local_part_data}}
  user = nobody
begin retry
* * F,1h,1h
"""

ID = re.compile(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b")


class StallAfterData:
    """Accepts everything up to the end of the data, then never answers."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(5)
        self.stalled = threading.Event()
        self.peer = None
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        c, self.peer = self.sock.accept()
        f = c.makefile("rb")
        c.sendall(b"220 mx\r\n")
        for line in f:
            u = line.upper()
            if u.startswith(b"EHLO"):
                c.sendall(b"250-mx\r\n250 PIPELINING\r\n")
            elif u.startswith(b"DATA"):
                c.sendall(b"354 go\r\n")
            elif line == b".\r\n":
                self.stalled.set()
                time.sleep(60)
                return
            elif u.startswith((b"MAIL", b"RCPT", b"RSET")):
                c.sendall(b"250 ok\r\n")


def holders(lport):
    """The processes holding the client end of the connection from local port lport."""
    inodes = set()
    for line in pathlib.Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[1] == f"0100007F:{lport:04X}":
            inodes.add(f"socket:[{f[9]}]")
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        found.add(int(pid))
                except OSError:
                    pass
        except OSError:
            pass
    return found


def ppid(pid):
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


# Without the test suite's trusted -C (conftest.py): Postern then drops privilege for the
# bounce's delivery as Exim does, as in the observation.
ENV = {k: v for k, v in os.environ.items() if k != "POSTERN_TEST_TRUST_CONFIG"}


def attempt(binary, d):
    d.mkdir()
    for sub in ("", "spool", "mail"):
        (d / sub).mkdir(exist_ok=True)
        os.chmod(d / sub, 0o777)
    port = free_ports(1)[0]
    conf = d / "conf"
    conf.write_text(CONF.format(d=d, port=port))
    srv = StallAfterData(port)
    p = subprocess.run([binary, "-C", str(conf), "-odq", "-f", "snd@vm", "loc@vm", "r@r.test", "bad@nowhere.vm"],
                       input="Subject: t\n\nbody\n", capture_output=True, text=True, timeout=60,
                       env=ENV)
    assert p.returncode == 0, p.stderr
    (mid,) = ID.findall((d / "spool" / "log" / "mainlog").read_text())
    q = subprocess.Popen([binary, "-C", str(conf), "-qf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=ENV)
    assert srv.stalled.wait(30)
    pids = holders(srv.peer[1])
    # the transport process: the holder whose parent holds the connection too, or the only one
    (victim,) = [p for p in pids if ppid(p) in pids] or list(pids)
    os.kill(victim, 9)
    q.wait(timeout=60)
    log = (d / "spool" / "log" / "mainlog").read_text()
    panic = (d / "spool" / "log" / "paniclog").read_text()

    def mine(text):
        # the message's own lines (the bounce is delivered apart, in parallel), and the empty line
        # after the status line
        out, keep = [], False
        for line in text.splitlines():
            if line == "" and keep:
                out.append("")
                continue
            keep = f" {mid} " in line
            if keep:
                out.append(re.sub(r"^\S+ \S+ \S+ ", "", line).replace(f"process {victim} ", "process PID "))
        return out

    bp = subprocess.run([binary, "-C", str(conf), "-bp"], capture_output=True, text=True, timeout=60).stdout
    # The bounce's own delivery (in parallel) fails for its local address (the Exim user cannot
    # become nobody): its retry record, with no text of its own, says "unknown error".
    dump = [binary, "-bdbdump"] if binary != EXIM else ["exim_dumpdb"]
    retry = ""
    for _ in range(100):
        retry = subprocess.run(dump + [str(d / "spool"), "retry"], capture_output=True, text=True).stdout
        if "T:snd@vm" in retry:
            break
        time.sleep(0.1)
    keys = [line.strip() for line in retry.splitlines() if line.startswith("  ")]
    assert keys == ["T:snd@vm -1 0 unknown error"], retry
    return mine(log), mine(panic), bp.split("\n\n")[0], ID.sub("ID", log)


def test_killed_smtp_transport_as_exim(postern_bin, tmp_path):
    reachable_by_exim_user(tmp_path)
    exim, postern = [attempt(b, tmp_path / name) for b, name in ((EXIM, "exim"), (postern_bin, "postern"))]
    assert exim[0] == [
        "<= snd@vm U=root P=local S=233",
        "** bad@nowhere.vm: Unrouteable address",
        "=> loc <loc@vm> R=loc T=f",
        "Delivery status for r@r.test: got 0 of 7 bytes (pipeheader) from transport process PID for transport smtp",
        "",
        "== r@r.test R=r T=t defer (-1): smtp transport process returned non-zero status 0x0009: "
        "terminated by signal 9",
        "Frozen",
    ], exim[0]
    assert postern[0] == exim[0], "\n".join(["POSTERN"] + postern[0] + ["EXIM"] + exim[0])
    assert postern[1] == exim[1] == exim[0][3:5]
    # the unrouteable address was bounced in this attempt (marked done), the message is frozen
    for _, _, bp, log in (exim, postern):
        assert "*** frozen ***" in bp
        assert re.findall(r"(?m)^ +(D )?(\S+)$", bp) == [("D ", "loc@vm"), ("", "r@r.test"), ("D ", "bad@nowhere.vm")], bp
        assert "<= <> R=ID" in log
