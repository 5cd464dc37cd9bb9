"""TLS session resumption on the server side (facts §11, docs/tls.md "Session resumption").

Peers: `openssl s_client -starttls smtp -sess_out F` for a first session, `-sess_in F` for the
resumed one. Checked: "Reused" on the client, $tls_in_resumption (11 then 23 under TLS 1.2, 11 then
31 under TLS 1.3) with its _RESUME_DECODE text, the '*' after X= (log_selector +tls_resumption),
the spool's -tls_resumption, no ticket for a host outside tls_resumption_hosts, and two daemons
sharing tls_ticket_key_file resuming each other's sessions, with the key file rotated under them.
"""
import os
import re
import subprocess
import time

import pytest

from daemon_helpers import Daemon, free_ports, wait_for
from test_tls_server import HOST, pki  # noqa: F401  (the module's PKI fixture)

MESSAGE = ("EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<d@e.example>\r\nDATA\r\n"
           "Subject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n")


def config(spool, pki, port, extra=""):
    return f"""spool_directory = {spool}
exim_user = root
exim_group = root
daemon_startup_retries = 0
primary_hostname = {HOST}
daemon_smtp_ports = {port}
tls_certificate = {pki}/rsa.pem
tls_privatekey = {pki}/rsa.key
log_selector = {"+tls_sni" if "no_star" in extra else "+tls_resumption"}
smtp_enforce_sync = false
queue_only
acl_smtp_rcpt = accept
acl_smtp_data = acl_data
{extra}
begin acl
acl_data:
  warn logwrite = res=$tls_in_resumption ${{listextract{{$tls_in_resumption}}{{_RESUME_DECODE}}}}
  accept
"""


@pytest.fixture
def daemons(postern_bin, tmp_path, pki):  # noqa: F811
    started = []

    def make(extra="tls_resumption_hosts = *", name="a"):
        (port,) = free_ports(1)
        (tmp_path / name).mkdir(exist_ok=True)
        d = Daemon(postern_bin, tmp_path / name, "")
        d.conf.write_text(config(d.spool, pki, port, extra))
        d.port = port
        d.start()
        started.append(d)
        d.wait_listening(None)
        return d
    yield make
    for d in started:
        d.stop()


def s_client(port, ver, sess_out=None, sess_in=None):
    """One SMTP session with a message; returns s_client's output."""
    cmd = ["openssl", "s_client", "-ign_eof", "-nocommands", "-starttls", "smtp",
           "-connect", f"127.0.0.1:{port}", ver, "-servername", HOST]
    if sess_out:
        cmd += ["-sess_out", str(sess_out)]
    if sess_in:
        cmd += ["-sess_in", str(sess_in)]
    r = subprocess.run(cmd, input=MESSAGE, capture_output=True, text=True, timeout=20)
    assert "250 OK id=" in r.stdout, r.stdout + r.stderr
    return r.stdout


def reused(out):
    m = re.search(r"^(New|Reused), TLSv1\.[23]", out, re.M)
    assert m, out
    return m.group(1) == "Reused"


def arrivals(d, n):
    assert wait_for(lambda: d.mainlog.count(" <= ") >= n), d.mainlog
    lines = d.mainlog.splitlines()
    res = [line.split(" res=", 1)[1] for line in lines if " res=" in line]
    xs = [re.search(r" X=(\S+)", line).group(1) for line in lines if " <= " in line]
    return res, xs


@pytest.mark.parametrize("ver,resumed", [("-tls1_2", "23 session resumed"),
                                         ("-tls1_3", "31 session resumed, also new ticket")])
def test_resumption_values_log_and_spool(daemons, tmp_path, ver, resumed):
    d = daemons()
    sess = tmp_path / "sess"
    assert not reused(s_client(d.port, ver, sess_out=sess))
    assert reused(s_client(d.port, ver, sess_in=sess))
    res, xs = arrivals(d, 2)
    assert res == ["11 client requested new ticket, server provided", resumed], d.mainlog
    assert not xs[0].endswith("*") and xs[1].endswith("*") and xs[0] + "*" == xs[1], xs
    spooled = sorted(p.read_text() for p in (d.spool / "input").rglob("*-H"))
    codes = sorted(re.search(r"^-tls_resumption (.)$", h, re.M).group(1) for h in spooled)
    assert codes == sorted([chr(ord("A") + 11), chr(ord("A") + int(resumed.split()[0]))])


def test_star_needs_the_log_selector(daemons, tmp_path):
    d = daemons("tls_resumption_hosts = *\n# no_star")
    sess = tmp_path / "sess"
    s_client(d.port, "-tls1_3", sess_out=sess)
    assert reused(s_client(d.port, "-tls1_3", sess_in=sess))
    res, xs = arrivals(d, 2)
    assert res[1].startswith("31 ") and not any(x.endswith("*") for x in xs), d.mainlog


