#!/usr/bin/env python3
"""Load with faults: many concurrent SMTP senders while session children (and now and then the
daemon itself) are killed with SIGKILL; the daemon is restarted whenever it dies. Afterwards every
message that got "250" after its final dot must be in the spool, intact: its -H file well formed
(Exim 4.96's format, header lengths exact) and naming the sender, its -D file holding exactly the
body that was sent.

Usable as a module (tests) and as a program:
    tests/load/faultload.py --postern build/postern --messages 20000 --concurrency 500
    tests/load/faultload.py --exim --messages 2000 --concurrency 50     # the same check on Exim
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
import socket
import subprocess
import sys
import tempfile
import time

# Attempts per message after the first. Kills come every `interval` whatever the machine's load,
# so on a loaded machine, where a session lasts longer, one attempt in three or more can be
# killed: with 5, one message of 150 once lost all six attempts (test_fault_load_over_a_stale_pool
# counted 149 acknowledged). A message is given up only after 1 + 12 killed attempts.
RETRIES = 12
ID_RE = re.compile(rb"id=([0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2})")


def free_port():
    """A port below the kernel's ephemeral range that binds now on 0.0.0.0: a bind(0) port can be
    taken by any process's outgoing connection before the daemon binds it (and again on each
    restart of a killed daemon, which keeps the same port)."""
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(20000):
        p = random.randrange(10000 if low > 12000 else 1024, low)
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", p))
                return p
            except OSError:
                continue
    raise RuntimeError("no free TCP port below the ephemeral range")


class DaemonTarget:
    """A -bd daemon (Postern or Exim) in a scratch directory, restartable after SIGKILL."""

    def __init__(self, workdir, binary, exim_style=False, port=None):
        self.dir = pathlib.Path(workdir)
        self.spool = self.dir / "spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        os.chown(self.spool, 8, 8)
        self.binary = binary
        self.port = port or free_port()
        self.conf = self.dir / "load.conf"
        extra = "keep_environment =\nrfc1413_hosts =\n" if exim_style else ""
        self.conf.write_text(
            f"spool_directory = {self.spool}\n"
            "exim_user = mail\nexim_group = mail\n"
            f"log_file_path = {self.spool}/log/%slog\n"
            "local_interfaces = 127.0.0.1\n"
            f"daemon_smtp_ports = {self.port}\n"
            "daemon_startup_retries = 0\n"
            "smtp_accept_max = 0\n"
            "smtp_connect_backlog = 1024\n"
            "host_lookup =\n"
            "tls_advertise_hosts =\n"    # not about TLS: no self-signed key made at each start
            "acl_smtp_rcpt = accept\n"
            "queue_only = true\n"
            f"{extra}"
            "begin routers\nbegin transports\n")
        self.proc = None
        self.restarts = 0
        self.bind_failures = 0   # daemons started that exited at once (start() started another)

    def start(self):
        """Start a daemon and wait until IT listens. A connection that succeeds is not proof:
        a child the killed daemon forked just before its death holds the listening socket until
        it has closed its copy (longer under load), so the new daemon may have failed to bind
        (daemon_startup_retries = 0) while connections still reach the old socket. Then it is
        started again, as an administrator (or Exim's own retries) would."""
        deadline = time.time() + 30
        while time.time() < deadline:
            self.proc = subprocess.Popen([self.binary, "-C", str(self.conf), "-bdf", "-oX", str(self.port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
            while time.time() < deadline and self.proc.poll() is None:
                if self.started_line() and self.connects():
                    return
                time.sleep(0.05)
            self.proc.poll()
            self.bind_failures += 1
            time.sleep(0.1)
        raise RuntimeError(f"daemon did not start listening (exit status {self.proc.returncode})")

    def started_line(self):
        """Whether the main log has this daemon's "daemon started: pid=N" line."""
        log = self.spool / "log" / "mainlog"
        try:
            with open(log, "rb") as f:
                f.seek(max(0, f.seek(0, 2) - 65536))
                tail = f.read()
        except OSError:
            return False
        return f"daemon started: pid={self.proc.pid},".encode() in tail

    def connects(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def children(self):
        kids = []
        for d in pathlib.Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if fields[1] == str(self.proc.pid) and fields[0] != "Z":
                    kids.append(int(d.name))
        return kids

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_message(seq, rng):
    token = f"{seq}-{rng.getrandbits(64):016x}"
    nlines = rng.randint(1, 300)
    body_lines = [f"line {i} of {token} " + "x" * rng.randint(0, 120) for i in range(nlines)]
    headers = [f"Subject: load {token}", f"Message-ID: <{token}@load.test>",
               "From: <sender@load.test>", "To: <rcpt@load.test>"]
    wire = ("\r\n".join(headers) + "\r\n\r\n" + "\r\n".join(body_lines) + "\r\n").encode()
    body_lf = ("\n".join(body_lines) + "\n").encode()
    return token, wire, hashlib.sha256(body_lf).hexdigest()


async def reply(reader):
    while True:
        line = await asyncio.wait_for(reader.readline(), 60)
        if not line:
            raise ConnectionError("closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), line


async def sender(target, queue, acked, stats, rng):
    while True:
        try:
            seq, attempt = queue.pop()
        except IndexError:
            return
        token, wire, digest = make_message(seq, rng)
        ok = False
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", target.port), 30)
            steps = [(None, 220), (b"EHLO load.test\r\n", 250), (b"MAIL FROM:<sender@load.test>\r\n", 250),
                     (b"RCPT TO:<rcpt@load.test>\r\n", 250), (b"DATA\r\n", 354)]
            for cmd, want in steps:
                if cmd:
                    writer.write(cmd)
                    await writer.drain()
                code, _ = await reply(reader)
                if code != want:
                    raise ConnectionError(f"{cmd!r}: {code}")
            writer.write(wire + b".\r\n")
            await writer.drain()
            code, line = await reply(reader)
            if code == 250:
                m = ID_RE.search(line)
                acked.append((token, m.group(1).decode() if m else None, digest))
                stats["acked"] += 1
                ok = True
            else:
                stats["refused"] += 1
            writer.write(b"QUIT\r\n")
        except (OSError, ConnectionError, asyncio.TimeoutError, ValueError):
            stats["failed"] += 1   # killed mid-way: not acknowledged
        finally:
            if writer:
                writer.close()
        if not ok and attempt < RETRIES:
            # as a real client would, try again (a new message: the old one may be half-spooled)
            queue.insert(0, (seq, attempt + 1))
            await asyncio.sleep(0.05)


async def killer(target, stop, stats, rng, interval, daemon_prob):
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), rng.uniform(0, 2 * interval))
            return
        except asyncio.TimeoutError:
            pass
        if not target.alive():
            # died without being killed here: counted, and started again so that the rest of
            # the run is not one long refusal (that made the short test flaky under load)
            stats["daemon_deaths"] += 1
            target.start()
            continue
        if rng.random() < daemon_prob:
            os.kill(target.proc.pid, signal.SIGKILL)
            target.proc.wait()
            stats["daemon_kills"] += 1
            await asyncio.sleep(0.05)
            target.start()
            continue
        kids = target.children()
        if kids:
            try:
                os.kill(rng.choice(kids), signal.SIGKILL)
                stats["child_kills"] += 1
            except ProcessLookupError:
                pass


STALE_SLOTS = 64   # SPOOL_RECYCLE_SLOTS


def stale_fill(spool, rng):
    """Fill the free slots of the recycled-file pool with files of old bytes ("STALE", at most
    one block long, which a taker keeps and overwrites), as ended messages would leave them."""
    pool = spool / "input" / ".postern-free"
    pool.mkdir(mode=0o750, exist_ok=True)
    os.chown(pool, 8, 8)
    for n in range(STALE_SLOTS):
        if (pool / str(n)).exists():
            continue
        tmp = spool / "input" / f".stale-fill.{n}"
        size = rng.randrange(1, 4097)
        tmp.write_bytes((b"STALE%04d" % n * (size // 9 + 1))[:size])
        os.chown(tmp, 8, 8)
        os.chmod(tmp, 0o640)
        try:
            os.link(tmp, pool / str(n))   # never over a file a process put there meanwhile
        except FileExistsError:
            pass
        tmp.unlink()


async def stale_filler(target, stop, rng):
    while not stop.is_set():
        stale_fill(target.spool, rng)
        try:
            await asyncio.wait_for(stop.wait(), 0.01)
        except asyncio.TimeoutError:
            pass


async def drive(target, messages, concurrency, interval, daemon_prob, seed, stale_pool=False):
    rng = random.Random(seed)
    queue = [(seq, 0) for seq in range(messages)]
    acked = []
    stats = {"acked": 0, "refused": 0, "failed": 0, "child_kills": 0, "daemon_kills": 0, "daemon_deaths": 0}
    stop = asyncio.Event()
    k = asyncio.create_task(killer(target, stop, stats, random.Random(seed + 1), interval, daemon_prob)
                            if interval else stop.wait())   # interval None: no kills
    f = asyncio.create_task(stale_filler(target, stop, random.Random(seed + 3)) if stale_pool else stop.wait())
    await asyncio.gather(*(sender(target, queue, acked, stats, random.Random(seed + 2 + i))
                           for i in range(concurrency)))
    stop.set()
    await k
    await f
    return acked, stats


# ---- spool checks (Exim 4.96 -H/-D format, facts §1) ----

def spool_files(spool):
    """id -> directory holding its -H/-D (input/ or input/<c>/ with split_spool_directory)."""
    found = {}
    for p in (spool / "input").rglob("*-H"):
        found[p.name[:-2]] = p.parent
    return found


def check_header_file(path, mid):
    """Problems with one -H file (empty list: well formed)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    probs = []
    if lines[0] != f"{mid}-H".encode():
        probs.append("first line is not the id")
    if not re.fullmatch(rb"\S+ \d+ \d+", lines[1]):
        probs.append("bad login/uid/gid line")
    if not (lines[2].startswith(b"<") and lines[2].endswith(b">")):
        probs.append("bad sender line")
    if not re.fullmatch(rb"\d+ \d+", lines[3]):
        probs.append("bad time line")
    i = 4
    while i < len(lines) and lines[i].startswith(b"-"):
        i += 1
    # non-recipients tree: "XX" or a tree of "<addr> XX|YN..." lines; then the recipient count
    while i < len(lines) and not lines[i].isdigit():
        i += 1
    if i >= len(lines):
        return probs + ["no recipient count"]
    nrcpt = int(lines[i])
    i += 1 + nrcpt
    if i >= len(lines) or lines[i] != b"":
        return probs + ["no blank line after recipients"]
    off = len(b"\n".join(lines[:i + 1])) + 1
    rest = data[off:]
    pos = 0
    nheaders = 0
    while pos < len(rest):
        m = re.match(rb"(\d{3,})([A-Za-z* ]) ", rest[pos:pos + 16])
        if not m:
            return probs + [f"bad header prefix at offset {off + pos}"]
        n = int(m.group(1))
        start = pos + len(m.group(0))
        text = rest[start:start + n]
        if len(text) != n or not text.endswith(b"\n"):
            return probs + [f"header length {n} wrong at offset {off + pos}"]
        pos = start + n
        nheaders += 1
    if nheaders == 0:
        probs.append("no headers")
    return probs


def verify(spool, acked):
    """Check every acknowledged message. Returns (problems, stats)."""
    files = spool_files(spool)
    by_token = None
    probs = []
    for token, mid, digest in acked:
        if mid is None or mid not in files:
            if by_token is None:   # the reply had no id: find the message by its unique token
                by_token = {}
                for m, d in files.items():
                    h = (d / f"{m}-H").read_bytes()
                    t = re.search(rb"Subject: load (\S+)", h)
                    if t:
                        by_token[t.group(1).decode()] = m
            mid = by_token.get(token) if by_token is not None else None
        if mid is None or mid not in files:
            probs.append(f"{token}: acknowledged but not in the spool")
            continue
        d = files[mid]
        hfile, dfile = d / f"{mid}-H", d / f"{mid}-D"
        hp = check_header_file(hfile, mid)
        if hp:
            probs.append(f"{mid}: -H " + "; ".join(hp))
        htext = hfile.read_bytes()
        if f"Subject: load {token}".encode() not in htext or b"<sender@load.test>" not in htext:
            probs.append(f"{mid}: -H is not the acknowledged message")
        if not dfile.exists():
            probs.append(f"{mid}: -D missing")
            continue
        ddata = dfile.read_bytes()
        first, _, body = ddata.partition(b"\n")
        if first != f"{mid}-D".encode():
            probs.append(f"{mid}: -D first line is not the id")
        if hashlib.sha256(body).hexdigest() != digest:
            probs.append(f"{mid}: -D body differs from what was sent")
    orphans = sum(1 for p in (spool / "input").rglob("*-D")
                  if not (p.parent / (p.name[:-2] + "-H")).exists())
    # Old bytes of recycled files (--stale-pool) in no message file: -H, -D (checked above) or
    # a msglog.
    for mid, d in files.items():
        for p in (d / f"{mid}-H", d / f"{mid}-D", spool / "msglog" / mid):
            if p.exists() and b"STALE" in p.read_bytes():
                probs.append(f"{mid}: old bytes of a recycled file in {p.name}")
    return probs, {"spooled": len(files), "orphan_data_files": orphans}


def run(binary, workdir, messages, concurrency, interval=0.05, daemon_prob=0.05, seed=1, exim_style=False,
        stale_pool=False):
    """Returns (problems, stats, acknowledged messages, spool directory)."""
    target = DaemonTarget(workdir, binary, exim_style=exim_style)
    if stale_pool:
        (target.spool / "input").mkdir(mode=0o750, exist_ok=True)
        os.chown(target.spool / "input", 8, 8)
        stale_fill(target.spool, random.Random(seed + 3))
    target.start()
    try:
        acked, stats = asyncio.run(drive(target, messages, concurrency, interval, daemon_prob, seed, stale_pool))
    finally:
        target.stop()
    # sessions that outlived a killed daemon finish on their own; give them a moment
    time.sleep(0.5)
    probs, sstats = verify(target.spool, acked)
    stats.update(sstats)
    stats["bind_failures"] = target.bind_failures
    return probs, stats, acked, target.spool


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default=str(pathlib.Path(__file__).resolve().parents[2] / "build" / "postern"))
    ap.add_argument("--exim", action="store_true", help="run the same check against Exim 4.96")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--interval", type=float, default=0.05, help="mean seconds between kills")
    ap.add_argument("--daemon-prob", type=float, default=0.02, help="share of kills aimed at the daemon")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--stale-pool", action="store_true",
                    help="keep the recycled-file pool filled with files of old bytes (spares then overwrite them)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="postern-load-")
    os.chmod(work, 0o755)
    t0 = time.time()
    probs, stats, _, _ = run("exim" if args.exim else args.postern, work, args.messages, args.concurrency,
                       args.interval, args.daemon_prob, args.seed, exim_style=args.exim,
                       stale_pool=args.stale_pool)
    stats["seconds"] = round(time.time() - t0, 1)
    print(stats)
    for p in probs[:50]:
        print("PROBLEM:", p)
    print(f"{len(probs)} problems")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("kept", work)
    sys.exit(1 if probs else 0)


if __name__ == "__main__":
    main()
