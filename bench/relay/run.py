#!/usr/bin/env python3
"""Relay benchmark: messages per second end to end through each MTA -- accepted over SMTP on
loopback and relayed at once to a sink SMTP server (Postfix's `smtp-sink`, from the package
bench/accept unpacks) -- for Postern, Exim 4.96 and Postfix 3.7, measured in turn, in one run.

For each cell (size, concurrent client connections, new or reused connections) the load
generator (bench/accept/loadgen.py) sends for --seconds; the clock then runs on until the sink
has received every message the MTA acknowledged (or nothing arrives for 30 s). The rate is
acknowledged messages / (time until the last of them reached the sink).

Delivery parallelism is comparable: Postern and Exim start one delivery process per accepted
message as it arrives (their default; no queue_only, smtp_accept_queue_per_connection = 0), so at
most one per client connection; Postfix's smtp client runs up to `smtp` maxproc = 100 processes
with destination concurrency 32 (>= the largest client concurrency used here).
Run as root:  bench/relay/run.py --postern build/postern [--seconds 4] [--rounds 1]
"""
import argparse
import datetime
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "accept"))

import loadgen  # noqa: E402
import servers  # noqa: E402

EXIM_LIKE = """\
spool_directory = {spool}
exim_user = mail
exim_group = mail
log_file_path = {spool}/log/%slog
primary_hostname = relay.test
local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
smtp_accept_max = 0
smtp_accept_queue_per_connection = 0
smtp_connect_backlog = 128
host_lookup =
acl_smtp_rcpt = accept
{extra}
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
"""


