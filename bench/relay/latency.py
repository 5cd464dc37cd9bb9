#!/usr/bin/env python3
"""Per-message latency of one Postern (or Exim) relaying on one reused SMTP connection, by hand:
bench/relay's configuration (run.py), a small asyncio sink in a process of its own, a client that waits
for every reply. Prints the medians of DATA -> 354, end of data -> 250, and 250 -> the message's
Subject line reaching the sink, over N messages after --warm ones (which fill the recycled-file
pool). --strace FILE attaches `strace -f -tt -T` to the daemon and all its descendants for the
measured messages. Run as root; compare two builds by alternating them.

--dir DIR puts the spool there (a tmpfs for the CPU signal without the disk's waits); --cpu runs
the daemon and all its processes in a cpuacct cgroup of their own and prints their CPU time per
message (warm and measured messages together) and its user/system split.

usage: latency.py BINARY N [--warm 30] [--size 2048 | --sizes 100000,2048] [--strace OUT] [--keep]
                  [--dir DIR] [--cpu] [--clients C] [--smtp-sink ROOT]"""
import argparse, multiprocessing, threading, os, socket, subprocess, tempfile, time, statistics, shutil, asyncio

CONF = """\
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

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def sink_process(port, ready, count, arrived, conns):
    """The sink runs in a process of its own: in the client's process it would wait for the
    interpreter lock whenever the client is busy, and its arrival times would be the client's."""
    async def handle(r, w):
        with conns.get_lock():
            conns.value += 1
        w.write(b"220 sink\r\n"); await w.drain()
        indata = False
        out = bytearray()
        async def reply(x):
            # As smtp-sink, Postfix and Exim do: the replies to pipelined commands go out
            # together, once no further command is waiting (one write per batch; a write per
            # reply would make the client's delayed ACKs and this end's Nagle wait on each other).
            out.extend(x)
            if b"\n" not in r._buffer:
                w.write(bytes(out)); out.clear(); await w.drain()
        while True:
            line = await r.readline()
            if not line: break
            if indata:
                if line.startswith(b"Subject: t"):
                    k = int(line[10:].strip())
                    if k < len(arrived):
                        arrived[k] = time.perf_counter()  # CLOCK_MONOTONIC: same clock in every process
                if line == b".\r\n":
                    indata = False
                    with count.get_lock():
                        count.value += 1
                    await reply(b"250 ok\r\n")
                continue
            c = line[:4].upper()
            if c == b"DATA": indata = True; await reply(b"354 go\r\n")
            elif c == b"QUIT": await reply(b"221 bye\r\n"); w.write(bytes(out)); await w.drain(); break
            elif c == b"EHLO": await reply(b"250-sink\r\n250 PIPELINING\r\n")
            else: await reply(b"250 ok\r\n")
        w.close()
    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", port)
        ready.set()
        async with srv: await srv.serve_forever()
    asyncio.run(main())

def cpu_now(cg):
    """(total, user, system) CPU milliseconds of the cgroup so far, and the context switches of its
    threads alive now (processes that ended, such as the transport children, are not counted)."""
    if not cg: return (0, 0, 0, 0)
    total = int(open(cg + "/cpuacct.usage").read()) / 1e6
    st = dict(l.split() for l in open(cg + "/cpuacct.stat").read().splitlines())
    hz = os.sysconf("SC_CLK_TCK")
    cs = 0
    for pid in open(cg + "/cgroup.procs").read().split():
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                for l in open(f"/proc/{pid}/task/{tid}/status"):
                    if "ctxt_switches:" in l:
                        cs += int(l.split()[-1])
        except OSError:
            pass
    return (total, int(st["user"]) * 1000 / hz, int(st["system"]) * 1000 / hz, cs)

