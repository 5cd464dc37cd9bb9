"""Issue 4 acceptance 2: one message goes swaks -> Postern (relay) -> Exim 4.96 -> Postern (local)
-> a Maildir, every hop a daemon on a loopback port in a tmp dir. The log lines of all three
must tell one consistent story: each hop's "=>" line names the next hop (R=, T=, H=) and
carries in C= the id the next hop logged its "<=" line under, the next hop's "<=" line names
the previous one's HELO name and address, the Message-ID is the same everywhere, and the
Maildir file holds the message with each MTA's Received: header."""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

from daemon_helpers import Daemon, free_ports, wait_for

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or shutil.which("swaks") is None
                                or os.geteuid() != 0, reason="needs Debian's exim, swaks and root")

RELAY = """primary_hostname = relay.test
# Plain hops as with Exim's side (without a certificate both would self-sign and use TLS).
tls_advertise_hosts =
acl_smtp_rcpt = rcpt
begin acl
rcpt:
  accept
begin routers
toexim:
  driver = manualroute
  route_list = * 127.0.0.1::{exim_port}
  self = send
  transport = remote
begin transports
remote:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
"""

FINAL = """primary_hostname = final.test
# Plain hops as with Exim's side (without a certificate both would self-sign and use TLS).
tls_advertise_hosts =
acl_smtp_rcpt = rcpt
begin acl
rcpt:
  accept
begin routers
local:
  driver = accept
  domains = dst.test
  local_parts = bob
  transport = maildir
begin transports
maildir:
  driver = appendfile
  directory = {mail}/$local_part_data/Maildir
  maildir_format
  create_directory
  user = nobody
  group = nogroup
"""

EXIM = """primary_hostname = exim.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
keep_environment =
tls_advertise_hosts =
acl_smtp_rcpt = rcpt
begin acl
rcpt:
  accept
begin routers
tofinal:
  driver = manualroute
  route_list = * 127.0.0.1::{final_port}
  self = send
  transport = remote_smtp
begin transports
remote_smtp:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
"""

ID = r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}"


def lines_of(log):
    """(id, text) of the message lines, without time stamps."""
    out = []
    for l in log.splitlines():
        m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:\[\d+\] )?(" + ID + r") (.*)$", l)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def arrival(lines):
    found = [(i, t) for i, t in lines if t.startswith("<= ")]
    assert len(found) == 1, lines
    return found[0]


def delivery(lines, ident):
    found = [t for i, t in lines if i == ident and t.startswith("=> ")]
    assert len(found) == 1, lines
    return found[0]


def hop_out(rt, next_id):
    """A "=>" line to the next hop over CHUNKING, C= naming the id the next hop logged."""
    return (r"=> bob@dst\.test " + re.escape(rt) + r" H=127\.0\.0\.1 \[127\.0\.0\.1\] K "
            r'C="250- (\d+) byte chunk, total \1\\\\n250 OK id=' + next_id + '"')


def hop_in(helo, msgid):
    """The next hop's "<=" line: the previous MTA's HELO name and address, BDAT (K)."""
    return (r"<= alice@src\.test H=\(" + re.escape(helo) + r"\) \[127\.0\.0\.1\] P=esmtp K S=\d+ id="
            + re.escape(msgid))