class Sink:
    """smtp-sink with its running counter (-c) read from stdout."""

    def __init__(self, port):
        root = servers.Postfix.fetch(None)
        env = dict(os.environ, LD_LIBRARY_PATH=str(root / "usr/lib/postfix"))
        self.port = port
        self.count = 0
        self.proc = subprocess.Popen([str(root / "usr/sbin/smtp-sink"), "-u", "mail", "-c", "-h", "sink.test",
                                      f"127.0.0.1:{port}", "256"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            ch = self.proc.stdout.read1(4096)
            if not ch:
                return
            buf += ch
            parts = buf.split(b"\r")
            buf = parts[-1]
            for p in parts[:-1]:
                for f in p.split():
                    if f.startswith(b"mesg="):
                        self.count = int(f[5:])

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class EximLike(servers.Server):
    def __init__(self, workdir, port, name, binary, sink, extra=""):
        self.name = name
        super().__init__(workdir, port)
        self.binary = binary
        spool = self.dir / "spool"
        spool.mkdir()
        os.chown(spool, 8, 8)
        self.conf = self.dir / "conf"
        self.conf.write_text(EXIM_LIKE.format(spool=spool, port=port, sink=sink, extra=extra))

    def start(self):
        # Root with an untrusted -C file makes Postern (like Exim) run each delivery again as
        # the exim user. An installed MTA reads its own, trusted configuration; Postern is
        # measured that way (the test aid of tests/scenario/conftest.py, which only withholds
        # the drop from a process that is root already). Exim re-executes itself for every
        # delivery in any case.
        env = dict(os.environ)
        if os.path.basename(self.binary) != "exim":
            env["POSTERN_TEST_TRUST_CONFIG"] = "1"
        self.proc = subprocess.Popen([self.binary, "-C", str(self.conf), "-bdf", "-oX", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        return servers.wait_port(self.port)


class PostfixRelay(servers.Postfix):
    hold = False

    def __init__(self, workdir, port, sink):
        super().__init__(workdir, port)
        self.main_extra = f"""
mydestination =
relayhost = [127.0.0.1]:{sink}
smtp_tls_security_level = none
smtp_destination_concurrency_limit = 32
smtp_initial_destination_concurrency = 32
"""
        self.master_extra = """
smtp      unix - - n - 100 smtp
scache    unix - - n - 1 scache
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
pickup    unix n - n 60 1 pickup
"""


def descendants(root):
    """root and every process below it, from /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            kids.setdefault(int(st[st.rindex(")") + 2:].split()[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


class CpuGroup:
    """A cgroup holding one MTA's processes, for their CPU time, exited processes included
    (/proc's cutime misses the ones reparented to init: Exim's delivery processes, for one).
    The root process and its descendants are moved in once it has started; later children
    inherit it. cgroup v1 (cpuacct) or v2; without either, no CPU figures."""

    def __init__(self, name):
        v1, v2 = pathlib.Path("/sys/fs/cgroup/cpuacct"), pathlib.Path("/sys/fs/cgroup")
        self.v2 = not v1.is_dir() and (v2 / "cgroup.controllers").exists()
        self.dir = (v2 if self.v2 else v1) / name
        try:
            self.dir.mkdir()
        except OSError:
            self.dir = None

    def adopt(self, root):
        for pid in descendants(root) if self.dir else []:
            try:
                (self.dir / "cgroup.procs").write_text(str(pid))
            except OSError:
                pass

    def seconds(self):
        if not self.dir:
            return None
        if self.v2:
            usage = dict(l.split() for l in (self.dir / "cpu.stat").read_text().splitlines())
            return int(usage["usage_usec"]) / 1e6
        return int((self.dir / "cpuacct.usage").read_text()) / 1e9

    def remove(self):
        for _ in range(50):
            try:
                if self.dir:
                    self.dir.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def disk_stat(path):
    """The block device's request counters for the file system holding path (None if it has
    none: tmpfs): [11] discards, [15] flushes completed (Documentation/block/stat.rst)."""
    st = os.stat(path)
    try:
        return [int(x) for x in open(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/stat").read().split()]
    except OSError:
        return None


def measure(srv, sink, size, conc, reuse, seconds):
    """One cell for one server. Besides the rates: the CPU of all the MTA's processes per
    acknowledged message, and the disk's flushes and discards per message (the whole device:
    other work on the machine counts too), so that a cell can be checked against what it
    cost (a rate the CPUs cannot pay for is a measurement to distrust)."""
    base = sink.count
    cpu0, disk0 = srv.cpu.seconds(), disk_stat(srv.dir)
    t0 = time.monotonic()
    st = loadgen.run("127.0.0.1", srv.port, size, conc, reuse, seconds)
    acked = st["ok"]
    last, last_change = sink.count, time.monotonic()
    while sink.count - base < acked and time.monotonic() - last_change < 30:
        time.sleep(0.002)
        if sink.count != last:
            last, last_change = sink.count, time.monotonic()
    elapsed = time.monotonic() - t0
    got = sink.count - base
    cpu1, disk1 = srv.cpu.seconds(), disk_stat(srv.dir)
    n = max(acked, 1)
    disk = [b - a for a, b in zip(disk0, disk1)] if disk0 and disk1 and len(disk1) >= 16 else None
    return {"acked": acked, "relayed": got, "s": elapsed, "rate": min(got, acked) / elapsed,
            "accept_rate": st["rate"], "errors": st["errors"], "cpu_ms": (cpu1 - cpu0) * 1000 / n if cpu0 is not None else None,
            "flushes": disk[15] / n if disk else None, "discards": disk[11] / n if disk else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default=str(HERE.parents[1] / "build" / "postern"))
    ap.add_argument("--base", default="/work/main/build/postern",
                    help="the Postern build to compare with, as server 'base' (A/B in one run)")
    ap.add_argument("--servers", default="postern,exim,postfix")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--sizes", default="2048,102400")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--modes", default="new,reused")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    names = args.servers.split(",")
    sizes = [int(x) for x in args.sizes.split(",")]
    concs = [int(x) for x in args.concurrency.split(",")]
    modes = args.modes.split(",")
    work = pathlib.Path(tempfile.mkdtemp(prefix="postern-bench-relay-"))
    os.chmod(work, 0o755)
    # Server i listens on port0 + 2i and relays to a sink of its own on port0 + 2i + 1. Until
    # session 14 one sink on port0 + 3 served every server, and the fourth server (postfix in
    # the usual postern,base,exim,postfix) was given that same port: the load generator's
    # connections then partly went to the sink itself, and another server's backlog arriving
    # at the shared sink counted in the cell being measured.
    if len(names) > 8:
        raise SystemExit("at most 8 servers")
    port0 = 28000 + os.getpid() % 500 * 16
    sinks = {name: Sink(port0 + 2 * i + 1) for i, name in enumerate(names)}
    started = datetime.datetime.now(datetime.timezone.utc)
    loads = [os.getloadavg()[0]]
    results, srvs = {}, {}
    try:
        for sink in sinks.values():
            if not servers.wait_port(sink.port):
                raise RuntimeError("smtp-sink did not start")
        for i, name in enumerate(names):
            port = port0 + 2 * i
            sink = sinks[name]
            if name == "postfix":
                srv = PostfixRelay(work, port, sink.port)
            else:
                binary = {"postern": args.postern, "base": args.base}.get(name, "exim")
                extra = "" if name in ("postern", "base") else "rfc1413_hosts =\ntls_advertise_hosts =\nkeep_environment ="
                srv = EximLike(work, port, name, binary, sink.port, extra)
            if not srv.start():
                raise RuntimeError(f"{name} did not start")
            srvs[name] = srv
            srv.cpu = CpuGroup(f"bench-relay-{os.getpid()}-{name}")
            srv.cpu.adopt(srv.master_pid())
        for n, srv in srvs.items():
            measure(srv, sinks[n], 2048, 2, True, 1.0)   # warm-up
        for size in sizes:
            for conc in concs:
                for mode in modes:
                    runs = {n: [] for n in srvs}
                    for _ in range(args.rounds):
                        for n, srv in srvs.items():
                            runs[n].append(measure(srv, sinks[n], size, conc, mode == "reused", args.seconds))
                            loads.append(os.getloadavg()[0])
                    for n in srvs:
                        results[(n, size, conc, mode)] = sorted(runs[n], key=lambda r: r["rate"])[len(runs[n]) // 2]
                    print(f"   {size:>6} B c={conc:<2} {mode:<6} " + "  ".join(
                        f"{n} {results[(n, size, conc, mode)]['rate']:7.1f} (accepted {results[(n, size, conc, mode)]['accept_rate']:.1f}/s, "
                        f"{results[(n, size, conc, mode)]['cpu_ms'] or 0:.2f} ms CPU/msg)"
                        for n in srvs), flush=True)
        for n, srv in srvs.items():
            print(f"   {n}: still queued {srv.queued_count()}", flush=True)
    finally:
        for srv in srvs.values():
            srv.stop()
        for srv in srvs.values():
            if hasattr(srv, "cpu"):
                srv.cpu.remove()
        for sink in sinks.values():
            sink.stop()
    write_results(args, names, sizes, concs, modes, results, started, loads)
    shutil.rmtree(work, ignore_errors=True)


def write_results(args, names, sizes, concs, modes, results, started, loads):
    from importlib import util   # bench/accept/run.py for machine(); "run" is this file's name too
    spec = util.spec_from_file_location("accept_run", HERE.parent / "accept" / "run.py")
    accept_run = util.module_from_spec(spec)
    spec.loader.exec_module(accept_run)
    others = [n for n in names if n != "postern"]
    lines = [
        "# Relay benchmark (SMTP in -> SMTP out to a sink)",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC by `bench/relay/run.py --seconds {args.seconds:g} --rounds {args.rounds} "
        f"--sizes {args.sizes} --concurrency {args.concurrency} --modes {args.modes}` on: {accept_run.machine()}. "
        f"Load average (1 min) during the run: {min(loads):.1f}-{max(loads):.1f}.",
        "",
        "Messages per second acknowledged by the MTA and received by the sink, measured from the",
        "first connection until the last acknowledged message reached the sink (one recipient, the",
        "client waits for every reply). Every MTA makes the message durable before its 250.",
        "",
        "| size | conns | mode | " + " | ".join(names) + " | " + " | ".join(f"postern/{n}" for n in others) + " |",
        "|---|---|---|" + "---|" * (len(names) + len(others)),
    ]
    for size in sizes:
        for conc in concs:
            for mode in modes:
                row = [f"{size // 1024} KB", str(conc), mode]
                for n in names:
                    st = results.get((n, size, conc, mode))
                    if not st:
                        row.append("-")
                        continue
                    note = "" if st["relayed"] >= st["acked"] else f" ({st['relayed']}/{st['acked']} relayed)"
                    if st["errors"]:
                        note += f" ({st['errors']} err)"
                    row.append(f"{st['rate']:.1f}{note}")
                for n in others:
                    a, b = results.get(("postern", size, conc, mode)), results.get((n, size, conc, mode))
                    row.append(f"{a['rate'] / b['rate']:.2f}" if a and b and b["rate"] else "-")
                lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "What each acknowledged message cost, in the same cells: CPU of all the MTA's processes (ms,",
        "a cgroup of its own for each MTA), and the disk's flushes and discards",
        "(the whole device, so other work on the machine counts too).",
        "",
        "| size | conns | mode | " + " | ".join(f"{n} CPU / flushes / discards" for n in names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"
    for size in sizes:
        for conc in concs:
            for mode in modes:
                row = [f"{size // 1024} KB", str(conc), mode]
                for n in names:
                    st = results.get((n, size, conc, mode))
                    row.append(f"{fmt(st['cpu_ms'])} / {fmt(st['flushes'])} / {fmt(st['discards'])}" if st else "-")
                lines.append("| " + " | ".join(row) + " |")
    pathlib.Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
