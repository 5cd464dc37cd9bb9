"""The host texts of a message received by -bS or -bs with -oMa (and -oMs, -oMt) and a HELO,
Postern against Debian's Exim 4.96: the "<=" line (H=, S=) and the Received header, byte for
byte but for the message id and the date. With -bS Exim makes H= and $sender_rcvhost before the
HELO and keeps them (no "(helo)", no "helo="); with -bs they show the HELO name. The Received
"from" value is folded before its parenthesis only when it has both a HELO name and an ident."""
import os
import re
import shutil
import subprocess

import pytest

from daemon_helpers import reachable_by_exim_user

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

CONF = """primary_hostname = env.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
tls_advertise_hosts =
keep_environment =
acl_smtp_rcpt = accept
begin routers
r:
  driver = accept
  transport = t
begin transports
t:
  driver = appendfile
  file = /dev/null
  user = Debian-exim
"""

ORIGINS = {
    "address": ["-oMa", "192.0.2.7"],
    "address and name": ["-oMa", "192.0.2.7", "-oMs", "named.example"],
    "address, name, no ident": ["-oMa", "192.0.2.7", "-oMs", "named.example", "-oMt", ""],
    "address, no ident": ["-oMa", "192.0.2.7", "-oMt", ""],
    "none": [],
}
HELOS = ["HELO client.example", "EHLO client.example", "EHLO named.example", None]


def receive(cmd, d, mode, origin, helo):
    if d.exists():
        shutil.rmtree(d)
    for sub in ("spool", "log"):
        (d / sub).mkdir(parents=True)
        shutil.chown(d / sub, "Debian-exim", "Debian-exim")
    (d / "conf").write_text(CONF.format(d=d))
    eol = "\r\n" if mode == "-bs" else "\n"
    lines = ([helo] if helo else []) + ["MAIL FROM:<a@b.c>", "RCPT TO:<x@env.test>", "DATA", "Subject: x", "",
                                        "b", ".", "QUIT"]
    r = subprocess.run([cmd, "-C", str(d / "conf"), "-odq", mode] + origin, input=eol.join(lines) + eol,
                       capture_output=True, text=True, timeout=30)
    log = (d / "log" / "mainlog").read_text() if (d / "log" / "mainlog").exists() else ""
    arrivals = [re.sub(r"^\S+ \S+ \S+ ", "", l) for l in log.splitlines() if " <= " in l]
    heads = list((d / "spool" / "input").glob("*-H"))
    received = ""
    if heads:
        text = heads[0].read_text()
        m = re.search(r"\d{3}P Received: .*?\n(?=\d{3}[ A-Z*])", text, re.S)
        received = m.group(0) if m else text
    received = re.sub(r"id \S+", "id X", re.sub(r"\w{3}, \d+ \w{3} \d{4} [\d:]+ [+-]\d{4}", "DATE", received))
    return r.returncode, arrivals, received


@pytest.mark.parametrize("mode", ["-bS", "-bs"])
@pytest.mark.parametrize("origin", list(ORIGINS))
@pytest.mark.parametrize("helo", HELOS, ids=[h or "no HELO" for h in HELOS])
def test_host_texts_as_exim(postern_bin, tmp_path, mode, origin, helo):
    if mode == "-bs" and helo is None:
        pytest.skip("-bs needs a HELO (hosts_require_helo)")
    reachable_by_exim_user(tmp_path)
    exim = receive("/usr/sbin/exim", tmp_path / "exim", mode, ORIGINS[origin], helo)
    ours = receive(postern_bin, tmp_path / "postern", mode, ORIGINS[origin], helo)
    assert exim[1], exim
    assert ours == exim


def test_bsmtp_expected_texts(postern_bin, tmp_path):
    """Pin the observed texts, so the comparison cannot pass with both sides wrong."""
    reachable_by_exim_user(tmp_path)
    _, log, received = receive(postern_bin, tmp_path, "-bS", ORIGINS["address and name"], "EHLO client.example")
    assert log == ["<= a@b.c H=named.example [192.0.2.7] U=root P=local-bsmtp S=206"]
    assert received.startswith("192P Received: from named.example ([192.0.2.7] ident=root)\n")
    _, log, received = receive(postern_bin, tmp_path, "-bs", ORIGINS["address and name"], "EHLO client.example")
    assert log == ["<= a@b.c H=named.example (client.example) [192.0.2.7] U=root P=esmtp S=221"]
    assert received.startswith("207P Received: from named.example\n\t([192.0.2.7] helo=client.example ident=root)\n")
