#!/usr/bin/env python3
"""Relay with faults: senders push messages through a Postern daemon that relays each at once
(smtp transport) to a sink that keeps what it receives, while delivery processes and their
transport children (and sessions) are killed with SIGKILL at random. Afterwards queue runs
finish what is left, and every message that got "250" after its final dot must have reached
the sink at least once with exactly the body that was sent (a kill can cause a duplicate, never
a loss or a damaged copy), and no command may be refused (a kill drops a connection; a 4xx
reply is the server failing on its own). Exercises the delivery side of the spool: journals, removal and the
recycled files that later messages reuse (docs/spool.md, "Recycled files").

    tests/load/relayfault.py --postern build/postern --messages 2000 --concurrency 20
"""
import argparse
import asyncio
import hashlib
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from faultload import free_port  # noqa: E402

CONF = """spool_directory = {spool}
exim_user = mail
exim_group = mail
log_file_path = {spool}/log/%slog
primary_hostname = relay.test
local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
smtp_accept_max = 0
smtp_connect_backlog = 128
host_lookup =
acl_smtp_rcpt = accept
begin routers
sink:
  driver = manualroute
  route_list = * 127.0.0.1 byname
  self = send
  transport = to_sink
begin transports
to_sink:
  driver = smtp
  port = {sink}
  allow_localhost
  hosts_avoid_tls = *
begin retry
* * F,1m,1s
"""


class Sink:
    """An SMTP server that keeps the SHA-256 of each message body it accepts, by message tag."""

    def __init__(self, port):
        self.port = port
        self.got = {}
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        srv = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self.loop.run_forever()
        srv.close()

    async def _client(self, r, w):
        try:
            w.write(b"220 sink ESMTP\r\n")
            while True:
                line = await r.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    w.write(b"250 sink\r\n")
                elif verb == b"DATA":
                    w.write(b"354 go\r\n")
                    await w.drain()
                    lines = []
                    while True:
                        l = await r.readline()
                        if not l or l == b".\r\n":
                            break
                        lines.append(l[1:] if l.startswith(b"..") else l)
                    if not l:
                        return
                    data = b"".join(lines)
                    head, _, body = data.partition(b"\r\n\r\n")
                    m = re.search(rb"^Subject: rf (\d+)", head, re.M)
                    if m:
                        with self.lock:
                            self.got.setdefault(int(m.group(1)), []).append(hashlib.sha256(body).hexdigest())
                    w.write(b"250 kept\r\n")
                elif verb == b"QUIT":
                    w.write(b"221 bye\r\n")
                    await w.drain()
                    return
                else:
                    w.write(b"250 ok\r\n")
                await w.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            w.close()


def body_of(n, rnd):
    lines = [f"message {n} line {k} " + "".join(rnd.choice("abcdefgh") for _ in range(rnd.randrange(10, 70)))
             for k in range(rnd.randrange(1, 400))]
    return ("\r\n".join(lines) + "\r\n").encode()


async def sender(port, todo, bodies, acked, refused):
    while todo:
        n = todo.pop()
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)

            async def cmd(data, want):
                w.write(data)
                await w.drain()
                while True:
                    line = await asyncio.wait_for(r.readline(), 30)
                    if not line:
                        raise ConnectionError
                    if line[3:4] != b"-":
                        break
                if not line.startswith(want):
                    refused.append(line)  # a reply, not a dropped connection: no kill explains it
                    raise ConnectionError(line)
            await cmd(b"", b"220")
            await cmd(b"EHLO c.test\r\n", b"250")
            await cmd(b"MAIL FROM:<s@c.test>\r\n", b"250")
            await cmd(b"RCPT TO:<r@far.test>\r\n", b"250")
            await cmd(b"DATA\r\n", b"354")
            body = bodies[n]
            msg = f"Subject: rf {n}\r\n\r\n".encode() + body.replace(b"\r\n.", b"\r\n..")
            await cmd(msg + b".\r\n", b"250")
            acked.add(n)
            w.write(b"QUIT\r\n")
            w.close()
        except (OSError, ConnectionError, asyncio.TimeoutError):
            pass  # not acknowledged: the sender may not count on it


def victims(daemon_pid):
    """Delivery processes, their transport children and sessions: every postern process but the
    daemon and its launcher (killing those is faultload.py's business)."""
    out = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == daemon_pid:
            continue
        try:
            comm = (d / "comm").read_text().strip()
            exe = os.readlink(d / "exe")
        except OSError:
            continue
        if "postern" in os.path.basename(exe) and comm not in ("postern-launch",):
            out.append(int(d.name))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default=str(pathlib.Path(__file__).resolve().parents[2] / "build" / "postern"))
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--interval", type=float, default=0.03, help="mean seconds between kills")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    work = pathlib.Path(tempfile.mkdtemp(prefix="relayfault-"))
    os.chmod(work, 0o755)
    spool = work / "spool"
    spool.mkdir()
    shutil.chown(spool, "mail", "mail")
    port, sink_port = free_port(), free_port()
    conf = work / "conf"
    conf.write_text(CONF.format(spool=spool, port=port, sink=sink_port))
    sink = Sink(sink_port)
    daemon = subprocess.Popen([a.postern, "-C", str(conf), "-bdf"], stderr=subprocess.DEVNULL)
    time.sleep(1)
    bodies = {n: body_of(n, rnd) for n in range(a.messages)}
    todo = list(range(a.messages))
    acked = set()
    refused = []
    kills = 0
    done = threading.Event()

    def killer():
        nonlocal kills
        while not done.is_set():
            time.sleep(rnd.expovariate(1 / a.interval))
            v = victims(daemon.pid)
            if v:
                try:
                    os.kill(rnd.choice(v), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
    t = threading.Thread(target=killer)
    t.start()

    async def go():
        await asyncio.gather(*(sender(port, todo, bodies, acked, refused) for _ in range(a.concurrency)))
    asyncio.run(go())
    done.set()
    t.join()
    # Let the last deliveries end, then queue runs until nothing is left.
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(1)
        subprocess.run([a.postern, "-C", str(conf), "-qff"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not list((spool / "input").glob("*-H")) and all(n in sink.got for n in acked):
            break
    daemon.send_signal(signal.SIGTERM)
    daemon.wait()
    missing = sorted(n for n in acked if n not in sink.got)
    want = {n: hashlib.sha256(bodies[n]).hexdigest() for n in acked}
    damaged = sorted(n for n, hs in sink.got.items() if n in want and any(h != want[n] for h in hs))
    dups = sum(len(hs) - 1 for hs in sink.got.values())
    left = len(list((spool / "input").glob("*-H")))
    print(f"messages {a.messages}, acknowledged {len(acked)}, refused {len(refused)}, kills {kills}, "
          f"delivered {len(sink.got)}, duplicates {dups}, missing {len(missing)}, damaged {len(damaged)}, "
          f"still queued {left}")
    if missing or damaged or refused:
        print("missing", missing[:20], "damaged", damaged[:20], "refused", refused[:5])
        print("kept for inspection:", work)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