@pytest.mark.parametrize("ver", ["-tls1_2", "-tls1_3"])
def test_no_ticket_outside_resumption_hosts(daemons, tmp_path, ver):
    d = daemons("tls_resumption_hosts = 192.0.2.1")
    sess = tmp_path / "sess"
    out = s_client(d.port, ver, sess_out=sess)
    assert "TLS session ticket:" not in out and "Post-Handshake New Session Ticket" not in out
    # Without a ticket (and no server-side cache) there is nothing resumable to save.
    assert not sess.exists()
    s_client(d.port, ver)
    res, _ = arrivals(d, 2)
    assert res == ["1 not requested or offered"] * 2, d.mainlog


def key_line():
    return os.urandom(80).hex()


def write_keys(path, *keys):
    tmp = path.with_suffix(".new")
    tmp.write_text("# current key first\n" + "".join(k + "\n" for k in keys))
    tmp.chmod(0o600)
    os.replace(tmp, path)


@pytest.mark.parametrize("ver", ["-tls1_2", "-tls1_3"])
def test_two_daemons_share_a_key_file(daemons, tmp_path, ver):
    keys = tmp_path / "ticket.keys"
    k1, k2 = key_line(), key_line()
    write_keys(keys, k1)
    opt = f"tls_resumption_hosts = *\ntls_ticket_key_file = {keys}"
    a, b = daemons(opt, "a"), daemons(opt, "b")
    lone = daemons("tls_resumption_hosts = *", "c")
    sess = tmp_path / "sess"
    assert not reused(s_client(a.port, ver, sess_out=sess))
    assert reused(s_client(b.port, ver, sess_in=sess))      # made by a, resumed by b
    assert not reused(s_client(lone.port, ver, sess_in=sess))  # other keys: a full handshake
    # Rotation: the new key first, the old one still accepted (and its ticket replaced) ...
    write_keys(keys, k2, k1)
    assert reused(s_client(a.port, ver, sess_in=sess, sess_out=sess))
    assert reused(s_client(b.port, ver, sess_in=sess))
    # ... and a session whose key has gone is not resumed.
    old = tmp_path / "old"
    s_client(b.port, ver, sess_out=old)
    write_keys(keys, key_line())
    assert not reused(s_client(a.port, ver, sess_in=old))
    assert a.paniclog == "" and b.paniclog == ""


def test_bad_key_file_is_reported_and_local_keys_used(daemons, tmp_path):
    keys = tmp_path / "ticket.keys"
    keys.write_text("not hex\n")
    keys.chmod(0o600)
    d = daemons(f"tls_resumption_hosts = *\ntls_ticket_key_file = {keys}")
    sess = tmp_path / "sess"
    s_client(d.port, "-tls1_3", sess_out=sess)
    assert reused(s_client(d.port, "-tls1_3", sess_in=sess))
    assert wait_for(lambda: "a key is 160 hex digits, not 7" in d.paniclog), d.paniclog
    assert d.paniclog.count("tls_ticket_key_file") == 1, d.paniclog   # said once, not per connection


def test_world_readable_key_file_is_refused(daemons, tmp_path):
    keys = tmp_path / "ticket.keys"
    keys.write_text(key_line() + "\n")
    keys.chmod(0o644)
    d = daemons(f"tls_resumption_hosts = *\ntls_ticket_key_file = {keys}")
    s_client(d.port, "-tls1_3")
    assert wait_for(lambda: "readable by others" in d.paniclog), d.paniclog


def tls_record(stored, expires, der=b"\x30\x03\x02\x01\x01"):
    """A `tls` hints record (src/tls/tls_resume_db.h layout)."""
    return b"\x01" + stored.to_bytes(8, "little") + expires.to_bytes(8, "little") + der


def test_tidydb_and_dumpdb_cover_tls(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    (spool / "db").mkdir(parents=True)
    now = int(time.time())
    records = {b"a" * 64: tls_record(now - 60, now + 3600), b"b" * 64: tls_record(now - 7300, now - 100),
               b"c" * 64: b"\x07garbage"}
    text = "VERSION=3\nformat=print\ntype=btree\nHEADER=END\n"
    for k, v in records.items():
        text += " " + "".join(chr(c) if 32 < c < 127 and c != 92 else f"\\{c:02x}" for c in k) + "\n"
        text += " " + "".join(chr(c) if 32 < c < 127 and c != 92 else f"\\{c:02x}" for c in v) + "\n"
    text += "DATA=END\n"
    subprocess.run(["mdb_load", "-n", "-f", "/dev/stdin", str(spool / "db" / "tls.lmdb")], input=text.encode(),
                   check=True)
    links = {}
    for name in ("exim_tidydb", "exim_dumpdb"):
        links[name] = tmp_path / name
        os.symlink(postern_bin, links[name])
    r = subprocess.run([str(links["exim_tidydb"]), str(spool), "tls"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()[1:-1]) == [f"deleted {'b' * 64} (expired)", f"deleted {'c' * 64} (unreadable)"]
    r = subprocess.run([str(links["exim_dumpdb"]), "-z", str(spool), "tls"], capture_output=True, text=True, timeout=30)
    assert re.fullmatch(rf"  {'a' * 64} stored \d\d-\w{{3}}-\d{{4}} [\d:]{{8}} expires \d\d-\w{{3}}-\d{{4}} [\d:]{{8}}\n",
                        r.stdout), r.stdout
