#!/usr/bin/env python3
"""TLS handshake benchmark: SMTP sessions per second of EHLO, STARTTLS, EHLO, QUIT against
Postern and Exim 4.96 side by side, each with a full handshake every time ("full") and resuming a
session from a ticket ("resumed"), for TLS 1.2 and TLS 1.3, at 1 and 4 concurrent clients. Both
servers offer tickets to every client (tls_resumption_hosts = *), use the same RSA-2048
certificate (made at run time) and only answer; no mail is sent. Writes RESULTS.md beside this file.

The client is Python's ssl module (OpenSSL) in threads: handshakes run in C without the GIL. A
"resumed" client makes one full session first and then offers its ticket on every connection
(the servers accept a ticket more than once); a run whose sessions do not all resume is reported
as such instead of counted.

Run as root (the servers bind as root and drop to the mail user):
    bench/tls/run.py --postern build/postern [--seconds 4] [--rounds 3]
"""
import argparse
import datetime
import os
import pathlib
import platform
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "accept"))

from servers import wait_port  # noqa: E402


def make_cert(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "2", "-subj", "/CN=bench.test",
                    "-addext", "subjectAltName=DNS:bench.test"], check=True, capture_output=True)
    for f in ("key.pem", "cert.pem"):
        os.chmod(d / f, 0o644)   # read by the servers' mail-user processes; a throw-away key


class Server:
    def __init__(self, work, name, port):
        self.dir = work / name
        self.dir.mkdir()
        os.chmod(self.dir, 0o755)
        self.name, self.port, self.proc = name, port, None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def common(self, work):
        return (f"exim_user = mail\nexim_group = mail\n"
                f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {self.port}\n"
                "smtp_accept_max = 0\nsmtp_connect_backlog = 128\nhost_lookup =\n"
                f"tls_advertise_hosts = *\ntls_certificate = {work}/cert.pem\ntls_privatekey = {work}/key.pem\n"
                "tls_resumption_hosts = *\nacl_smtp_rcpt = accept\nqueue_only = true\n")


