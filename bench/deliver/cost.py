#!/usr/bin/env python3
"""What one Postern queue run costs per message: CPU (rusage of the run and all its processes),
minor page faults, wall time, and with --strace the system calls per message of each kind of
process (runner, committer, workers, transport children). Not the benchmark (run.py is): a tool
to compare two builds under the same conditions with little noise.

A queue of N messages (2 KB, one recipient, run.py's configuration) is made once with a
daemon into DIR and kept as a snapshot; every run delivers a fresh copy of it, builds in turn:

    bench/deliver/cost.py setup DIR [--messages 300] [--postern build/postern]
    bench/deliver/cost.py run DIR --parallel 1 --rounds 10 BUILD [BUILD...]
    bench/deliver/cost.py run DIR --strace BUILD
    bench/deliver/cost.py run DIR --sched --parallel 4 --rounds 3 BUILD [BUILD...]

--sched records each run with `perf sched record` and prints, per kind of process (runner,
workers, transport children, committer) and per message: how often it was scheduled in, its run
time, and its scheduling delay (runnable but waiting for a CPU): the medians over the rounds.

DIR on tmpfs (/dev/shm/...) gives the CPU without the device's flushes; on the disk the flushes
and ext4's inode allocation come in. Run as root (the deliveries run as the mail user).
"""
import argparse
import collections
import os
import pathlib
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "accept"))


def _load_deliver_run():
    from importlib import util   # bench/accept/run.py has the same module name
    spec = util.spec_from_file_location("deliver_run", HERE / "run.py")
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


deliver_run = _load_deliver_run()


def setup(d, n, binary):
    d = pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    os.chmod(d, 0o755)
    port = 29600 + os.getpid() % 300
    srv = deliver_run.EximLike(d, port, "postern", binary, "queue_run_parallel = @P@")
    srv.prepare(1)
    conf = srv.conf.read_text()
    srv.conf.write_text(conf.replace("queue_run_parallel = @P@", ""))
    if not srv.start():
        sys.exit("postern did not start")
    try:
        deliver_run.queue_messages(port, n, 2048, 1)
    finally:
        srv.stop()
    for f in srv.dir.iterdir():
        shutil.move(str(f), str(d / f.name))
    (d / "conf.in").write_text(conf.replace(str(srv.dir), str(d)))
    subprocess.run(["cp", "-a", str(d / "spool"), str(d / "spool.snap")], check=True)


def role(calls):
    """Which process of the run a strace -ff file is, from what it did."""
    if calls.get("execve"):
        return "runner"
    if calls.get("link") and not calls.get("clone"):
        return "transport child"
    if calls.get("clone"):
        return "worker"
    return "committer"


def one_run(d, binary, parallel, trace=False, sched=False):
    d = pathlib.Path(d)
    for sub in ("spool", "mail"):
        shutil.rmtree(d / sub, ignore_errors=True)
    subprocess.run(["cp", "-a", str(d / "spool.snap"), str(d / "spool")], check=True)
    # On disk, as a daemon's spool: the files' blocks allocated and written (a copy left in the
    # page cache has none yet, and removing it then costs no discard: session 15).
    os.sync()
    (d / "mail").mkdir()
    os.chown(d / "mail", deliver_run.MAIL_UID, deliver_run.MAIL_UID)
    (d / "conf").write_text((d / "conf.in").read_text().replace("@P@", str(parallel)))
    n = sum(1 for x in os.listdir(d / "spool" / "input") if x.endswith("-H"))
    cmd = [binary, "-C", str(d / "conf"), "-q"]
    out = d / "strace"
    if trace:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        cmd = ["strace", "-ff", "-T", "-qq", "-o", str(out / "t")] + cmd
    pidfile = d / "runner.pid"
    if sched:
        # The runner's pid, for telling its processes from any other Postern's on the machine.
        cmd = ["perf", "sched", "record", "-q", "-o", str(d / "sched.data"), "--", "sh", "-c",
               f'echo $$ > {pidfile}; exec "$0" "$@"'] + cmd
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    got = deliver_run.count_delivered(d / "mail")
    if got != n:
        sys.exit(f"{binary}: delivered {got} of {n}")
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    res = {"n": n, "wall": 1000 * wall / n, "cpu": 1000 * cpu / n, "minflt": (r1.ru_minflt - r0.ru_minflt) / n}
    if sched:
        res["sched"] = sched_roles(d / "sched.data", int(pidfile.read_text()), n)
    if trace:
        groups = collections.defaultdict(lambda: [0, collections.Counter(), 0.0])
        for f in out.iterdir():
            c, sync = collections.Counter(), 0.0
            for line in open(f, errors="replace"):
                m = re.match(r"^(\w+)\(", line)
                if m:
                    c[m.group(1)] += 1
                    t = re.search(r"<([\d.]+)>$", line.strip())
                    if m.group(1) in ("fsync", "fdatasync") and t:
                        sync += float(t.group(1))
            g = groups[role(c)]
            g[0] += 1
            g[1] += c
            g[2] += sync
        res["trace"] = groups
    return res