def recv_reply(f):
    while True:
        l = f.readline()
        if not l: raise EOFError
        if l[3:4] != b"-": return l

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary"); ap.add_argument("n", type=int)
    ap.add_argument("--strace"); ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--warm", type=int, default=30); ap.add_argument("--keep", action="store_true")
    ap.add_argument("--sizes", help="cycle of sizes, e.g. 100000,2048")
    ap.add_argument("--dir", default="/var/tmp"); ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--smtp-sink", metavar="ROOT", help="Postfix's smtp-sink under ROOT (bench/accept/.postfix/root) as the sink")
    ap.add_argument("--clients", type=int, default=1, help="concurrent connections for the measured messages")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="spmeas", dir=a.dir)
    os.chmod(d, 0o755)
    spool = os.path.join(d, "spool"); os.mkdir(spool); os.chown(spool, 8, 8)
    sport, port = free_port(), free_port()
    ready = multiprocessing.Event()
    count = multiprocessing.Value("i", 0)
    arrived = multiprocessing.Array("d", a.warm + a.n)
    conns = multiprocessing.Value("i", 0)
    if a.smtp_sink:
        # Postfix's smtp-sink (C): no Python sink's limit; arrival times and connections unknown.
        sinkp = subprocess.Popen([a.smtp_sink + "/usr/sbin/smtp-sink", "-u", "mail", "-c", "-h", "sink.test",
                                  f"127.0.0.1:{sport}", "256"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 env=dict(os.environ, LD_LIBRARY_PATH=a.smtp_sink + "/usr/lib/postfix"))
        def read_counter():
            buf = b""
            while True:
                ch = sinkp.stdout.read1(4096)
                if not ch: return
                buf += ch
                parts = buf.split(b"\r"); buf = parts[-1]
                for part in parts[:-1]:
                    for fld in part.split():
                        if fld.startswith(b"mesg="): count.value = int(fld[5:])
        threading.Thread(target=read_counter, daemon=True).start()
        time.sleep(0.3)
    else:
        sink = multiprocessing.Process(target=sink_process, args=(sport, ready, count, arrived, conns), daemon=True)
        sink.start(); ready.wait()
    conf = os.path.join(d, "conf"); open(conf, "w").write(CONF.format(spool=spool, port=port, sink=sport))
    env = dict(os.environ, POSTERN_TEST_TRUST_CONFIG="1")
    cg = None
    if a.cpu:
        cg = "/sys/fs/cgroup/cpuacct/latency-%d" % os.getpid()
        os.mkdir(cg)
    def into_cgroup():
        if cg:
            with open(cg + "/cgroup.procs", "w") as f: f.write(str(os.getpid()))
    p = subprocess.Popen([a.binary, "-C", conf, "-bdf", "-oX", str(port)], env=env, preexec_fn=into_cgroup,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try: socket.create_connection(("127.0.0.1", port)).close(); break
        except OSError: time.sleep(0.05)
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else [a.size]
    def body(i):
        sz = sizes[i % len(sizes)]
        line = b"x" * 76 + b"\r\n"
        return b"Subject: t%d\r\n\r\n" % i + line * (sz // 78) + b".\r\n"
    def connect():
        s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
        recv_reply(f); s.sendall(b"EHLO c.test\r\n"); recv_reply(f)
        return s, f
    s, f = connect()
    acked = {}
    def one(i, conn=None):
        s, f = conn or (s0, f0)
        s.sendall(b"MAIL FROM:<a@c.test>\r\n"); recv_reply(f)
        s.sendall(b"RCPT TO:<b@d.test>\r\n"); recv_reply(f)
        t0 = time.perf_counter(); s.sendall(b"DATA\r\n"); r = recv_reply(f); t1 = time.perf_counter()
        assert r.startswith(b"354"), r
        s.sendall(body(i)); t2 = time.perf_counter(); r = recv_reply(f); t3 = time.perf_counter()
        assert r.startswith(b"250"), r
        acked[i] = t3
        return t1 - t0, t3 - t2
    s0, f0 = s, f
    for i in range(a.warm): one(i)
    # let deliveries finish so the pool fills
    for _ in range(200):
        if count.value >= a.warm: break
        time.sleep(0.05)
    time.sleep(0.3)
    st = None
    if a.strace:
        st = subprocess.Popen(["strace", "-f", "-tt", "-T", "-o", a.strace, "-p", str(p.pid)])
        time.sleep(1.0)
        # the session process: strace -p daemon does not catch an existing child; find children
        kids, todo = [], [str(p.pid)]
        while todo:
            x = todo.pop()
            k = subprocess.run(["pgrep", "-P", x], capture_output=True, text=True).stdout.split()
            kids += k; todo += k
        st.terminate(); st.wait()
        st = subprocess.Popen(["strace", "-f", "-tt", "-T", "-o", a.strace] + sum([["-p", k] for k in kids], []) + ["-p", str(p.pid)])
        time.sleep(1.0)
    d354, d250 = [], []
    conns0 = conns.value
    cpu0 = cpu_now(cg)
    tstart = time.perf_counter()
    if a.clients <= 1:
        for i in range(a.n):
            x, y = one(a.warm + i); d354.append(x); d250.append(y)
    else:
        # Concurrent clients, each on its own connection (the first is the warm one).
        conns_ = [(s, f)] + [connect() for _ in range(a.clients - 1)]
        def client(c):
            for i in range(c, a.n, a.clients):
                x, y = one(a.warm + i, conns_[c]); d354.append(x); d250.append(y)
        th = [threading.Thread(target=client, args=(c,)) for c in range(a.clients)]
        for t in th: t.start()
        for t in th: t.join()
        for c in conns_[1:]:
            c[0].sendall(b"QUIT\r\n"); recv_reply(c[1]); c[0].close()
    if st: time.sleep(0.5); st.terminate(); st.wait()
    for _ in range(2000):
        if count.value >= a.warm + a.n: break
        time.sleep(0.005)
    t_all = time.perf_counter()
    cpu1 = cpu_now(cg)  # before QUIT: the session process is still there
    s.sendall(b"QUIT\r\n"); recv_reply(f); s.close()
    med = lambda v: statistics.median(v) * 1000
    e2e = [arrived[i] - acked[i] for i in range(a.warm, a.warm + a.n) if arrived[i] and i in acked]
    last = max((arrived[i] for i in range(a.warm, a.warm + a.n) if arrived[i]), default=t_all)
    span = max(acked.values()) - tstart
    print(f"{a.binary}: n={a.n} DATA->354 median {med(d354):.3f} ms  dot->250 median {med(d250):.3f} ms  "
          f"p90 {sorted(d250)[int(len(d250)*.9)]*1000:.3f}  250->sink median {med(e2e) if e2e else float('nan'):.3f} ms  sink got {count.value}/{a.warm+a.n}")
    pool = os.path.join(spool, "input", ".postern-free")
    print(f"  accepted {a.n} in {span:.3f} s ({a.n / span:.0f}/s); all at the sink after {last - tstart:.3f} s "
          f"({a.n / (last - tstart):.0f}/s end to end)")
    print(f"  sink connections for the measured messages: {conns.value - conns0} ({(conns.value - conns0) / a.n:.2f}/message)")
    print("pool files:", len(os.listdir(pool)) if os.path.isdir(pool) else "none")
    if cg:
        ms = lambda i: (cpu1[i] - cpu0[i]) / a.n
        print(f"  CPU of the daemon and all its processes, measured messages: {ms(0):.3f} ms/message "
              f"(user {ms(1):.3f}, system {ms(2):.3f}; the user/system split in clock ticks); "
              f"context switches of the lasting processes {(cpu1[3] - cpu0[3]) / a.n:.1f}/message")
    p.terminate(); p.wait()
    if a.smtp_sink: sinkp.terminate(); sinkp.wait()
    if cg:
        time.sleep(0.2)
        try: os.rmdir(cg)
        except OSError: pass
    if not a.keep: shutil.rmtree(d, ignore_errors=True)
    else: print("kept", d)
main()
