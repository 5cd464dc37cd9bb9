"""SMTP load generator: C concurrent clients send messages of a given size for a fixed time,
either one connection per message ("new") or many messages per connection ("reused"), and count
the messages that got 250 after the final dot. No pipelining (every command waits for its
reply), so each client measures the server's per-message latency including its fsyncs.

run() uses loadgen.c (the same semantics in C, built once with cc -O2 into bench/accept/.build/):
the asyncio client below spent about 1 ms of CPU per message on a new connection, as much as the
servers it measured on a 2-core machine, which pushed every ratio towards 1. Without a C compiler,
or with LOADGEN=python in the environment, run() falls back to the asyncio client with a note.
hold_idle() (open sessions kept idle) stays in Python."""
import asyncio
import hashlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "loadgen.c"


def make_message(size, seq=0):
    """A message of about `size` bytes (headers + body) in SMTP wire form, dot-stuffing free."""
    head = (f"From: bench <bench@client.test>\r\nTo: <rcpt@server.test>\r\n"
            f"Subject: bench {size}\r\nMessage-ID: <bench-{seq}-{size}@client.test>\r\n\r\n")
    line = ("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd"[:76]
            + "\r\n")
    body_len = max(0, size - len(head))
    body = (line * (body_len // len(line) + 1))[:body_len]
    if not body.endswith("\r\n"):
        body = body[:-2] + "\r\n" if len(body) >= 2 else "\r\n"
    return (head + body).encode()


class SMTPError(Exception):
    pass


class ServerClosing(SMTPError):
    """421 before a message was sent: the server ends the connection (Exim's and Postern's
    smtp_accept_max_per_connection, default 1000 messages). A real client reconnects at once;
    counting it as an error and pausing 50 ms would cost those servers alone (Postfix has no
    such limit) about 2.5% of a reused-connection cell at 500 messages/s."""


async def reply(reader, timeout=60):
    """One SMTP reply (possibly multi-line): returns (code, text)."""
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise SMTPError("connection closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


async def command(reader, writer, data, expect):
    writer.write(data)
    await writer.drain()
    code, text = await reply(reader)
    if code // 100 != expect:
        raise (ServerClosing if code == 421 and data.startswith(b"MAIL") else SMTPError)(f"{data[:20]!r} -> {text!r}")
    return code


async def open_session(host, port):
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    # Each command is one write; without TCP_NODELAY the client's own Nagle delay (waiting for
    # the server's delayed ACK) would be measured instead of the server.
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    code, text = await reply(reader)
    if code != 220:
        writer.close()
        raise SMTPError(f"banner {text!r}")
    await command(reader, writer, b"EHLO client.test\r\n", 2)
    return reader, writer


async def send_one(reader, writer, msg):
    await command(reader, writer, b"MAIL FROM:<bench@client.test>\r\n", 2)
    await command(reader, writer, b"RCPT TO:<rcpt@server.test>\r\n", 2)
    await command(reader, writer, b"DATA\r\n", 3)
    writer.write(msg + b".\r\n")   # message and final dot in one write, as MTAs' clients send them
    await writer.drain()
    code, text = await reply(reader)
    if code != 250:
        raise SMTPError(f"after data: {text!r}")


async def close_session(reader, writer):
    """QUIT without waiting for the 221 (the message is already acknowledged; Exim 4.96 holds its
    221 for up to 200 ms waiting for the client to close first, which would otherwise dominate
    the new-connection figures)."""
    try:
        writer.write(b"QUIT\r\n")
        await writer.drain()
    except OSError:
        pass
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def client(host, port, msg, reuse, deadline, stats):
    conn = None
    while time.monotonic() < deadline:
        try:
            if conn is None:
                conn = await open_session(host, port)
            await send_one(*conn, msg)
            stats["ok"] += 1
            if not reuse:
                await close_session(*conn)
                conn = None
        except ServerClosing:
            stats["reconnects"] = stats.get("reconnects", 0) + 1
            conn[1].close()
            conn = None
        except (SMTPError, OSError, asyncio.TimeoutError) as e:
            stats["errors"] += 1
            stats["last_error"] = str(e)
            if conn:
                conn[1].close()
            conn = None
            await asyncio.sleep(0.05)
    if conn:
        await close_session(*conn)


async def run_async(host, port, size, concurrency, reuse, seconds):
    msg = make_message(size)
    stats = {"ok": 0, "errors": 0, "last_error": ""}
    start = time.monotonic()
    deadline = start + seconds
    await asyncio.gather(*(client(host, port, msg, reuse, deadline, stats) for _ in range(concurrency)))
    stats["seconds"] = time.monotonic() - start
    stats["rate"] = stats["ok"] / stats["seconds"]
    return stats


def c_generator(cache=HERE / ".build"):
    """The path of the built C generator, building it if its source changed; None if it cannot
    be built. The binary's name holds a hash of the source, so an old build is never used."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None or not SOURCE.exists():
        return None
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    exe = pathlib.Path(cache) / f"loadgen-{digest}"
    if exe.exists():
        return exe
    key = exe
    if key in _built:
        return _built[key]
    try:
        pathlib.Path(cache).mkdir(parents=True, exist_ok=True)
    except OSError as e:   # a read-only checkout: build in the temporary directory instead
        print(f"loadgen: {cache}: {e}; building in {tempfile.gettempdir()}", file=sys.stderr)
        exe = pathlib.Path(tempfile.mkdtemp(prefix="loadgen-")) / exe.name
    tmp = exe.with_name(f"{exe.name}.{os.getpid()}.tmp")
    r = subprocess.run([cc, "-O2", "-std=gnu17", "-Wall", "-o", str(tmp), str(SOURCE)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"loadgen: building {SOURCE.name} failed:\n{r.stderr}", file=sys.stderr)
        tmp.unlink(missing_ok=True)
        _built[key] = None
        return None
    os.replace(tmp, exe)   # atomic: two benchmarks building at once both get a whole binary
    _built[key] = exe
    return exe


_built = {}   # path in the cache -> where it was built (or None: failed), built once per process


def run_c(exe, host, port, size, concurrency, reuse, seconds):
    """One run of the C generator; the same result dict as run_async()."""
    payload = make_message(size) + b".\r\n"
    r = subprocess.run([str(exe), host, str(port), str(concurrency), "reused" if reuse else "new",
                        repr(float(seconds))], input=payload, capture_output=True,
                       timeout=seconds + 300)
    if r.returncode != 0:
        raise RuntimeError(f"{exe.name} exited {r.returncode}: {r.stderr.decode(errors='replace')}")
    return json.loads(r.stdout)


_noted = False


def kind():
    """Which generator run() uses, for the results files."""
    if os.environ.get("LOADGEN") != "python" and c_generator() is not None:
        return "C, loadgen.c, epoll"
    return "asyncio, loadgen.py"


def run(host, port, size, concurrency, reuse, seconds):
    """ok, errors, last_error, seconds, rate of one run (C generator if it can be built)."""
    global _noted
    exe = None if os.environ.get("LOADGEN") == "python" else c_generator()
    if exe is not None:
        return run_c(exe, host, port, size, concurrency, reuse, seconds)
    if not _noted:
        print("loadgen: using the asyncio client (its own CPU per message is about as large as "
              "a server's; ratios between servers are compressed)", file=sys.stderr)
        _noted = True
    return asyncio.run(run_async(host, port, size, concurrency, reuse, seconds))


if __name__ == "__main__":
    # loadgen.py HOST PORT SIZE CONCURRENCY new|reused SECONDS: one run, its result as JSON.
    h, p, sz, conc, mode, secs = sys.argv[1:7]
    print(json.dumps(run(h, int(p), int(sz), int(conc), mode == "reused", float(secs))))


async def hold_idle(host, port, n):
    """Open n sessions (banner + EHLO) and keep them idle; returns the open (reader, writer)s."""
    return [await open_session(host, port) for _ in range(n)]
