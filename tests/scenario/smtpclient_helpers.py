"""Helpers for the SMTP client tests: a scripted SMTP server, Exim 4.96 as a client against it,
and the smtp_send_probe driver of Postern's client engine."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading

ROOT = pathlib.Path(__file__).resolve().parents[2]


def probe_bin():
    post = os.environ.get("POSTERN", str(ROOT / "build" / "postern"))
    return str(pathlib.Path(post).parent / "tests" / "unit" / "smtpclient" / "smtp_send_probe")


class ScriptedServer:
    """Serves one connection per run() following a script: the greeting, then (command prefix,
    reply) pairs; reply None closes the connection; "BODY" reads DATA content up to the dot.
    Records what the client sent."""

    def __init__(self, greeting, steps):
        self.greeting, self.steps = greeting, steps
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.lines, self.body = [], b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(30)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(10)
        f = conn.makefile("rb")
        try:
            conn.sendall(self.greeting.encode())
            for expect, reply in self.steps:
                if expect == "CLOSE":
                    return
                if expect == "BODY":
                    while True:
                        line = f.readline()
                        if not line:
                            return
                        if line == b".\r\n":
                            break
                        self.body += line
                else:
                    line = f.readline()
                    if not line:
                        return
                    text = line.decode("utf-8", "replace").rstrip("\r\n")
                    self.lines.append(text)
                    m = re.match(r"BDAT (\d+)", text)
                    if m:
                        self.body += f.read(int(m.group(1)))
                if reply is None:
                    return
                conn.sendall(reply.encode())
            # Whatever follows (QUIT) is recorded until the client closes.
            while True:
                line = f.readline()
                if not line:
                    return
                self.lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
                if line.startswith(b"QUIT"):
                    conn.sendall(b"221 bye\r\n")
        except OSError:
            return
        finally:
            conn.close()
            self.sock.close()

    def wait(self):
        self.thread.join(40)

    def abandon(self):
        """No client will come: stop waiting for one."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(10)


EXIM_CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
never_users =
trusted_users = root
keep_environment =
dsn_advertise_hosts = *
acl_smtp_rcpt = accept
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
  user = Debian-exim
  hosts_try_fastopen =
  command_timeout = 3s
  final_timeout = 3s
{extra}
begin retry
* * F,1m,1m
{auths}
"""


def exim_send(tmp, port, message, rcpts, extra="", smtp_input=None, auths=""):
    """Deliver message (LF text) with Exim 4.96 to 127.0.0.1:port; returns the main log lines
    about recipients (=>, **, ==) as (flag, rcpt, rest)."""
    # Exim's transport runs as Debian-exim, which must reach the spool: pytest's tmp_path is
    # private to root, so Exim gets its own world-searchable directory (removed afterwards).
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-exim-"))
    os.chmod(d, 0o755)
    (d / "spool" / "db").mkdir(parents=True)
    (d / "log").mkdir()
    for p in [d / "spool", d / "spool" / "db", d / "log"]:
        shutil.chown(p, "Debian-exim")
    conf = d / "exim.conf"
    conf.write_text(EXIM_CONF.format(d=d, port=port, extra=extra,
                                     auths="begin authenticators\n" + auths if auths else ""))
    if smtp_input is not None:
        subprocess.run(["exim", "-C", str(conf), "-odi", "-bs"], input=smtp_input.encode(),
                       capture_output=True, timeout=60)
    else:
        subprocess.run(["exim", "-C", str(conf), "-odi", "-f", "sender@s.test"] + rcpts,
                       input=message.encode(), capture_output=True, timeout=60)
    out = []
    log = (d / "log" / "mainlog").read_text()
    (pathlib.Path(tmp) / "exim-mainlog").write_text(log)
    shutil.rmtree(d, ignore_errors=True)
    for line in log.splitlines():
        m = re.match(r"\S+ \S+ \S+ (=>|->|\*\*|==) (\S+) (.*)$", line)
        if m:
            out.append(m.groups())
    return out


def exim_outcomes(lines):
    """Exim's log lines as {rcpt: (status, errno, message)} in the probe's terms."""
    res = {}
    for flag, rcpt, rest in lines:
        if flag in ("=>", "->"):
            m = re.search(r' C="(.*)"$', rest)
            res[rcpt] = ("OK", 0, m.group(1) if m else "")
        elif flag == "**":
            m = re.match(r".*? H=\S+ \[[^\]]+\](?: \S+)?: (.*)$", rest)
            res[rcpt] = ("FAIL", 0, m.group(1) if m else rest)
        else:
            # "defer (-44) H=h [ip]: text", "defer (111): Connection refused", and for errors
            # with an errno "defer (110): Connection timed out H=h [ip]: text".
            m = re.match(r"R=\S+ T=\S+ defer \((-?\d+)\)(?:: (.*?))?(?: H=\S+ \[[^\]]+\]: (.*))?$", rest)
            res[rcpt] = ("DEFER", int(m.group(1)), m.group(3) or m.group(2) or "") if m else ("DEFER", None, rest)
    return res


def probe_send(port, message, rcpts, args=(), sender="sender@s.test", timeout=30):
    """Run smtp_send_probe; returns (facts dict, list of per-message {rcpt: (status, errno,
    code, message)})."""
    cmd = [probe_bin(), "-timeout", "3"] + list(args) + ["-f", sender, "127.0.0.1", str(port)] + rcpts
    p = subprocess.run(cmd, input=message.encode(), capture_output=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    facts, msgs = {}, []
    for line in p.stdout.decode().splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "rcpt":
            rcpt, status, err, code, text = rest.split(" ", 4)
            if not msgs or rcpt in msgs[-1]:
                msgs.append({})
            msgs[-1][rcpt] = (status, int(err), int(code), text.lstrip(" "))
        else:
            facts.setdefault(tag, []).append(rest)
    return facts, msgs


def lf_message(wire, stuffed=True):
    """The LF form of a message as a server received it (undo CRLF and dot-stuffing)."""
    text = wire.decode("utf-8", "surrogateescape").replace("\r\n", "\n")
    if not stuffed:
        return text
    return "\n".join(l[1:] if l.startswith(".") else l for l in text.split("\n"))
