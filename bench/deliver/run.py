#!/usr/bin/env python3
"""Delivery benchmark: N messages are queued first (over SMTP into each MTA's own queue, held
there), then one timed queue run delivers them all to Maildir on the local file system:

- Postern: one `postern -q` runner with `queue_run_parallel = P` (P deliveries in flight at once),
  appendfile maildir;
- Exim 4.96: P `exim -q` runners started together, the same configuration;
- Postfix 3.7: messages held on arrival (header_checks HOLD), then `postsuper -H ALL` and
  `postqueue -f`; the `virtual` delivery agent writes the Maildirs, with P processes at most.

The clock runs from the start of the queue run until every recipient's file is in a Maildir's
new/ directory (and, for Postern and Exim, the runners have exited). Cells: message size
(2 KB, 100 KB) x recipients per message (1, or R recipients, each its own Maildir) x P.
Run as root (the MTAs deliver as the mail user):
    bench/deliver/run.py --postern build/postern [--messages 500] [--rcpts 1,10] [--parallel 1,4]
"""
import argparse
import faulthandler
import concurrent.futures
import datetime
import os
import pathlib
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "accept"))

import loadgen  # noqa: E402
import servers  # noqa: E402

MAIL_UID = 8   # Debian's mail user, which all three deliver as

COMMON_EXIM = """\
spool_directory = {spool}
exim_user = mail
exim_group = mail
log_file_path = {spool}/log/%slog
primary_hostname = bench.test
local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
smtp_accept_max = 0
host_lookup =
acl_smtp_rcpt = accept
queue_only = true
{extra}
begin routers
local:
  driver = accept
  local_parts = lsearch;{users}
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = {mail}/${{local_part_data}}/Maildir
  maildir_format
  create_directory
  delivery_date_add
  envelope_to_add
  return_path_add
  user = mail
  group = mail
"""


def count_delivered(maildirs):
    n = 0
    for d in maildirs.glob("*/Maildir/new"):
        try:
            n += len(os.listdir(d))
        except OSError:
            pass
    return n


def queue_messages(port, n, size, rcpts, threads=8):
    """Queue n messages of `size` bytes with `rcpts` recipients each (rcpt0..); not timed."""
    msg = loadgen.make_message(size)
    to = [f"rcpt{i}@bench.test" for i in range(rcpts)]

    def worker(count):
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=120)
        for _ in range(count):
            refused = s.sendmail("bench@client.test", to, msg)
            if refused:
                raise RuntimeError(f"refused {refused}")
        s.quit()
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        for f in [ex.submit(worker, c) for c in per if c]:
            f.result()


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return False


