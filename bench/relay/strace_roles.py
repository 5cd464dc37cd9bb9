#!/usr/bin/env python3
"""System calls per message by process role from a latency.py --strace trace (strace -f): the session
(it syncs), the delivery worker (it clones CLONE_VM), its cloned transport children, and the rest
(launcher, daemon). usage: strace_roles.py TRACE N [ROLE: list that role's calls]"""
import re, sys, collections
f, n = sys.argv[1], int(sys.argv[2]); detail = sys.argv[3] if len(sys.argv) > 3 else None
calls = collections.defaultdict(collections.Counter)
vmkids = set(); pending_vm = set(); vmparents = set(); syncers = set()
for line in open(f):
    m = re.match(r"(\d+) +\S+ (?:<\.\.\. (\w+) resumed>(.*)|(\w+)\((.*))", line)
    if not m: continue
    pid = int(m.group(1))
    if m.group(2):
        name, rest = m.group(2), m.group(3)
        if name in ("clone", "clone3") and pid in pending_vm:
            pending_vm.discard(pid)
            r = re.search(r"= (\d+)", rest)
            if r: vmkids.add(int(r.group(1)))
        continue
    name, rest = m.group(4), m.group(5)
    calls[pid][name] += 1
    if name in ("clone", "clone3") and "CLONE_VM" in rest:
        vmparents.add(pid)
        if "unfinished" in rest: pending_vm.add(pid)
        r = re.search(r"= (\d+)", rest)
        if r: vmkids.add(int(r.group(1)))
    if name in ("fdatasync", "fsync"): syncers.add(pid)
role = {}
for pid in calls:
    role[pid] = "tchild" if pid in vmkids else "worker" if pid in vmparents else "session" if pid in syncers else "other"
agg = collections.defaultdict(collections.Counter)
for pid, c in calls.items(): agg[role[pid]].update(c)
tot = 0
for r in ["session", "other", "worker", "tchild"]:
    s = sum(agg[r].values()); tot += s
    print(f"{r:8s} {s/n:7.1f}/msg  pids={sum(1 for p in role if role[p]==r)}")
print(f"total    {tot/n:7.1f}/msg")
if detail:
    for k, v in agg[detail].most_common(): print(f"  {k:16s} {v/n:6.2f}")
