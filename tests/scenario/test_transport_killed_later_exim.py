"""A remote transport process killed (kill -9) after it finished part of its recipients, beside a
live Exim 4.96: the stalled server of test_transport_killed_exim.py stalls at the second end of
data instead of the first.

Observed with Exim:
- max_rcpt = 1 (remote_max_parallel = 1): each recipient is a delivery process and connection
  of its own (a QUIT after each, no "*" on the host); the first is logged "=>", the killed one
  gets the "Delivery status for ..." line and its "==" line;
- max_rcpt = 2 with four recipients: one process sends two transactions over one connection;
  killed in the second, every recipient gets the "Delivery status for <address>: got 0 of 7
  bytes ..." line (main and panic log) and an "==" line, yet the first transaction's recipients
  are delivered in -H (the process journaled them: "D" in -bp);
- killed while it waits for the reply to QUIT, after one transaction the server took: both
  recipients get the two lines all the same, and are delivered in -H.
The stall point: the second end of data over all connections, or (quit) every QUIT."""
import socket
import threading
import time

import pytest

import test_transport_killed_exim as tk
from daemon_helpers import reachable_by_exim_user
from test_queue import EXIM

pytestmark = tk.pytestmark


class StallSecond:
    """Any number of connections; the second end of data over all of them (or, quit, every QUIT)
    is never answered."""

    def __init__(self, port, quit=False):
        self.quit = quit
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(5)
        self.stalled = threading.Event()
        self.peer = None
        self.dots = 0
        self.lines = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c, peer), daemon=True).start()

    def one(self, c, peer):
        f = c.makefile("rb")
        c.sendall(b"220 mx\r\n")
        for line in f:
            u = line.upper()
            if u.startswith((b"EHLO", b"MAIL", b"RCPT", b"QUIT")):
                self.lines.append(f"{peer[1]} {line.decode().strip()}")
            if u.startswith(b"EHLO"):
                c.sendall(b"250-mx\r\n250 PIPELINING\r\n")
            elif u.startswith(b"DATA"):
                c.sendall(b"354 go\r\n")
            elif line == b".\r\n":
                self.dots += 1
                if self.dots == 2:
                    self.peer = peer
                    self.stalled.set()
                    time.sleep(60)
                    return
                c.sendall(b"250 accepted\r\n")
            elif u.startswith((b"MAIL", b"RCPT", b"RSET")):
                c.sendall(b"250 ok\r\n")
            elif u.startswith(b"QUIT"):
                if self.quit:
                    self.peer = peer
                    self.stalled.set()
                    time.sleep(60)
                c.sendall(b"221 bye\r\n")
                return


CONF = tk.CONF.replace("keep_environment =", "keep_environment =\nremote_max_parallel = 1", 1)


def attempt(binary, d, max_rcpt, nrcpt, monkeypatch, quit=False):
    servers = []

    def server(port):
        servers.append(StallSecond(port, quit))
        return servers[-1]
    monkeypatch.setattr(tk, "StallAfterData", server)
    monkeypatch.setattr(tk, "CONF", CONF.replace("  allow_localhost", f"  allow_localhost\n  max_rcpt = {max_rcpt}", 1))
    real_run = tk.subprocess.run

    def run(args, *a, **k):
        if "-odq" in args:
            i = args.index("r@r.test")
            args = args[:i] + [f"r{n}@r.test" for n in range(1, nrcpt + 1)] + args[i + 1:]
        return real_run(args, *a, **k)
    monkeypatch.setattr(tk.subprocess, "run", run)
    try:
        log, panic, bp, _ = tk.attempt(binary, d)
    finally:
        monkeypatch.setattr(tk.subprocess, "run", real_run)
    # the connections as "first/second/... MAIL" etc.: port numbers differ between runs
    ports = []
    for line in servers[0].lines:
        p = line.split()[0]
        if p not in ports:
            ports.append(p)
    conv = [f"{ports.index(x.split()[0])} {x.split(' ', 1)[1]}" for x in servers[0].lines]
    return log, panic, [x.strip() for x in bp.splitlines()[1:]], conv


@pytest.mark.parametrize("max_rcpt,nrcpt,quit", [(1, 2, False), (2, 4, False), (2, 2, True)])
def test_killed_after_some_like_exim(postern_bin, tmp_path, monkeypatch, max_rcpt, nrcpt, quit):
    reachable_by_exim_user(tmp_path)
    exim = attempt(EXIM, tmp_path / "exim", max_rcpt, nrcpt, monkeypatch, quit)
    ours = attempt(postern_bin, tmp_path / "postern", max_rcpt, nrcpt, monkeypatch, quit)
    assert ours == exim
    if quit:
        assert sum(x.startswith("Delivery status for r") for x in exim[0]) == 2
        assert exim[2][:3] == ["D loc@vm", "D r1@r.test", "D r2@r.test"]
    elif max_rcpt == 2:
        assert sum(x.startswith("Delivery status for r") for x in exim[0]) == 4
        assert exim[2][:3] == ["D loc@vm", "D r1@r.test", "D r2@r.test"]
    else:
        assert any(x.startswith("=> r1@r.test") for x in exim[0])
        assert "1 EHLO vm" in exim[3]