class EximLike(servers.Server):
    """Postern or Exim: a queue_only daemon to queue, then `-q` runners to deliver."""

    def __init__(self, workdir, port, name, binary, extra=""):
        self.name = name
        super().__init__(workdir, port)
        self.binary = binary
        self.extra = extra

    def prepare(self, rcpts):
        self.spool = self.dir / "spool"
        self.mail = self.dir / "mail"
        self.spool.mkdir(exist_ok=True)
        self.mail.mkdir(exist_ok=True)
        os.chown(self.spool, MAIL_UID, MAIL_UID)
        os.chown(self.mail, MAIL_UID, MAIL_UID)
        users = self.dir / "users"
        users.write_text("".join(f"rcpt{i}: rcpt{i}\n" for i in range(rcpts)))
        self.conf = self.dir / "conf"
        self.conf.write_text(COMMON_EXIM.format(spool=self.spool, port=self.port, users=users,
                                                mail=self.mail, extra=self.extra))

    def start(self):
        self.proc = subprocess.Popen([self.binary, "-C", str(self.conf), "-bdf", "-oX", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return servers.wait_port(self.port)

    def deliver(self, expected, parallel):
        t0 = time.monotonic()
        runners = [subprocess.Popen([self.binary, "-C", str(self.conf), "-q"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(parallel)]
        for r in runners:
            r.wait()
        elapsed = time.monotonic() - t0
        return elapsed, count_delivered(self.mail)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)


class PostfixDeliver(servers.Postfix):
    """Postfix with the virtual delivery agent writing Maildirs; mail is held on arrival."""

    def prepare(self, rcpts, parallel):
        self.mail = self.dir / "mail"
        self.mail.mkdir(exist_ok=True)
        os.chown(self.mail, MAIL_UID, MAIL_UID)
        self.vmaps = self.dir / "vmaps"
        self.vmaps.write_text("".join(f"rcpt{i}@bench.test rcpt{i}/Maildir/\n" for i in range(rcpts)))
        self.parallel = parallel

    def extra_main(self):
        return f"""
mydestination =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = {self.mail}
virtual_mailbox_maps = texthash:{self.vmaps}
virtual_uid_maps = static:{MAIL_UID}
virtual_gid_maps = static:{MAIL_UID}
virtual_destination_concurrency_limit = {max(self.parallel, 1)}
virtual_destination_recipient_limit = 1
virtual_mailbox_limit = 0
virtual_minimum_uid = 1
"""

    def extra_master(self):
        return f"""
virtual   unix - n n - {self.parallel} virtual
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
flush     unix n - n 1000? 0 flush
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
pickup    unix n - n 60 1 pickup
"""

    def deliver(self, expected, parallel):
        env = dict(os.environ, LD_LIBRARY_PATH=str(self.root / "usr/lib/postfix"),
                   MAIL_CONFIG=str(self.dir / "etc"))
        sbin = self.root / "usr/sbin"
        t0 = time.monotonic()
        subprocess.run([str(sbin / "postsuper"), "-c", str(self.dir / "etc"), "-H", "ALL"], env=env,
                       check=True, capture_output=True)
        subprocess.run([str(sbin / "postqueue"), "-c", str(self.dir / "etc"), "-f"], env=env,
                       check=True, capture_output=True)
        wait_for(lambda: count_delivered(self.mail) >= expected, 300)
        elapsed = time.monotonic() - t0
        return elapsed, count_delivered(self.mail)


class Trash:
    """Where each run's scratch directory goes instead of being removed at once.

    On ext4 without a journal (this machine's root) every new inode is looked for from the start
    of its block group, skipping one by one each inode freed in the last 30 seconds
    (dirty_expire_centisecs); the creates of one Maildir are serialised by its directory's lock.
    A server whose run followed the removal of the previous server's spool and Maildirs paid for
    them on each delivery (bench/deliver/README.md, session 15), so the results depended on the
    order of the servers. The scratch directories are removed at the end, or when they hold more
    than LIMIT bytes, after which the next run waits until the freed inodes are 31 s old."""
    LIMIT = 1 << 30

    def __init__(self, work):
        self.dir = work / ".trash"
        self.dir.mkdir()
        self.n = 0
        self.bytes = 0
        self.removed_at = 0.0

    def put(self, path):
        if not path.exists():
            return
        self.bytes += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        self.n += 1
        os.rename(path, self.dir / str(self.n))
        if self.bytes > self.LIMIT:
            self.empty()

    def empty(self):
        for d in list(self.dir.iterdir()):
            shutil.rmtree(d, ignore_errors=True)
        self.bytes = 0
        self.removed_at = time.monotonic()

    def settle(self):
        """Before a timed run: no inode freed in the last 31 s by a removal of ours."""
        wait = self.removed_at + 31 - time.monotonic()
        if self.removed_at and wait > 0:
            time.sleep(wait)


def machine_line():
    from importlib import util   # bench/accept/run.py ("run" is this file's name too)
    spec = util.spec_from_file_location("accept_run", HERE.parent / "accept" / "run.py")
    accept_run = util.module_from_spec(spec)
    spec.loader.exec_module(accept_run)
    return accept_run.machine()


def main():
    # BENCH_TRACE_AFTER=<seconds>: print where the script hangs (a server that never delivers)
    faulthandler.dump_traceback_later(float(os.environ.get("BENCH_TRACE_AFTER", "0")) or 1e9)
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default=str(HERE.parents[1] / "build" / "postern"))
    ap.add_argument("--base", default="/work/main/build/postern",
                    help="the Postern build to compare with, as server 'base' (A/B in one run)")
    ap.add_argument("--servers", default="postern,exim,postfix")
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--sizes", default="2048,102400")
    ap.add_argument("--rcpts", default="1,10")
    ap.add_argument("--parallel", default="1,4")
    ap.add_argument("--rounds", type=int, default=1, help="repetitions per cell (median kept)")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    names = args.servers.split(",")
    sizes = [int(x) for x in args.sizes.split(",")]
    rcptss = [int(x) for x in args.rcpts.split(",")]
    pars = [int(x) for x in args.parallel.split(",")]
    work = pathlib.Path(tempfile.mkdtemp(prefix="postern-bench-deliver-"))
    os.chmod(work, 0o755)
    port0 = 27000 + os.getpid() % 1000 * 3
    started = datetime.datetime.now(datetime.timezone.utc)
    loads = [os.getloadavg()[0]]
    results = {}
    trash = Trash(work)
    for size in sizes:
        for rcpts in rcptss:
            for par in pars:
                runs = {n: [] for n in names}
                for _ in range(args.rounds):
                    for i, name in enumerate(names):
                        port = port0 + i
                        if name == "postfix":
                            srv = PostfixDeliver(work, port)
                            srv.prepare(rcpts, par)
                            srv.main_extra = srv.extra_main()
                            srv.master_extra = srv.extra_master()
                        else:
                            binary = {"postern": args.postern, "base": args.base}.get(name, "exim")
                            postern = name in ("postern", "base")
                            # Postern: one runner with P deliveries in flight (queue_run_parallel,
                            # beyond Exim); Exim: P runners, its only way to deliver P at once.
                            extra = (f"queue_run_parallel = {par}" if postern else
                                     "rfc1413_hosts =\ntls_advertise_hosts =\nkeep_environment =")
                            srv = EximLike(work, port, name, binary, extra)
                            srv.prepare(rcpts)
                        if not srv.start():
                            raise RuntimeError(f"{name} did not start")
                        expected = args.messages * rcpts
                        try:
                            queue_messages(port, args.messages, size, rcpts)
                            if name != "postfix":
                                srv.stop()   # Postern and Exim deliver with -q runners alone
                            trash.settle()
                            elapsed, got = srv.deliver(expected, 1 if postern else par)
                        finally:
                            srv.stop()
                        if got != expected:
                            print(f"!! {name}: {got} of {expected} delivered", flush=True)
                        runs[name].append({"s": elapsed, "got": got, "expected": expected})
                        loads.append(os.getloadavg()[0])
                        trash.put(srv.dir)
                for n in names:
                    st = sorted(runs[n], key=lambda r: r["s"])[len(runs[n]) // 2]
                    st["msgs"] = args.messages / st["s"]
                    st["deliveries"] = st["got"] / st["s"]
                    results[(n, size, rcpts, par)] = st
                print(f"   {size:>6} B rcpts={rcpts:<2} P={par} " + "  ".join(
                    f"{n} {results[(n, size, rcpts, par)]['msgs']:7.1f} msg/s" for n in names), flush=True)
    write_results(args, names, sizes, rcptss, pars, results, started, loads)
    shutil.rmtree(work, ignore_errors=True)


def write_results(args, names, sizes, rcptss, pars, results, started, loads):
    lines = [
        "# Delivery benchmark (queue -> Maildir)",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC by `bench/deliver/run.py --messages {args.messages} "
        f"--sizes {args.sizes} --rcpts {args.rcpts} --parallel {args.parallel} --rounds {args.rounds}` "
        f"on: {machine_line()}. Load average (1 min) during the run: "
        f"{min(loads):.1f}-{max(loads):.1f}.",
        "",
        f"{args.messages} messages are queued first (not timed), then one queue run delivers every",
        "recipient to its own Maildir (`rcptN/Maildir/new`); the time is from the start of the run",
        "until every file is there. P = delivery processes at once: one `-q` runner with `queue_run_parallel = P` for Postern, P `-q` runners for",
        "Exim, `virtual` maxproc and destination concurrency P for Postfix. msg/s = messages / time;",
        "dlv/s = delivered files / time.",
        "",
        "| size | rcpts | P | " + " | ".join(f"{n} msg/s (dlv/s)" for n in names) + " | " +
        " | ".join(f"postern/{n}" for n in names if n != "postern") + " |",
        "|---|---|---|" + "---|" * len(names) + "---|" * len([n for n in names if n != "postern"]),
    ]
    for size in sizes:
        for rcpts in rcptss:
            for par in pars:
                row = [f"{size // 1024} KB", str(rcpts), str(par)]
                for n in names:
                    st = results.get((n, size, rcpts, par))
                    if not st:
                        row.append("-")
                        continue
                    bad = "" if st["got"] == st["expected"] else f" ({st['got']}/{st['expected']} delivered)"
                    row.append(f"{st['msgs']:.1f} ({st['deliveries']:.0f}){bad}")
                for n in names:
                    if n == "postern":
                        continue
                    a, b = results.get(("postern", size, rcpts, par)), results.get((n, size, rcpts, par))
                    row.append(f"{a['msgs'] / b['msgs']:.2f}" if a and b else "-")
                lines.append("| " + " | ".join(row) + " |")
    pathlib.Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
