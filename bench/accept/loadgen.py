"""SMTP load generator: C concurrent clients send messages of a given size for a fixed time,
either one connection per message ("new") or many messages per connection ("reused"), and count
the messages that got 250 after the final dot. asyncio, no pipelining (every command waits for
its reply), so each client measures the server's per-message latency including its fsyncs."""
import asyncio
import socket
import time


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


def run(host, port, size, concurrency, reuse, seconds):
    return asyncio.run(run_async(host, port, size, concurrency, reuse, seconds))


async def hold_idle(host, port, n):
    """Open n sessions (banner + EHLO) and keep them idle; returns the open (reader, writer)s."""
    return [await open_session(host, port) for _ in range(n)]
