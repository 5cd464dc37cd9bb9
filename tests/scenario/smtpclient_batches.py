"""A scripted SMTP server that records what a client sends in batches (the bytes that arrive
before the client waits for a reply), and whole -odi deliveries by Exim 4.96 or Postern to it,
for comparing the two clients' pipelining (PIPECONNECT, BDAT, AUTH, continued connections).

A batch ends when the client has sent nothing for `idle` seconds; the server answers a batch's
complete commands only then, so a client that waits for a reply always starts a new batch, and
one that does not (pipelining) puts its commands in the same one."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from smtp_transport_helpers import postern_bin

DEFAULT_REPLIES = {"EHLO": "250-fake\r\n250-PIPELINING\r\n250 CHUNKING\r\n", "HELO": "250 fake\r\n",
                   "MAIL": "250 ok\r\n", "RCPT": "250 ok\r\n", "RSET": "250 reset\r\n",
                   "DATA": "354 go\r\n", "QUIT": "221 bye\r\n", "NOOP": "250 noop\r\n"}


class Conn:
    """What one connection gets: the banner, replies by command word (or by the start of the
    command line: the longest matching key wins), the reply after the data (DATA's dot or BDAT
    LAST) and whether to wait for early input before the banner."""

    def __init__(self, banner="220 fake ESMTP\r\n", replies=None, eod="250 OK id=1\r\n", early=False,
                 bdat_no_rcpt="503 5.5.1 valid RCPT command must precede BDAT\r\n",
                 other="500 unrecognized\r\n", chunk="250 chunk\r\n"):
        self.other, self.chunk = other, chunk
        self.banner, self.eod, self.early, self.bdat_no_rcpt = banner, eod, early, bdat_no_rcpt
        self.replies = dict(DEFAULT_REPLIES)
        self.replies.update(replies or {})

    def reply(self, line):
        best = None
        for key in self.replies:
            if line.upper().startswith(key.upper()) and (best is None or len(key) > len(best)):
                best = key
        return self.replies[best] if best else self.other


def add_bytes(batch, n):
    """Message content in a batch: "<N bytes>", one item for content that arrived in pieces."""
    m = re.match(r"<(\d+) bytes>$", batch[-1]) if batch else None
    if m:
        batch[-1] = f"<{int(m.group(1)) + n} bytes>"
    else:
        batch.append(f"<{n} bytes>")


class BatchServer:
    """Serves len(conns) connections one after the other (conns may also be a function of the
    connection's number returning its Conn: then connections are served until wait()).
    batches[n]: the batches of connection n, each a list of items: a command line, or "<N
    bytes>" for message content (the content itself is in bodies[n]). With Conn.early, batch 0
    is what came before the banner."""

    def __init__(self, conns, idle=0.6):
        self.conns, self.idle = conns, idle
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.batches, self.bodies = [], []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(60)
        n = 0
        while callable(self.conns) or n < len(self.conns):
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            spec = self.conns(n) if callable(self.conns) else self.conns[n]
            n += 1
            with conn:
                self._one(conn, spec)

    def _batch(self, conn, wait_first):
        """Bytes up to `idle` seconds of silence; waits up to wait_first for the first byte."""
        conn.settimeout(wait_first)
        try:
            data = conn.recv(65536)
        except socket.timeout:
            return b""
        if not data:
            return None
        conn.settimeout(self.idle)
        while True:
            try:
                more = conn.recv(65536)
            except socket.timeout:
                return data
            except OSError:
                return data
            if not more:
                return data
            data += more

    def _one(self, conn, spec):
        batches, body = [], [b""]
        self.batches.append(batches)
        self.bodies.append(body)
        pending = b""
        spec.state = {"in_data": False, "bdat": 0, "bdat_last": False, "rcpts": 0}
        if spec.early:
            first = self._batch(conn, 1.0)
            batches.append([])
            pending = first or b""
            replies = self._parse(spec, pending, batches[-1], body)
            pending = replies[1]
            out = spec.banner + replies[0]
        else:
            out = spec.banner
        while True:
            if out:
                try:
                    conn.sendall(out.encode())
                except OSError:
                    return
                if "\x00close" in out:
                    return
            if getattr(spec, "quit_seen", False):
                return
            if getattr(spec, "tls_now", False):
                # STARTTLS answered 220: the rest of the connection is TLS ("<TLS>" marks it)
                spec.tls_now = False
                try:
                    conn = spec.tls_context.wrap_socket(conn, server_side=True)
                except OSError:
                    return
                batches.append(["<TLS>"])
                pending = b""
            data = self._batch(conn, 20)
            if not data:
                return
            batches.append([])
            st = spec.state
            was_in_data = st["in_data"]   # content after a 354 sent earlier
            out, pending = self._parse(spec, pending + data, batches[-1], body)
            # A client never waits in the middle of a line, of BDAT bytes or of DATA content:
            # a pause there (a loaded machine) does not end the batch.
            while pending or st["bdat"] or (was_in_data and st["in_data"]):
                more = self._batch(conn, 20)
                if not more:
                    return
                more_out, pending = self._parse(spec, pending + more, batches[-1], body)
                out += more_out

    def _parse(self, spec, data, batch, body):
        """Consume complete commands (and content) of data; returns (replies, rest)."""
        st = spec.state
        out = ""
        while data:
            if st["bdat"]:
                k = min(st["bdat"], len(data))
                body[0] += data[:k]
                add_bytes(batch, k)
                data = data[k:]
                st["bdat"] -= k
                if st["bdat"] == 0:
                    if st["bdat_last"]:
                        out += spec.eod if st["rcpts"] else spec.bdat_no_rcpt
                        st["rcpts"] = 0
                    else:
                        out += spec.chunk if st["rcpts"] else spec.bdat_no_rcpt
                continue
            if st["in_data"]:
                end = -2 if data.startswith(b".\r\n") else data.find(b"\r\n.\r\n")
                if end == -1 and data.endswith(b"\r\n"):
                    # content so far (the dot may come in the next batch)
                    body[0] += data
                    add_bytes(batch, len(data))
                    return out, b""
                if end == -1:
                    return out, data
                part = data[:end + 2] if end >= 0 else b""
                body[0] += part
                if part:
                    add_bytes(batch, len(part))
                batch.append(".")
                data = data[end + 5:] if end >= 0 else data[3:]
                st["in_data"] = False
                out += spec.eod
                st["rcpts"] = 0
                continue
            nl = data.find(b"\n")
            if nl < 0:
                return out, data
            line = data[:nl].decode("utf-8", "replace").rstrip("\r")
            data = data[nl + 1:]
            batch.append(line)
            m = re.match(r"BDAT (\d+)( LAST)?", line, re.I)
            if m:
                st["bdat"], st["bdat_last"] = int(m.group(1)), bool(m.group(2))
                if st["bdat"] == 0:
                    out += spec.eod if st["rcpts"] else spec.bdat_no_rcpt
                continue
            r = spec.reply(line)
            word = line[:4].upper()
            if word == "RCPT" and r.startswith("2"):
                st["rcpts"] += 1
            if word in ("RSET", "MAIL", "EHLO", "HELO"):
                st["rcpts"] = 0
            if word == "DATA" and r.startswith("354"):
                if st["rcpts"]:
                    st["in_data"] = True
                else:
                    r = "554 5.5.1 no valid recipients\r\n"
            if word == "QUIT":
                spec.quit_seen = True
            if line.upper() == "STARTTLS" and r.startswith("220") and getattr(spec, "tls_context", None):
                spec.tls_now = True
            out += r
        return out, b""

    def wait(self):
        if callable(self.conns):
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(60)
        self.sock.close()


CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
{users}
never_users =
trusted_users = root
keep_environment =
{main}
begin routers
bounces:
  driver = redirect
  domains = s.test
  data = :blackhole:
r:
  driver = manualroute
  route_list = * 127.0.0.1::{port}
  self = send
  transport = t
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
  command_timeout = 3s
  final_timeout = 3s
{tpuser}
{extra}
begin retry
* * F,1h,1h
{auths}
"""


def dumpdb(who, d, name):
    tool = "exim_dumpdb"
    if who == "postern":
        tool = str(d / "exim_dumpdb")
        if not os.path.exists(tool):
            os.symlink(postern_bin(), tool)
    out = subprocess.run([tool, str(d / "spool"), name], capture_output=True, text=True, timeout=30).stdout
    if "Failed to open" in out:
        return []
    return [re.sub(r"^\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d ", "TIME ", l) for l in out.splitlines() if l.strip()]


def deliver(who, port, rcpts, messages=(b"Subject: t\n\nbody\n",), extra="", main="", auths="",
            sender="sender@s.test"):
    """Each message in turn, -odi, by Exim or Postern to 127.0.0.1:port; returns the log lines
    (without times; message ids replaced by their order: M1, M2) and the misc database
    after the last."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-batch-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        if who == "exim":
            for p in ["spool", "spool/db", "log"]:
                shutil.chown(d / p, "Debian-exim")
            users, tpuser, cmd = "exim_user = Debian-exim\nexim_group = Debian-exim", "  user = Debian-exim", "exim"
        else:
            users, tpuser, cmd = "exim_user = root\nexim_group = root", "", postern_bin()
        conf = d / "c.conf"
        conf.write_text(CONF.format(d=d, users=users, tpuser=tpuser, port=port, extra=extra, main=main,
                                    auths="begin authenticators\n" + auths if auths else ""))
        for msg in messages:
            subprocess.run([cmd, "-C", str(conf), "-odi", "-f", sender] + rcpts,
                           input=msg, capture_output=True, timeout=60)
        return read_log(d), dumpdb(who, d, "misc")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def read_log(d):
    """The main log without time stamps; message ids become M1, M2 ... in order of appearance."""
    ids, out = [], []
    for l in (d / "log" / "mainlog").read_text().splitlines():
        parts = l.split(" ", 2)
        body = parts[2] if len(parts) == 3 else l   # a continuation line has no time stamp
        for i in re.findall(r"\b\w{6}-\w{6}-\w{2}\b", body):
            if i not in ids:
                ids.append(i)
        for n, i in enumerate(ids):
            body = body.replace(i, f"M{n + 1}")
        out.append(body)
    return out


def compare(conns, rcpts, messages=(b"Subject: t\n\nbody\n",), extra="", main="", auths="", times=1):
    """The same deliveries by Exim and by Postern, each to a fresh BatchServer made from conns
    (a function returning the list of Conn). times > 1: repeat the whole run (PIPECONNECT's
    cache). Returns {who: (batches, bodies, log lines, misc)}."""
    results = {}
    for who in ("exim", "postern"):
        srv = BatchServer(conns())
        log, misc = deliver(who, srv.port, rcpts, messages * times, extra, main, auths)
        srv.wait()
        misc = [l.replace(f":{srv.port}.", ":PORT.") for l in misc]
        results[who] = (srv.batches, srv.bodies, log, misc)
    return results