class Postern(Server):
    def start(self, work, binary):
        conf = self.dir / "postern.conf"
        conf.write_text(f"spool_directory = {self.dir}/spool\n" + self.common(work) + "begin routers\nbegin transports\n")
        self.proc = subprocess.Popen([binary, "-C", str(conf), "-bdf"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        return wait_port(self.port)


class Exim(Server):
    def start(self, work):
        spool = self.dir / "spool"
        spool.mkdir()
        os.chown(spool, 8, 8)
        conf = self.dir / "exim.conf"
        conf.write_text(f"spool_directory = {spool}\nlog_file_path = {spool}/log/%slog\n" + self.common(work)
                        + "rfc1413_hosts =\nkeep_environment =\nbegin routers\nbegin transports\n")
        self.proc = subprocess.Popen(["exim", "-C", str(conf), "-bdf", "-oX", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return wait_port(self.port)


def reply(f):
    """One SMTP reply (all lines); its code."""
    while True:
        line = f.readline(1024)
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return int(line[:3])


def smtp_session(port, ctx, session=None):
    """EHLO, STARTTLS, EHLO, QUIT. Returns (the TLS session, whether it was resumed)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        f = raw.makefile("rb")
        assert reply(f) == 220
        raw.sendall(b"EHLO bench.client\r\n")
        assert reply(f) == 250
        raw.sendall(b"STARTTLS\r\n")
        assert reply(f) == 220
        f.close()
        tls = ctx.wrap_socket(raw, server_hostname="bench.test", session=session)
        g = tls.makefile("rb")
        tls.sendall(b"EHLO bench.client\r\n")
        assert reply(g) == 250
        tls.sendall(b"QUIT\r\n")
        assert reply(g) == 221
        g.close()
        out = (tls.session, tls.session_reused)
        tls.close()
        return out
    finally:
        raw.close()


def client_ctx(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


def measure(port, version, resumed, conc, seconds):
    """Sessions per second over `seconds` with conc threads; None if a resumed run did not resume."""
    counts, failures, not_resumed = [0] * conc, [0], [0]
    stop = time.monotonic() + seconds

    def worker(i):
        ctx = client_ctx(version)
        sess = smtp_session(port, ctx)[0] if resumed else None
        while time.monotonic() < stop:
            try:
                _, reused = smtp_session(port, ctx, sess)
            except (OSError, AssertionError, ConnectionError):
                failures[0] += 1
                continue
            if resumed and not reused:
                not_resumed[0] += 1
            counts[i] += 1
    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return sum(counts) / elapsed, failures[0], not_resumed[0]


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    return f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}, OpenSSL {ssl.OPENSSL_VERSION}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default=str(HERE.parents[1] / "build" / "postern"))
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3, help="repetitions per cell (median kept)")
    ap.add_argument("--concurrency", default="1,4")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    concs = [int(x) for x in args.concurrency.split(",")]
    work = pathlib.Path(tempfile.mkdtemp(prefix="postern-tlsbench-"))
    os.chmod(work, 0o755)
    make_cert(work)
    port0 = 27000 + os.getpid() % 1000 * 2
    srvs = {"postern": Postern(work, "postern", port0), "exim": Exim(work, "exim", port0 + 1)}
    started = datetime.datetime.now(datetime.timezone.utc)
    load0 = os.getloadavg()[0]
    rows = []
    try:
        ok = srvs["postern"].start(work, args.postern) and srvs["exim"].start(work)
        if not ok:
            sys.exit("a server did not start")
        versions = {"postern": subprocess.run([args.postern, "-bV"], capture_output=True, text=True).stdout.splitlines()[0],
                    "exim": subprocess.run(["exim", "-bV"], capture_output=True, text=True).stdout.splitlines()[0]}
        for s in srvs.values():   # warm-up
            measure(s.port, ssl.TLSVersion.TLSv1_3, False, 1, 0.5)
        for vname, version in (("TLS1.2", ssl.TLSVersion.TLSv1_2), ("TLS1.3", ssl.TLSVersion.TLSv1_3)):
            for conc in concs:
                for mode in ("full", "resumed"):
                    cell = {}
                    for name, s in srvs.items():
                        runs, notes = [], []
                        for _ in range(args.rounds):
                            rate, fails, nores = measure(s.port, version, mode == "resumed", conc, args.seconds)
                            runs.append(rate)
                            if fails or nores:
                                notes.append(f"{fails} failed, {nores} not resumed")
                        cell[name] = (statistics.median(runs), notes)
                    rows.append((vname, conc, mode, cell))
                    print(f"{vname} c={conc} {mode:7}: postern {cell['postern'][0]:7.1f}/s  exim {cell['exim'][0]:7.1f}/s"
                          f"  {' '.join(cell['postern'][1] + cell['exim'][1])}", flush=True)
    finally:
        for s in srvs.values():
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    write_results(args, rows, versions, started, load0)


def write_results(args, rows, versions, started, load0):
    out = ["# bench/tls results", "",
           f"Run {started:%Y-%m-%d %H:%M} UTC by `bench/tls/run.py --seconds {args.seconds:g} --rounds {args.rounds}`;"
           f" load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at the end.", "",
           f"Machine: {machine()}.", "", f"Servers: {versions['postern']}; {versions['exim']} (GnuTLS).", "",
           "SMTP sessions per second (EHLO, STARTTLS, EHLO, QUIT; RSA-2048 certificate; median of the rounds).", "",
           "| TLS | clients | handshake | Postern /s | Exim /s | Postern/Exim | resumed/full (Postern) | resumed/full (Exim) |",
           "|---|---|---|---|---|---|---|---|"]
    full = {(v, c): cell for v, c, m, cell in rows if m == "full"}
    for v, c, m, cell in rows:
        p, e = cell["postern"][0], cell["exim"][0]
        ratio = f"{p / e:.2f}" if e else "-"
        if m == "resumed":
            f = full[(v, c)]
            rp = f"{p / f['postern'][0]:.2f}" if f["postern"][0] else "-"
            re_ = f"{e / f['exim'][0]:.2f}" if f["exim"][0] else "-"
        else:
            rp = re_ = ""
        notes = "; ".join(cell["postern"][1] + cell["exim"][1])
        out.append(f"| {v} | {c} | {m} | {p:.1f} | {e:.1f} | {ratio} | {rp} | {re_} |" + (f" {notes}" if notes else ""))
    out.append("")
    pathlib.Path(args.out).write_text("\n".join(out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
