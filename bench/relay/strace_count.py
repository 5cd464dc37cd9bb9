#!/usr/bin/env python3
"""System calls per message from a latency.py --strace trace: usage strace_count.py TRACE N (N: the messages
measured). Prints the total and, for a few calls, the count and the time spent per message."""
import re, sys, collections
f, n = sys.argv[1], int(sys.argv[2])
calls = collections.Counter(); tim = collections.Counter(); total = 0
for line in open(f):
    m = re.match(r"(\d+) +\S+ (?:<\.\.\. (\w+) resumed>|(\w+)\()", line)
    if not m: continue
    name = m.group(3)
    t = re.search(r"<(\d+\.\d+)>\s*$", line)
    if m.group(2):  # resumed: time only
        if t: tim[m.group(2)] += float(t.group(1))
        continue
    calls[name] += 1; total += 1
    if t and "unfinished" not in line: tim[name] += float(t.group(1))
print(f"{f}: {total/n:.1f} syscalls/message (all processes)")
for k in ["ftruncate", "fdatasync", "fsync", "renameat2", "rename", "openat", "write", "futex", "clone", "clone3", "connect", "poll", "ppoll", "sendto", "recvfrom", "read", "close"]:
    print(f"  {k:10s} {calls[k]/n:6.2f}/msg  {tim[k]*1000/n:7.3f} ms/msg")