class EximDaemon:
    def __init__(self, d, port, final_port):
        self.d = d
        for p in ("spool", "log"):
            (d / p).mkdir()
            shutil.chown(d / p, "Debian-exim")
        self.conf = d / "exim.conf"
        self.conf.write_text(EXIM.format(d=d, final_port=final_port))
        self.port = port
        self.proc = None

    @property
    def mainlog(self):
        p = self.d / "log" / "mainlog"
        return p.read_text() if p.exists() else ""

    def start(self):
        self.proc = subprocess.Popen(["exim", "-C", str(self.conf), "-bdf", "-oX", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: "daemon started" in self.mainlog, 10), self.mainlog

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_chain_swaks_postern_exim_postern_maildir(postern_bin):
    top = pathlib.Path(tempfile.mkdtemp(prefix="chain-"))
    relay = final = exim = None
    try:
        os.chmod(top, 0o755)
        relay_port, exim_port, final_port = free_ports(3)
        mail = top / "mail"
        mail.mkdir()
        os.chmod(mail, 0o777)
        for name in ("relay", "final", "exim"):
            (top / name).mkdir()
            os.chmod(top / name, 0o755)
        relay = Daemon(postern_bin, top / "relay", RELAY.format(exim_port=exim_port),
                       args=["-oX", str(relay_port)]).start(wait_port=relay_port)
        final = Daemon(postern_bin, top / "final", FINAL.format(mail=mail),
                       args=["-oX", str(final_port)]).start(wait_port=final_port)
        exim = EximDaemon(top / "exim", exim_port, final_port)
        exim.start()

        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{relay_port}", "--helo", "client.test",
                            "--from", "alice@src.test", "--to", "bob@dst.test",
                            "--header", "Subject: chain test", "--body", "hop by hop"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        box = mail / "bob" / "Maildir" / "new"
        assert wait_for(lambda: box.exists() and any(box.iterdir()), 30), \
            relay.mainlog + exim.mainlog + final.mainlog
        assert wait_for(lambda: "Completed" in relay.mainlog and "Completed" in exim.mainlog
                        and "Completed" in final.mainlog, 15)

        rl, el, fl = lines_of(relay.mainlog), lines_of(exim.mainlog), lines_of(final.mainlog)
        r_id, r_in = arrival(rl)
        e_id, e_in = arrival(el)
        f_id, f_in = arrival(fl)
        assert len({r_id, e_id, f_id}) == 3

        # Hop 1: swaks -> relay.
        assert re.fullmatch(r"<= alice@src\.test H=\(client\.test\) \[127\.0\.0\.1\] P=esmtp S=\d+ id=\S+", r_in), r_in
        msgid = re.search(r" id=(\S+)", r_in).group(1)
        # Hop 2: relay -> Exim, with CHUNKING (K); the relay's C= is Exim's reply to the last
        # BDAT, which names the id Exim logged the message under.
        assert re.fullmatch(hop_out("R=toexim T=remote", e_id), delivery(rl, r_id)), delivery(rl, r_id)
        assert re.fullmatch(hop_in("relay.test", msgid), e_in), e_in
        # Hop 3: Exim -> final, the same shape from Exim's side.
        assert re.fullmatch(hop_out("R=tofinal T=remote_smtp", f_id), delivery(el, e_id)), delivery(el, e_id)
        assert re.fullmatch(hop_in("exim.test", msgid), f_in), f_in
        # Local delivery at the end.
        f_out = delivery(fl, f_id)
        assert re.fullmatch(r"=> bob <bob@dst\.test> R=local T=maildir", f_out), f_out
        for lines, ident in ((rl, r_id), (el, e_id), (fl, f_id)):
            assert (ident, "Completed") in lines

        # The stored message: every hop's Received: header, newest first, and the body.
        text = next(box.iterdir()).read_text()
        received = re.findall(r"^Received: from (\S+).*?\n(?:\s.*\n)*?.*?by (\S+)", text, re.M)
        assert [by for _, by in received][:3] == ["final.test", "exim.test", "relay.test"], text
        assert f"Message-Id: <{msgid}>" in text, text
        assert text.count("Message-Id:") == 1, text
        assert "hop by hop" in text
        # Each Received: header names the id its MTA logged the message under.
        ids = re.findall(r"^\tid (" + ID + r")$", text, re.M)
        assert ids[:3] == [f_id, e_id, r_id], text
    finally:
        for d in (relay, final, exim):
            if d:
                d.stop()
        shutil.rmtree(top, ignore_errors=True)
