#!/usr/bin/env python3
"""A/B of two Postern builds on ONE spool directory: CPU per accepted message of the daemon tree
(cgroup v1 cpuacct: user and system) and the rate, with bench/accept's configuration
(servers.py) and loadgen.

    sudo bench/accept/abcpu.py A_BINARY B_BINARY [--cells 8:reused,8:new] [--seconds 3]
        [--pairs 3] [--size 2048] [--dir DIR]

Why one directory: on ext4 without a journal a create costs what its block group's recently
freed inodes make it cost (bench/accept/README.md, "Caution for every A/B here"), and two
scratch directories may sit in different groups; here both builds write into the same spool,
one after the other, in the order A B B A for every pair (so neither always goes first), and
nothing is removed until the end. Each turn: the daemon starts in a fresh cgroup, a 1 s warm-up
(pre-forked processes, the index, first spares), then `--seconds` of load, CPU read around it.
WRAP="strace -f -c -o FILE.{name}" runs each daemon under a command ({name}: A or B, turn
number appended). The first turn of every cell (A's, on a spool that may be new) is a
warm-up and not counted.
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import loadgen  # noqa: E402
import servers  # noqa: E402


def cg_read(cg, name):
    return int((cg / name).read_text().split()[0])


TURNS = [0]


def turn(binary, label, n, spool, port, size, conc, reused, seconds):
    TURNS[0] += 1
    n = f"{n}.{TURNS[0]}"   # unique: a cgroup whose processes were slow to leave is not reused
    conf = spool.parent / f"postern-{label}.conf"
    conf.write_text(
        f"spool_directory = {spool}\nexim_user = mail\nexim_group = mail\n"
        "local_interfaces = 127.0.0.1\n" f"daemon_smtp_ports = {port}\n"
        "smtp_accept_max = 0\nsmtp_connect_backlog = 128\nhost_lookup =\n"
        "acl_smtp_rcpt = accept\nqueue_only = true\nbegin routers\nbegin transports\n")
    cg = pathlib.Path(f"/sys/fs/cgroup/cpuacct/abcpu-{os.getpid()}-{label}{n}")
    cg.mkdir()

    def inner():
        (cg / "cgroup.procs").write_text(str(os.getpid()))
    wrap = os.environ.get("WRAP", "").replace("{name}", f"{label}{n}").split()
    p = subprocess.Popen(wrap + [binary, "-C", str(conf), "-bdf"], preexec_fn=inner,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not servers.wait_port(port):
            raise RuntimeError(f"{label} did not start")
        loadgen.run("127.0.0.1", port, size, conc, reused, 1.0)
        load = os.getloadavg()[0]
        u0, s0 = cg_read(cg, "cpuacct.usage_user"), cg_read(cg, "cpuacct.usage_sys")
        r = loadgen.run("127.0.0.1", port, size, conc, reused, seconds)
        u1, s1 = cg_read(cg, "cpuacct.usage_user"), cg_read(cg, "cpuacct.usage_sys")
    finally:
        if wrap:   # the daemon is the wrapper's child: stop it, and let the wrapper finish
            for kid in pathlib.Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split():
                os.kill(int(kid), 15)
        else:
            p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        for _ in range(100):   # the session processes leave after the daemon
            if not (cg / "cgroup.procs").read_text().strip():
                break
            time.sleep(0.1)
        try:
            cg.rmdir()
        except OSError:
            pass
    ok = max(r["ok"], 1)
    return {"user": (u1 - u0) / 1e6 / ok, "sys": (s1 - s0) / 1e6 / ok, "rate": r["rate"],
            "ok": r["ok"], "load": load}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--cells", default="8:reused,8:new")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--dir", help="where the shared spool goes (default: a new scratch directory)")
    args = ap.parse_args()
    work = pathlib.Path(args.dir or tempfile.mkdtemp(prefix="abcpu-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)
    spool = work / "spool"
    port = 27000 + os.getpid() % 1000
    res = {"A": {}, "B": {}}
    for cell in args.cells.split(","):
        conc, mode = cell.split(":")
        turn(args.a, "W", 0, spool, port, args.size, int(conc), mode == "reused", 1.0)
        for i in range(args.pairs):
            for label in ("A", "B", "B", "A"):
                binary = args.a if label == "A" else args.b
                t = turn(binary, label, i, spool, port, args.size, int(conc), mode == "reused", args.seconds)
                res[label].setdefault(cell, []).append(t)
                print(f"{cell:10} {label} {t['user'] + t['sys']:.3f} ms/msg (user {t['user']:.3f} sys {t['sys']:.3f})"
                      f" {t['rate']:7.1f}/s ok {t['ok']} load {t['load']:.1f}", flush=True)
    print("medians:")
    for cell in args.cells.split(","):
        for label in ("A", "B"):
            ts = res[label][cell]
            print(f"{cell:10} {label} cpu {statistics.median(t['user'] + t['sys'] for t in ts):.3f} ms/msg"
                  f" (user {statistics.median(t['user'] for t in ts):.3f} sys {statistics.median(t['sys'] for t in ts):.3f})"
                  + f" rate {statistics.median(t['rate'] for t in ts):.0f}/s")
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
