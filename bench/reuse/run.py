#!/usr/bin/env python3
"""bench/reuse: a queue run delivering N queued messages for one host, with connection reuse
(connection_max_messages = 500, the default) and without (= 1), for Postern and Exim 4.96 in one
run. The run is -qq: its first phase lists every message in wait-<transport>, so with reuse the
second phase carries them over one connection per chain (-MC); without, each message opens its
own connection. The sink is Postfix's smtp-sink (bench/relay's). rate = N / wall time of -qq
(the run waits for the whole -MC chain, as Exim's does)."""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "accept"))
sys.path.insert(0, str(HERE.parent / "relay"))

import run as relay  # noqa: E402

CONF = """\
spool_directory = {spool}
exim_user = mail
exim_group = mail
log_file_path = {spool}/log/%slog
primary_hostname = relay.test
host_lookup =
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
  connection_max_messages = {cmm}
begin retry
* * F,1h,15m
"""


def one(binary, work, sink, n, cmm, body):
    d = pathlib.Path(tempfile.mkdtemp(dir=work))
    os.chmod(d, 0o755)
    spool = d / "spool"
    spool.mkdir()
    shutil.chown(spool, "mail", "mail")
    conf = d / "conf"
    conf.write_text(CONF.format(spool=spool, sink=sink.port, cmm=cmm))
    for i in range(n):
        subprocess.run([binary, "-C", str(conf), "-odq", "-f", "s@x.test", f"u{i}@a.test"],
                       input=body.encode(), check=True, capture_output=True)
    before = sink.count
    t0 = time.monotonic()
    subprocess.run([binary, "-C", str(conf), "-qq"], check=True, capture_output=True)
    dt = time.monotonic() - t0
    left = sum(1 for _ in spool.rglob("*-H"))
    end = time.monotonic() + 10
    while sink.count - before < n - left and time.monotonic() < end:
        time.sleep(0.05)
    log = (spool / "log" / "mainlog").read_text()
    shutil.rmtree(d, ignore_errors=True)
    return n / dt, left, log.count("]* "), sink.count - before


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default=str(HERE.parents[1] / "build" / "postern"))
    ap.add_argument("--exim", default=shutil.which("exim") or "/usr/sbin/exim4")
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--size", type=int, default=2048)
    a = ap.parse_args()
    body = "Subject: bench\n\n" + ("x" * 75 + "\n") * max(1, a.size // 76)
    port = 24000 + os.getpid() % 1000
    sink = relay.Sink(port)
    time.sleep(0.5)
    work = tempfile.mkdtemp(prefix="bench-reuse-")
    os.chmod(work, 0o755)
    load = os.getloadavg()[0]
    res = {}
    try:
        for r in range(a.rounds):
            for name, binary in (("postern", a.postern), ("exim", a.exim)):
                for cmm in (500, 1):
                    rate, left, starred, got = one(binary, work, sink, a.messages, cmm, body)
                    res.setdefault((name, cmm), []).append(rate)
                    print(f"round {r} {name:8} connection_max_messages={cmm:<4} {rate:7.1f} msg/s "
                          f"left={left} continued={starred} sink+={got}", flush=True)
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load at start {load:.1f}, {a.messages} messages of {a.size} bytes, best of {a.rounds}:")
    for name in ("postern", "exim"):
        on, off = max(res[(name, 500)]), max(res[(name, 1)])
        print(f"  {name:8} reuse {on:7.1f} msg/s, one connection per message {off:7.1f} msg/s, ratio {on / off:.2f}")
    print(f"  postern/exim with reuse: {max(res[('postern', 500)]) / max(res[('exim', 500)]):.2f}")


if __name__ == "__main__":
    main()