def sched_roles(data, runner, n):
    """{role: (sched-ins, run ms, scheduling delay ms) per message} from a perf sched recording:
    the runner, its children (workers, which have children of their own, and the committer) and
    the workers' children (the transport children)."""
    summ = subprocess.run(["perf", "sched", "timehist", "-i", str(data), "-s"], capture_output=True,
                          text=True).stdout
    parent, runtime, sins = {}, {}, {}
    for line in summ.splitlines():
        m = re.match(r"\s*\S+\[(\d+)\]\s+(\d+)\s+(\d+)\s+([\d.]+)", line)
        if m:
            pid = int(m.group(1))
            parent[pid], sins[pid], runtime[pid] = int(m.group(2)), int(m.group(3)), float(m.group(4))
    hist = subprocess.run(["perf", "sched", "timehist", "-i", str(data)], capture_output=True, text=True).stdout
    delay = collections.Counter()
    for line in hist.splitlines():
        f = line.split()   # time cpu task wait sch-delay run
        m = re.match(r".*\[(\d+)(?:/\d+)?\]$", f[2]) if len(f) >= 6 else None
        if m:
            try:
                delay[int(m.group(1))] += float(f[4])
            except ValueError:
                pass
    kids = collections.defaultdict(list)
    for pid, pp in parent.items():
        kids[pp].append(pid)
    role = {runner: "runner"}
    for c in kids[runner]:
        role[c] = "worker" if kids[c] else "committer"
        for g in kids[c]:
            role[g] = "transport child"
    out = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    for pid, r in role.items():
        if pid in parent:
            o = out[r]
            o[0] += sins[pid] / n
            o[1] += runtime[pid] / n
            o[2] += delay[pid] / n
    return dict(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("setup", "run"))
    ap.add_argument("dir")
    ap.add_argument("builds", nargs="*")
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--postern", default=str(HERE.parents[1] / "build" / "postern"))
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--sched", action="store_true")
    a = ap.parse_intermixed_args()
    if a.what == "setup":
        setup(a.dir, a.messages, a.postern)
        return
    builds = a.builds or [a.postern]
    if a.strace:
        for b in builds:
            r = one_run(a.dir, b, a.parallel, trace=True)
            total = sum(sum(g[1].values()) for g in r["trace"].values())
            print(f"{b}: {total / r['n']:.1f} system calls per message")
            for name, (procs, calls, sync) in sorted(r["trace"].items()):
                print(f"  {name}: {procs} processes, {sum(calls.values()) / r['n']:.1f} calls/msg, "
                      f"fsync+fdatasync {1000 * sync / r['n']:.2f} ms/msg")
                print("    " + ", ".join(f"{k} {v / r['n']:.2f}" for k, v in calls.most_common(24)))
        return
    rows = collections.defaultdict(list)
    for _ in range(a.rounds):
        for b in builds:
            rows[b].append(one_run(a.dir, b, a.parallel, sched=a.sched))
    for b, rs in rows.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "minflt")}
        print(f"{b}: P={a.parallel} {len(rs)} rounds, medians per message: wall {med['wall']:.3f} ms "
              f"(min {min(r['wall'] for r in rs):.3f}), CPU {med['cpu']:.3f} ms "
              f"(min {min(r['cpu'] for r in rs):.3f}), minor faults {med['minflt']:.1f}")
        if a.sched:
            for role in ("runner", "worker", "transport child", "committer"):
                v = [r["sched"][role] for r in rs if role in r["sched"]]
                if v:
                    m = [statistics.median(x[i] for x in v) for i in range(3)]
                    print(f"  {role:16} scheduled in {m[0]:.2f}, ran {m[1]:.3f} ms, waited for a CPU "
                          f"{m[2]:.3f} ms per message")


if __name__ == "__main__":
    main()
