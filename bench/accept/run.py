#!/usr/bin/env python3
"""Accept benchmark: messages per second accepted into the spool by Postern, Exim 4.96 and
Postfix, in one run, at equal durability (every server fsyncs before 250; see servers.py), for
2 KB and 100 KB messages, 1/8/32 concurrent connections, one connection per message ("new") or
one connection for many messages ("reused"); and memory per idle connection (PSS and RSS of the
server's processes, delta over N idle sessions / N). Writes RESULTS.md beside this file.

Run as root (the servers bind as root and drop to the mail user):
    bench/accept/run.py --postern build/postern [--seconds 5] [--servers postern,exim,postfix]
"""
import argparse
import asyncio
import datetime
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402
import servers  # noqa: E402


def descendants(pid):
    """pid and all its descendants."""
    kids = {}
    for d in pathlib.Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def memory_kb(pid):
    """(PSS, RSS) in kB summed over the process tree."""
    pss = rss = 0
    for p in descendants(pid):
        try:
            for line in pathlib.Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except OSError:
            pass
    return pss, rss


def idle_memory(server, n):
    """Memory added per idle connection (banner + EHLO done), in kB."""
    async def go():
        before = memory_kb(server.master_pid())
        conns = await loadgen.hold_idle("127.0.0.1", server.port, n)
        await asyncio.sleep(1.0)
        after = memory_kb(server.master_pid())
        for r, w in conns:
            await loadgen.close_session(r, w)
        return before, after
    before, after = asyncio.run(go())
    return (after[0] - before[0]) / n, (after[1] - before[1]) / n


def machine():
    cpu = "?"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = pathlib.Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    fs = subprocess.run(["df", "-T", tempfile.gettempdir()], capture_output=True, text=True).stdout.splitlines()[-1].split()
    return (f"{cpu}, {os.cpu_count()} CPUs, {int(mem) // 1024} MB RAM, Linux {platform.release()}, "
            f"spools on {fs[1]} ({fs[0]}) at {tempfile.gettempdir()}")


