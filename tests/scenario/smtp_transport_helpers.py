"""Helpers for the smtp transport tests: Exim 4.96 delivering through an smtp transport to a list
of scripted hosts (manualroute), and Postern's transport run by smtp_tp_probe on a message in
its own spool, with the outcomes of both put in the form of Exim's log lines."""
import errno
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

from smtpclient_helpers import ROOT

EXIM_CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
keep_environment =
begin routers
bounces:
  driver = redirect
  domains = s.test
  data = :blackhole:
r:
  driver = manualroute
  route_list = * "<+ {hosts}"
  self = send
  transport = t
begin transports
t:
  driver = smtp
  allow_localhost
  user = Debian-exim
  hosts_try_fastopen =
  command_timeout = 2s
  final_timeout = 2s
{extra}
begin retry
* * F,1m,1m
"""

POSTERN_CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
never_users =
trusted_users = root
begin transports
t:
  driver = smtp
  hosts_try_fastopen =
  command_timeout = 2s
  final_timeout = 2s
{extra}
"""

MESSAGE = "Subject: t\n\nline1\n.dot\n"


def probe_bin():
    post = os.environ.get("POSTERN", str(ROOT / "build" / "postern"))
    return str(pathlib.Path(post).parent / "tests" / "unit" / "transports" / "smtp_tp_probe")


def postern_bin():
    return os.environ.get("POSTERN", str(ROOT / "build" / "postern"))


def log_body(line):
    """A main log line without its time stamp and message id."""
    return re.sub(r"^\S+ \S+ (?:[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2} )?", "", line)


def exim_deliver(ports, rcpts, extra="", times=1, retry_items=None):
    """Exim (-odi) to 127.0.0.1 at each port in turn; returns the log lines after "<=" of the
    last message (time stamps and ids removed). retry_items (a list): gets the records of
    Exim's retry database as (key, errno, more_errno, text)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="postern-exim-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool" / "db").mkdir(parents=True)
        (d / "log").mkdir()
        for p in [d / "spool", d / "spool" / "db", d / "log"]:
            shutil.chown(p, "Debian-exim")
        hosts = " + ".join(f"127.0.0.1:{p}" for p in ports)
        conf = d / "exim.conf"
        conf.write_text(EXIM_CONF.format(d=d, hosts=hosts, extra=extra))
        for _ in range(times):
            subprocess.run(["exim", "-C", str(conf), "-odi", "-f", "sender@s.test"] + rcpts,
                           input=MESSAGE.encode(), capture_output=True, timeout=60)
        lines = (d / "log" / "mainlog").read_text().splitlines()
        if retry_items is not None:
            dump = subprocess.run(["exim_dumpdb", str(d / "spool"), "retry"], capture_output=True,
                                  text=True, timeout=30).stdout
            for l in dump.splitlines():
                m = re.match(r"  (\S+) (-?\d+) (-?\d+) (.*)$", l)
                if m:
                    retry_items.append((m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    last = max(i for i, l in enumerate(lines) if " <= " in l and " <= <>" not in l)
    return [log_body(l) for l in lines[last + 1:]
            if "lost privilege" not in l and not l.endswith("Completed") and " <= <>" not in l
            and ":blackhole:" not in l]


class PosternSpool:
    """A spool with one message received by postern -odq, and the probe to deliver it."""

    def __init__(self, tmp, rcpts, extra=""):
        self.d = pathlib.Path(tmp)
        (self.d / "log").mkdir(exist_ok=True)
        self.conf = self.d / "p.conf"
        self.conf.write_text(POSTERN_CONF.format(d=self.d, extra=extra))
        self.rcpts = rcpts
        p = subprocess.run([postern_bin(), "-C", str(self.conf), "-odq", "-f", "sender@s.test"] + rcpts,
                           input=MESSAGE.encode(), capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        self.id = re.search(r"([0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}) <=", self.mainlog()).group(1)

    def mainlog(self):
        return (self.d / "log" / "mainlog").read_text()

    def deliver(self, hosts, args=()):
        """Run the transport; hosts: [(name, ip, port, mx)]. Returns ({rcpt: outcome}, the
        log lines the transport wrote)."""
        before = len(self.mainlog().splitlines())
        cmd = [probe_bin(), "-C", str(self.conf), "-id", self.id, "-t", "t"]
        for h in hosts:
            cmd += ["-host", "/".join(str(x) for x in h)]
        p = subprocess.run(cmd + list(args) + self.rcpts, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return parse_probe(p.stdout.decode()), [log_body(l) for l in self.mainlog().splitlines()[before:]]


def parse_probe(out):
    res, cur = {}, None
    for line in out.splitlines():
        if line.startswith("addr "):
            m = re.match(r"addr (\S+) (\S+) (-?\d+) (-?\d+) host=([^/]*)/([^/]*)/(\d+) msg=(.*)$", line)
            cur = {"status": m.group(2), "errno": int(m.group(3)), "more": int(m.group(4)),
                   "host": m.group(5), "ip": m.group(6), "port": int(m.group(7)), "msg": m.group(8),
                   "retries": []}
            res[m.group(1)] = cur
        elif line.startswith(" retry "):
            m = re.match(r" retry (\S*) (-?\d+) (-?\d+) (\d) text=(.*)$", line)
            cur["retries"].append((m.group(1), int(m.group(2)), int(m.group(3)), m.group(4) == "1", m.group(5)))
        else:
            k, _, v = line.strip().partition("=")
            cur[k] = v
    return res


def as_exim_line(rcpt, o, first=True):
    """The delivery line Exim writes for an outcome (the delivery process's format)."""
    host = f" H={o['host']} [{o['ip']}]" if o["ip"] else ""
    if o["status"] == "OK":
        return f"{'=>' if first else '->'} {rcpt} R=r T=t{host} C=\"{o['conf']}\""
    if o["status"] == "PANIC":
        o = dict(o, status="DEFER")   # a deferral also written to the panic log
    if o["status"] == "FAIL":
        return f"** {rcpt} R=r T=t{host}: {o['msg']}"
    e = o["errno"]
    line = f"== {rcpt} R=r T=t defer ({e})"
    if e > 0:
        line += ": " + os.strerror(e)
    line += host
    if o["msg"]:
        line += ": " + o["msg"]
    return line


def delivery_lines(lines):
    """The delivery lines; "->" (a further address of one delivery) is written as "=>", as
    which address comes first is the delivery process's business."""
    return [re.sub(r"^->", "=>", l) for l in lines if re.match(r"(=>|->|\*\*|==) ", l)]


def host_lines(lines):
    return [l for l in lines if l.startswith("H=")]


def normal_retry_key(key):
    """Ports and message ids differ between the runs."""
    key = re.sub(r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", "ID", key)
    return re.sub(r":\d{4,5}(?=:|$)", ":PORT", key)
