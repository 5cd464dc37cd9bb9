"""The benchmarks' load generator (bench/accept/loadgen.c, and the asyncio one in loadgen.py)
counts right: against a sink of our own that answers 451 to every second message after its final
dot, the generator's ok and errors are exactly the 250s and 451s the sink sent, in both
connection modes. Counts do not depend on timing, only on what was said."""
import pathlib
import socket
import socketserver
import sys
import threading

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "accept"))
import loadgen  # noqa: E402


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SinkSession)
        self.lock = threading.Lock()
        self.messages = 0
        self.accepted = 0
        self.deferred = 0
        self.connections = 0
        self.bad_payload = 0
        self.per_conn_limit = None   # messages a connection may send; then 421 to MAIL
        self.closed_421 = 0
        self.defer_even = True       # 451 to every second message


class SinkSession(socketserver.StreamRequestHandler):
    def handle(self):
        sink = self.server
        sent = 0
        with sink.lock:
            sink.connections += 1
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Multi-line banner and EHLO reply: the generator must wait for the last line.
        self.wfile.write(b"220-sink.test\r\n220 ready\r\n")
        while True:
            line = self.rfile.readline(1000)
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-sink.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL" and sink.per_conn_limit is not None and sent >= sink.per_conn_limit:
                with sink.lock:
                    sink.closed_421 += 1
                self.wfile.write(b"421 too many messages in this connection\r\n")
                return
            elif verb in (b"MAIL", b"RCPT"):
                self.wfile.write(b"250 OK\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                body = b""
                while not body.endswith(b"\r\n.\r\n"):
                    chunk = self.rfile.readline(100000)
                    if not chunk:
                        return
                    body += chunk
                sent += 1
                with sink.lock:
                    sink.messages += 1
                    if body[:-3] != self.server.expected:
                        sink.bad_payload += 1
                    # Counted before the reply is sent: the generator exits only after it has
                    # read every reply, so the counts are final when it returns.
                    if sink.defer_even and sink.messages % 2 == 0:
                        sink.deferred += 1
                        reply = b"451 try again later\r\n"
                    else:
                        sink.accepted += 1
                        reply = b"250 OK id=1\r\n"
                self.wfile.write(reply)
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"500 what\r\n")


@pytest.fixture
def sink():
    s = Sink()
    s.expected = loadgen.make_message(3000)
    t = threading.Thread(target=s.serve_forever, daemon=True)
    t.start()
    yield s
    s.shutdown()
    s.server_close()


@pytest.fixture(scope="module")
def c_exe(tmp_path_factory):
    exe = loadgen.c_generator(cache=tmp_path_factory.mktemp("loadgen"))
    assert exe is not None, "bench/accept/loadgen.c did not build"
    return exe


def check_counts(sink, st, reuse):
    assert st["ok"] > 0 and st["errors"] > 0, st
    assert st["ok"] == sink.accepted, (st, sink.accepted)
    assert st["errors"] == sink.deferred, (st, sink.deferred)
    assert sink.bad_payload == 0
    assert "451 try again later" in st["last_error"]
    assert st["rate"] == pytest.approx(st["ok"] / st["seconds"], rel=1e-3)
    if not reuse:
        # One connection per message, whatever its outcome.
        assert sink.connections == sink.messages


@pytest.mark.parametrize("reuse", [False, True], ids=["new", "reused"])
def test_c_generator_counts_match_sink(sink, c_exe, reuse):
    st = loadgen.run_c(c_exe, "127.0.0.1", sink.server_address[1], 3000, 4, reuse, 0.4)
    check_counts(sink, st, reuse)


def test_asyncio_generator_counts_match_sink(sink):
    import asyncio
    st = asyncio.run(loadgen.run_async("127.0.0.1", sink.server_address[1], 3000, 4, False, 0.4))
    check_counts(sink, st, False)


def test_c_generator_counts_refused_connections(c_exe):
    """Nothing listening: every attempt is an error, retried after 50 ms, none is ok."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    st = loadgen.run_c(c_exe, "127.0.0.1", port, 1000, 2, False, 0.3)
    assert st["ok"] == 0
    assert 2 <= st["errors"] <= 2 * (0.3 / 0.05 + 1), st
    assert "refused" in st["last_error"].lower(), st


def test_c_generator_times_out_a_silent_server(c_exe, monkeypatch):
    """A listener that never accepts: the kernel completes the connections, no banner comes;
    each attempt ends with the reply timeout (0.2 s here instead of 60) and counts an error."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    monkeypatch.setenv("LOADGEN_REPLY_TIMEOUT", "0.2")
    try:
        st = loadgen.run_c(c_exe, "127.0.0.1", s.getsockname()[1], 1000, 2, True, 0.3)
    finally:
        s.close()
    assert st["ok"] == 0
    assert st["errors"] >= 2, st
    assert st["last_error"] == "timeout", st
    assert st["seconds"] >= 0.2, st


@pytest.mark.parametrize("gen", ["c", "asyncio"])
def test_a_421_to_mail_reconnects_without_an_error(sink, c_exe, gen):
    """The server's limit of messages per connection (Exim's and Postern's
    smtp_accept_max_per_connection): its 421 to MAIL is no error; the client reconnects at once."""
    import asyncio
    sink.per_conn_limit = 3
    sink.defer_even = False
    port = sink.server_address[1]
    if gen == "c":
        st = loadgen.run_c(c_exe, "127.0.0.1", port, 3000, 2, True, 0.4)
    else:
        st = asyncio.run(loadgen.run_async("127.0.0.1", port, 3000, 2, True, 0.4))
    assert sink.closed_421 >= 2, (st, sink.closed_421)
    assert st["errors"] == 0, st
    assert st["ok"] == sink.accepted and sink.deferred == 0, (st, sink.accepted)
    # Each connection sent its 3 messages (the last one or two may end with the run).
    assert sink.connections >= sink.closed_421 and st["ok"] >= 3 * sink.closed_421, (st, sink.connections)
