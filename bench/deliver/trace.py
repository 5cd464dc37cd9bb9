#!/usr/bin/env python3
"""Trace one Postern queue run under strace and list, per message, every system call that waits
on the device (fsync, fdatasync, sync_file_range, syncfs) and every file created, linked,
renamed or removed, with the time each took. Not a benchmark (strace slows everything): it
shows what a delivery does, for bench/deliver/README.md.

    bench/deliver/trace.py --postern build/postern [--messages 50] [--size 2048] [--parallel 1]
        [--relay]   (remote delivery to an SMTP sink instead of Maildir)

Run as root. Prints a per-message table and totals; --keep leaves the strace output behind.
"""
import argparse
import collections
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "accept"))


def _load_deliver_run():
    from importlib import util   # bench/accept/run.py has the same module name
    spec = util.spec_from_file_location("deliver_run", HERE / "run.py")
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


deliver_run = _load_deliver_run()

SYNC_CALLS = ("fsync", "fdatasync", "sync_file_range", "syncfs", "sync")
FILE_CALLS = ("openat", "open", "creat", "link", "linkat", "rename", "renameat", "renameat2",
              "unlink", "unlinkat", "mkdir", "mkdirat", "close")
LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<ts>[\d:.]+)\s+(?P<call>\w+)\((?P<args>.*)\)\s+=\s+"
                  r"(?P<ret>-?\d+|\?)(?P<rest>.*?)(?:<(?P<dur>[\d.]+)>)?$")
MSGID = re.compile(r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}")


def parse(path):
    """Yield (pid, call, args, ret, seconds) for complete lines (strace -f -tt -T -y)."""
    pending = {}
    for raw in open(path, errors="replace"):
        raw = raw.rstrip("\n")
        m = re.match(r"^(\d+)\s+([\d:.]+)\s+(.*)$", raw)
        if not m:
            continue
        pid, ts, body = m.groups()
        if body.endswith("<unfinished ...>"):
            pending[pid] = body[: -len("<unfinished ...>")]
            continue
        r = re.match(r"^<\.\.\. (\w+) resumed>(.*)$", body)
        if r:
            body = pending.pop(pid, r.group(1) + "(") + r.group(2)
        m = LINE.match(f"{pid} {ts} {body}")
        if not m:
            continue
        yield (m["pid"], m["call"], m["args"], m["ret"], float(m["dur"] or 0))


def classify(path):
    """Short name of a spool or mailbox file: input/-H, msglog, Maildir/new, db/..."""
    p = path
    if "/Maildir/" in p:
        return "Maildir/" + p.split("/Maildir/", 1)[1].split("/", 1)[0] + ("/" if p.endswith(("/new", "/tmp", "/cur")) else "/file")
    if "/input/" in p or p.endswith("/input"):
        tail = p.rsplit("/", 1)[1]
        return "input/" + (tail[-2:] if MSGID.match(tail) else tail)
    if "/commit/" in p:
        return "commit/-H"
    for d in ("msglog", "db", "log"):
        if f"/{d}/" in p or p.endswith(f"/{d}"):
            return d + ("/" + p.rsplit("/", 1)[1] if d == "db" else "")
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default=str(HERE.parents[1] / "build" / "postern"))
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="postern-trace-"))
    os.chmod(work, 0o755)
    port = 29000 + os.getpid() % 500
    srv = deliver_run.EximLike(work, port, "postern", args.postern, f"queue_run_parallel = {args.parallel}")
    srv.prepare(1)
    if not srv.start():
        sys.exit("postern did not start")
    try:
        deliver_run.queue_messages(port, args.messages, args.size, 1)
    finally:
        srv.stop()
    out = work / "strace.out"
    subprocess.run(["strace", "-f", "-tt", "-T", "-y", "-qq", "-o", str(out),
                    "-e", "trace=" + ",".join(SYNC_CALLS + FILE_CALLS),
                    args.postern, "-C", str(srv.conf), "-q"], check=True)
    got = deliver_run.count_delivered(srv.mail)
    print(f"delivered {got} of {args.messages}")
    per = collections.Counter()
    secs = collections.Counter()
    for pid, call, a, ret, dur in parse(out):
        if ret.startswith("-"):
            continue
        if call == "close":
            # the last close of an unlinked file frees its blocks (a discard on this machine)
            m = re.search(r"<([^>]*)>", a)
            if dur < 0.0003 or not m:
                continue
            key = f"slow close {classify(m.group(1).replace(' (deleted)', ''))}"
        elif call in SYNC_CALLS:
            m = re.search(r"<([^>]*)>", a)
            what = classify(m.group(1)) if m else "?"
            key = f"{call} {what}"
        else:
            names = re.findall(r'"([^"]*)"', a)
            if call.startswith("open"):
                if "O_CREAT" not in a:
                    continue
                dirfd = re.match(r"\w+<([^>]*)>", a)
                name = names[0] if names else "?"
                if dirfd and not name.startswith("/"):
                    name = dirfd.group(1) + "/" + name
                key = f"create {classify(name)}"
            else:
                dirfds = re.findall(r"\d+<([^>]*)>", a)
                fixed = []
                for n in names:
                    if not n.startswith("/") and dirfds:
                        n = dirfds[0] + "/" + n
                    fixed.append(classify(n))
                key = f"{call} " + " -> ".join(fixed)
        per[key] += 1
        secs[key] += dur
    n = max(got, 1)
    print(f"{'call and file':<48} {'per message':>12} {'ms each':>9}")
    for key, c in sorted(per.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{key:<48} {c / n:>12.2f} {1000 * secs[key] / c:>9.2f}")
    if args.keep:
        print(f"strace output: {out}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