def versions(postern, before=None):
    v = {}
    r = subprocess.run([postern, "-bV"], capture_output=True, text=True)
    v["postern"] = r.stdout.splitlines()[0] if r.stdout else "?"
    if before:
        r = subprocess.run([before, "-bV"], capture_output=True, text=True)
        v["postern-before"] = r.stdout.splitlines()[0] if r.stdout else "?"
    r = subprocess.run(["exim", "-bV"], capture_output=True, text=True)
    v["exim"] = r.stdout.splitlines()[0] if r.stdout else "?"
    deb = next((HERE / ".postfix").glob("postfix_*.deb"), None)
    v["postfix"] = deb.name if deb else "?"
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default=str(HERE.parents[1] / "build" / "postern"))
    ap.add_argument("--postern-before", help="an older postern binary, measured as server 'postern-before'")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--servers", default="postern,exim,postfix")
    ap.add_argument("--sizes", default="2048,102400")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--rounds", type=int, default=3, help="repetitions per cell (median kept)")
    ap.add_argument("--idle", type=int, default=20, help="idle connections for the memory figure")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    concs = [int(x) for x in args.concurrency.split(",")]
    names = args.servers.split(",")
    settle_after_last_removal()
    work = pathlib.Path(tempfile.mkdtemp(prefix="postern-bench-"))
    os.chmod(work, 0o755)   # the servers run as the mail user below it
    port0 = 26000 + os.getpid() % 1000 * 3

    results = {}   # (server, size, conc, mode) -> stats
    memory = {}
    started_at = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = f"{os.getloadavg()[0]:.1f}"
    # All servers run side by side; every cell is measured for each server in turn, `rounds`
    # times, and the median kept, so that load from elsewhere on the machine hits them alike.
    srvs = {}
    try:
        for i, name in enumerate(names):
            port = port0 + i
            srv = {"postern": lambda: servers.Postern(work, port, args.postern),
                   "postern-before": lambda: servers.Postern(work, port, args.postern_before, "postern-before"),
                   "exim": lambda: servers.Exim(work, port),
                   "postfix": lambda: servers.Postfix(work, port)}[name]()
            if not srv.start():
                print(f"== {name} did not start", flush=True)
                continue
            srvs[name] = srv
            # Idle memory first, while no worker processes exist yet (Postfix keeps idle smtpd
            # processes after a load, which would absorb new connections at no visible cost).
            memory[name] = idle_memory(srv, args.idle)
            print(f"== {name} on port {port}: idle connection PSS {memory[name][0]:.0f} kB, "
                  f"RSS {memory[name][1]:.0f} kB", flush=True)
        time.sleep(1.0)
        for srv in srvs.values():
            loadgen.run("127.0.0.1", srv.port, 2048, 2, True, 1.0)   # warm-up
        cell = 0
        for size in sizes:
            for conc in concs:
                for mode in ("new", "reused"):
                    runs = {n: [] for n in srvs}
                    for rnd in range(args.rounds):
                        # The servers in turn, starting with a different one from cell to cell and
                        # round to round, so that whatever going first costs (the previous cell's
                        # load, its write-back) does not always fall on the same server: in session
                        # 16, Postern first made c=1 0.50-0.97 of the build before it, and second
                        # 0.98-1.08 (bench/accept/README.md).
                        order = list(srvs.items())
                        k = (cell + rnd) % len(order) if order else 0
                        for n, srv in order[k:] + order[:k]:
                            runs[n].append(loadgen.run("127.0.0.1", srv.port, size, conc, mode == "reused", args.seconds))
                    cell += 1
                    for n in srvs:
                        st = sorted(runs[n], key=lambda x: x["rate"])[len(runs[n]) // 2]
                        st["errors"] = sum(r["errors"] for r in runs[n])
                        results[(n, size, conc, mode)] = st
                    print(f"   {size:>6} B  c={conc:<2} {mode:<6} " + "  ".join(
                        f"{n} {results[(n, size, conc, mode)]['rate']:7.1f}" for n in srvs), flush=True)
        time.sleep(0.5)
        for n, srv in srvs.items():
            print(f"   {n} queued files: {srv.queued_count()}", flush=True)
    finally:
        for srv in srvs.values():
            srv.stop()
    write_results(args, results, memory, names, sizes, concs, started_at, load_at_start)
    subprocess.run(["rm", "-rf", str(work)])
    REMOVED_STAMP.write_text(f"{time.time():.0f}\n")


# Scratch directories and inode allocation (bench/accept/README.md, session 16): on ext4 without a
# journal every new inode skips, reading an inode table block for each, the inodes of its group
# freed in the last 30 s (dirty_expire_centisecs). Within one run nothing is removed (the servers
# run side by side, each in its own directory, until the end), so no server pays for another's
# spool; but the removal of a whole run's spools at its end slowed the next run's first 30 s, so
# a run started within 31 s of the last one's removal waits for the rest of that time first.
REMOVED_STAMP = pathlib.Path(tempfile.gettempdir()) / "postern-bench-accept.removed"


def settle_after_last_removal():
    try:
        wait = float(REMOVED_STAMP.read_text()) + 31 - time.time()
    except (OSError, ValueError):
        return
    if 0 < wait <= 31:
        print(f"== waiting {wait:.0f} s: the last run's spools were removed just now", flush=True)
        time.sleep(wait)


def write_results(args, results, memory, names, sizes, concs, started_at, load_at_start):
    v = versions(args.postern, args.postern_before)
    lines = [
        "# Accept benchmark",
        "",
        f"Run {started_at:%Y-%m-%d %H:%M} UTC by `bench/accept/run.py --seconds {args.seconds:g} --rounds {args.rounds}` on: {machine()}.",
        "",
        "Messages per second that got `250` after DATA (one recipient, no pipelining, each client waits",
        "for every reply); median of the rounds, the servers measured in turn for every cell. All servers",
        "run on 127.0.0.1 from private scratch directories, accept every recipient and only queue (no",
        "delivery), and make the message durable before 250 with their default (and only) setting.",
        "Observed with strace per message:",
        "Postern `fdatasync(-D)` (helper thread, from the end of the body) in parallel with",
        "`fdatasync(-H tmp)`, `rename` after both, then one `fsync(input/)` round shared by all",
        "sessions that renamed while the previous round ran (group commit, docs/spool.md);",
        "postern-before (if measured: an older build given with --postern-before); Exim `fsync(-D)`,",
        "`fsync(hdr tmp)`, `rename`, `fsync(input/)`; Postfix one `fsync` of the queue file and no",
        f"directory sync. The load generator ({loadgen.kind()}, TCP_NODELAY, QUIT without waiting for 221) shares",
        "the CPUs with the server, which costs every server alike; other work on the machine adds noise",
        f"(load average {load_at_start} at the start, {os.getloadavg()[0]:.1f} at the end).",
        "",
        "Versions: " + "; ".join(f"{k}: {val}" for k, val in v.items()),
        "",
        "| size | conns | mode | " + " | ".join(names) + " | " +
        " | ".join(f"postern/{n}" for n in names if n != "postern") + " |",
        "|---|---|---|" + "---|" * len(names) + "---|" * len([n for n in names if n != "postern"]),
    ]
    for size in sizes:
        for conc in concs:
            for mode in ("new", "reused"):
                row = [f"{size // 1024} KB", str(conc), mode]
                rates = {}
                for n in names:
                    st = results.get((n, size, conc, mode))
                    rates[n] = st["rate"] if st else None
                    row.append(f"{st['rate']:.1f}" + (f" ({st['errors']} err)" if st and st["errors"] else "")
                               if st else "-")
                for n in names:
                    if n == "postern":
                        continue
                    a, b = rates.get("postern"), rates.get(n)
                    row.append(f"{a / b:.2f}" if a and b else "-")
                lines.append("| " + " | ".join(row) + " |")
    lines += ["", f"Memory per idle connection ({args.idle} sessions after banner and EHLO, measured on the",
              "freshly started server; delta of the server's process tree / sessions):", "", "| server | PSS kB | RSS kB |", "|---|---|---|"]
    for n in names:
        if n in memory:
            lines.append(f"| {n} | {memory[n][0]:.0f} | {memory[n][1]:.0f} |")
    pathlib.Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
