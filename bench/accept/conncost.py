#!/usr/bin/env python3
"""The cost of a new connection to a Postern daemon run with bench/accept's configuration
(servers.py): one blocking client makes N connections one after the other (GAP seconds apart,
default 0.01) and prints the median and 90th percentile of connect-to-banner, the median of
QUIT-to-close (the session's exit path), and the CPU per connection of the daemon and every
process it forks, from a cgroup v1 cpuacct group made for the run (root; the daemon's own share
from /proc/<pid>/stat, 10 ms ticks).

    sudo bench/accept/conncost.py BINARY PORT N [quit|msg]

quit: connect, banner, QUIT; msg: one 2 KB message per connection. Environment: GAP; CONF, lines
added to the configuration (e.g. "smtp_accept_process_reuse = 1" for a process per connection); WRAP, a
command to run the daemon under (e.g. "strace -f -c -o FILE"); PERF=FILE records
`perf record -p` of the daemon tree after the warm-up (CG=dwarf for DWARF call graphs).
Compare two builds by alternating them, several runs each: single runs move by 10-20% on the
shared 2-CPU machine."""
import os, sys, socket, time, statistics, subprocess, shutil, pathlib, signal
binary, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "quit"
gap = float(os.environ.get("GAP", "0.01"))
d = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"conncost-{port}"
shutil.rmtree(d, ignore_errors=True); d.mkdir(parents=True)
spool = d / "spool"
conf = d / "postern.conf"
conf.write_text(f"spool_directory = {spool}\nexim_user = mail\nexim_group = mail\n"
    "local_interfaces = 127.0.0.1\n" f"daemon_smtp_ports = {port}\n"
    "smtp_accept_max = 0\nsmtp_connect_backlog = 128\nhost_lookup =\n"
    "acl_smtp_rcpt = accept\nqueue_only = true\n" + os.environ.get("CONF", "").replace("\\n", "\n") + "\n"
    "begin routers\nbegin transports\n")
cg = pathlib.Path(f"/sys/fs/cgroup/cpuacct/conncost{port}")
cg.mkdir(exist_ok=True)
def inner():
    (cg / "cgroup.procs").write_text(str(os.getpid()))
extra = os.environ.get("WRAP", "").split()
p = subprocess.Popen(extra + [binary, "-C", str(conf), "-bdf"], preexec_fn=inner,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def dcpu():
    f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 10.0  # ms
def rr(s):
    buf = b""
    while True:
        x = s.recv(4096)
        if not x: return buf
        buf += x
        ls = buf.split(b"\r\n")
        if len(ls) >= 2 and ls[-2][3:4] == b" ": return buf
for _ in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", port)); rr(s); s.sendall(b"QUIT\r\n"); rr(s); s.close(); break
    except OSError: time.sleep(0.05)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen
msg = loadgen.make_message(2048)
time.sleep(1.0)
ban, quit_, tot = [], [], []
pf = None
if os.environ.get("PERF"):
    pf = subprocess.Popen(["perf", "record", "-q", "-o", os.environ["PERF"], "-F", "4000", "--call-graph", os.environ.get("CG", "fp"), "-p", str(p.pid)])
    time.sleep(1)
u0 = int((cg / "cpuacct.usage").read_text()); d0 = dcpu()
t0 = time.monotonic()
for i in range(n):
    t = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    b = rr(s); t1 = time.monotonic()
    assert b.startswith(b"220"), b
    if mode == "msg":
        for c in (b"EHLO c.test\r\n", b"MAIL FROM:<a@c.test>\r\n", b"RCPT TO:<b@s.test>\r\n", b"DATA\r\n", msg + b".\r\n"):
            s.sendall(c); r = rr(s); assert r[:1] in b"23", r
    tq = time.monotonic()
    s.sendall(b"QUIT\r\n"); rr(s)
    x = s.recv(10)  # wait for the server's close
    t2 = time.monotonic()
    s.close()
    ban.append(t1 - t); quit_.append(t2 - tq); tot.append(t2 - t)
    if gap: time.sleep(gap)
el = time.monotonic() - t0
time.sleep(0.5)
u1 = int((cg / "cpuacct.usage").read_text()); d1 = dcpu()
if pf: pf.send_signal(signal.SIGINT); pf.wait()
if extra:
    subprocess.run(["pkill", "-TERM", "-P", str(p.pid)])
else:
    p.send_signal(signal.SIGTERM)
p.wait(timeout=30)
def q(v, f): v = sorted(v); return v[int(len(v) * f)] * 1e3
print(f"{os.path.basename(binary)} {os.environ.get('CONF', '')} {mode} n={n}: banner med {q(ban,.5):.3f} p90 {q(ban,.9):.3f} ms; "
      f"quit->close med {q(quit_,.5):.3f} ms; total med {q(tot,.5):.3f} ms; "
      f"cpu/conn {(u1-u0)/n/1e6:.3f} ms of which daemon {(d1-d0)/n:.3f} ms")
try: cg.rmdir()
except OSError: pass
shutil.rmtree(d, ignore_errors=True)
