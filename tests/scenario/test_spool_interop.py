"""Spool interoperability with Debian's Exim 4.96, both directions.

Exim -> Postern: messages Exim received (SMTP with DSN, local submission, frozen, partly
delivered via -Mmd) are listed by `postern -bp` (and -bpa, -bpu, -bpc, -bpr) exactly as
`exim -bp` lists them, and every -H file parses and re-formats to the same bytes.
Postern -> Exim: a message Postern's spool writer commits (tests/unit/spool/spool_tool) is
listed by `exim -bp` and delivered by `exim -M` to an appendfile mailbox with its headers and
body intact, in plain and split spool directories.

Exim must run as root here (it reads a private configuration and spool). Skipped otherwise.
"""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim4 4.96 and root")

CONF = """primary_hostname = test.example
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
trusted_users = root
queue_only = true
dsn_advertise_hosts = *
split_spool_directory = {split}
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data
begin acl
acl_rcpt:
  accept set acl_c0 = conn\\nvar
         set acl_m_from = $sender_host_address
acl_data:
  accept condition = ${{if match{{$h_subject:}}{{freeze}}}}
         control = freeze
  accept
begin routers
local:
  driver = accept
  local_parts = r1 : r2 : u1 : u2 : u3 : u4 : u5 : u6 : u7
  transport = mbox
begin transports
mbox:
  driver = appendfile
  file = {mail}/${{local_part_data}}
  user = nobody
  envelope_to_add
  return_path_add
"""


def tool_path():
    post = os.environ.get("POSTERN", str(pathlib.Path(__file__).resolve().parents[2] / "build" / "postern"))
    p = pathlib.Path(post).parent / "tests" / "unit" / "spool" / "spool_tool"
    if not p.exists():
        pytest.skip(f"{p} not built")
    return str(p)


@pytest.fixture
def maildir():
    """Deliveries run as nobody (Exim refuses root), so mailboxes live outside pytest's
    private tmp tree."""
    d = tempfile.mkdtemp(prefix="postern-spool-mail-")
    os.chmod(d, 0o777)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def make_conf(tmp_path, split=False, mail="/nonexistent"):
    conf = tmp_path / "exim.conf"
    conf.write_text(CONF.format(d=tmp_path, mail=mail, split="true" if split else "false"))
    return conf


def run(cmd, input=None):
    r = subprocess.run(cmd, input=input, capture_output=True, timeout=60)
    return r


def exim_smtp(conf, lines, *extra):
    data = "".join(line + "\r\n" for line in lines).encode()
    r = run(["exim", "-C", str(conf), "-bs", "-oMa", "192.0.2.7.40000", "-oMi", "127.0.0.1.25",
             "-oMr", "esmtp", "-oMs", "client.example", *extra], input=data)
    ids = re.findall(rb"250 OK id=(\S+)", r.stdout)
    assert ids, r.stdout + r.stderr
    return ids[0].decode()


def exim_received_messages(conf):
    ids = []
    ids.append(exim_smtp(conf, [
        "EHLO client.example", "MAIL FROM:<a@b.example> RET=HDRS ENVID=xyz",
        "RCPT TO:<u1@test.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;U1@test.example",
        "RCPT TO:<u2@test.example>", "RCPT TO:<u3@test.example> NOTIFY=NEVER", "DATA",
        "Subject: dsn", "From: a@b.example", "To: u1@test.example", "", "body", "", "x", ".", "QUIT"]))
    ids.append(exim_smtp(conf, [
        "HELO other", "MAIL FROM:<>", "RCPT TO:<u4@test.example>", "DATA",
        "Subject: freeze me", "X-Folded: a", "  b", "", "frozen body", ".", "QUIT"]))
    big = ["EHLO client.example", "MAIL FROM:<big@b.example>", "RCPT TO:<u5@test.example>",
           "RCPT TO:<u6@test.example>", "DATA", "Subject: big", ""]
    big += ["line %05d " % i + "x" * 60 for i in range(400)]
    ids.append(exim_smtp(conf, big + [".", "QUIT"]))
    r = run(["exim", "-C", str(conf), "-odq", "-f", "local@x.example", "u7@test.example"],
            input=b"Subject: local\n\nhello\n")
    assert r.returncode == 0, r.stderr
    # partly delivered: two recipients marked delivered (the non-recipients tree)
    r = run(["exim", "-C", str(conf), "-Mmd", ids[0], "u1@test.example", "u3@test.example"])
    assert r.returncode == 0, r.stderr
    # an address not among the recipients (as aliasing would add): shown by -bpa as +D
    r = run(["exim", "-C", str(conf), "-Mmd", ids[2], "u5@test.example"])
    assert r.returncode == 0, r.stderr
    return ids


def headers_of(tmp_path):
    return sorted(p for p in (tmp_path / "spool" / "input").rglob("*-H"))


@pytest.mark.parametrize("split", [False, True])
def test_postern_lists_exim_spool(postern_bin, tmp_path, split):
    conf = make_conf(tmp_path, split)
    ids = exim_received_messages(conf)
    files = headers_of(tmp_path)
    assert len(files) == 4
    # the local message as if an untrusted caller had set its sender: "(root)" after the sender
    local = [f for f in files if "-received_protocol local\n" in f.read_text()][0]
    local.write_text(local.read_text().replace("-received_protocol local\n",
                                               "-received_protocol local\n-sender_set_untrusted\n"))
    # a delivered address generated by aliasing (not a recipient): "+D" with -bpa
    big = [f for f in files if ids[2] in f.name][0]
    text = big.read_text()
    assert "\nNN u5@test.example\n" in text
    big.write_text(text.replace("\nNN u5@test.example\n", "\nNY u5@test.example\nNN x@test.example\n"))
    # the journal of an interrupted delivery: its addresses count as delivered
    frozen = [f for f in files if ids[1] in f.name][0]
    (frozen.parent / f"{ids[1]}-J").write_text("u4@test.example\nzz@test.example\ngen@test.example\n")
    for variant in ["-bp", "-bpa", "-bpu", "-bpc"]:
        e = run(["exim", "-C", str(conf), variant])
        p = run([postern_bin, "-C", str(conf), variant])
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode() == e.stdout.decode(), variant
    # combinations Exim does not accept
    for bad in ["-bpcc", "-bpar", "-bpcr"]:
        e = run(["exim", "-C", str(conf), bad])
        p = run([postern_bin, "-C", str(conf), bad])
        assert (p.returncode, p.stdout, p.stderr) == (e.returncode, e.stdout, e.stderr)
    # invoked as mailq: -bp
    mailq = tmp_path / "mailq"
    mailq.symlink_to(postern_bin)
    assert run([str(mailq), "-C", str(conf)]).stdout == run(["exim", "-C", str(conf), "-bp"]).stdout
    # -bpr is in directory order: the same blocks
    e = run(["exim", "-C", str(conf), "-bpr"]).stdout.decode().split("\n\n")
    p = run([postern_bin, "-C", str(conf), "-bpr"]).stdout.decode().split("\n\n")
    assert sorted(e) == sorted(p)
    # selected ids, one unknown
    args = [ids[1], ids[0], "1xUgy0-0007P4-1L"]
    e = run(["exim", "-C", str(conf), "-bp", *args])
    p = run([postern_bin, "-C", str(conf), "-bp", *args])
    assert p.stdout.decode() == e.stdout.decode()
    listing = p.stdout.decode()
    assert "*** frozen ***" in listing and "        D u1@test.example" in listing
    full = run([postern_bin, "-C", str(conf), "-bpa"]).stdout.decode()
    assert "<local@x.example> (root)" in full and "\n        D u5@test.example\n" in full
    assert "\n       +D x@test.example\n" in full
    # generated addresses in sorted order
    assert "\n        D u4@test.example\n       +D gen@test.example\n       +D zz@test.example\n" in full


def test_exim_header_files_reformat_identically(tmp_path):
    tool = tool_path()
    conf = make_conf(tmp_path)
    exim_received_messages(conf)
    files = headers_of(tmp_path)
    assert files
    for f in files:
        r = run([tool, "reformat", str(f)])
        assert r.returncode == 0, r.stderr
        assert r.stdout == f.read_bytes(), f


def test_damaged_files_listed_like_exim(postern_bin, tmp_path):
    conf = make_conf(tmp_path)
    ids = exim_received_messages(conf)
    inp = tmp_path / "spool" / "input"
    h0, h1 = inp / f"{ids[0]}-H", inp / f"{ids[1]}-H"
    text = h0.read_text()
    h0.write_text(text.split("\n\n")[0] + "\n\n012  Subject: x\n")  # header section damaged
    h1.write_text("\n".join(h1.read_text().split("\n")[:3]) + "\nbad\n")  # envelope damaged
    (inp / f"{ids[2]}-D").unlink()  # body missing: blank size column
    e = run(["exim", "-C", str(conf), "-bp"])
    p = run([postern_bin, "-C", str(conf), "-bp"])
    assert p.stdout.decode() == e.stdout.decode()
    assert "spool format error" in p.stdout.decode()


@pytest.mark.parametrize("split", [False, True])
def test_exim_delivers_postern_spooled_message(postern_bin, tmp_path, split, maildir):
    tool = tool_path()
    conf = make_conf(tmp_path, split, maildir)
    message = ("Subject: written by postern\nFrom: s@b.example\nTo: r1@test.example\n"
               "X-Folded: one\n\ttwo\n\nbody line 1\n\nbody line 3 " + "y" * 100 + "\n")
    r = run([tool, "write", str(tmp_path / "spool"), "1" if split else "0", "s@b.example",
             "r1@test.example,r2@test.example"], input=message.encode())
    assert r.returncode == 0, r.stderr
    mid = r.stdout.decode().strip()
    e = run(["exim", "-C", str(conf), "-bp"])
    p = run([postern_bin, "-C", str(conf), "-bp"])
    assert mid in e.stdout.decode(), e.stdout + e.stderr
    assert p.stdout.decode() == e.stdout.decode()
    d = run(["exim", "-C", str(conf), "-M", mid])
    assert d.returncode == 0, d.stderr
    for who in ["r1", "r2"]:
        box = (maildir / who).read_text()
        assert box.startswith("From s@b.example ")
        assert "Subject: written by postern\nFrom: s@b.example\nTo: r1@test.example\nX-Folded: one\n\ttwo\n" in box
        assert "\nbody line 1\n\nbody line 3 " + "y" * 100 + "\n" in box
        assert "Return-path: <s@b.example>\nEnvelope-to: %s@test.example\n" % who in box
    log = (tmp_path / "log" / "mainlog").read_text()
    assert f"{mid} => r1 <r1@test.example> R=local T=mbox" in log and f"{mid} Completed" in log
    # Exim read the DSN request (NOTIFY=SUCCESS on r1) from our -H: the only message left is
    # its success report to the sender.
    left = headers_of(tmp_path)
    assert len(left) == 1 and mid not in left[0].name
    report = left[0].read_text()
    assert "\n<>\n" in report and "\n1\ns@b.example\n" in report
    assert f"<= <> R={mid} " in log


def test_locks_are_shared_with_exim(tmp_path):
    """Postern's lock on -D keeps Exim from delivering the message, and Exim's keeps Postern out."""
    tool = tool_path()
    conf = make_conf(tmp_path)
    ids = exim_received_messages(conf)
    holder = subprocess.Popen([tool, "lock", str(tmp_path / "spool"), "0", ids[2]],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        run(["exim", "-C", str(conf), "-M", ids[2]])
        log = (tmp_path / "log" / "mainlog").read_text()
        assert f"{ids[2]} Spool file for {ids[2]} is locked (another process is handling this message)" in log
        assert f"{ids[2]} =>" not in log
        # while we hold it, a second Postern process cannot take it either
        r = run([tool, "lock", str(tmp_path / "spool"), "0", ids[2]], input=b"\n")
        assert r.returncode == 1
        assert r.stdout.decode() == f"Spool file for {ids[2]} is locked (another process is handling this message)\n"
    finally:
        holder.communicate(b"\n", timeout=10)
    assert holder.returncode == 0
    # released: Exim now takes it (and delivers; mailboxes here are not writable, so it defers)
    run(["exim", "-C", str(conf), "-M", ids[2]])
    log = (tmp_path / "log" / "mainlog").read_text()
    assert f"{ids[2]} == u6@test.example" in log


def test_exim_rewrites_postern_header_file(postern_bin, tmp_path):
    """Exim reads a Postern -H file, rewrites it (-Mmd, -Mar), and both still agree on it."""
    tool = tool_path()
    conf = make_conf(tmp_path)
    r = run([tool, "write", str(tmp_path / "spool"), "0", "s@b.example", "r1@test.example,r2@test.example"],
            input=b"Subject: s\n\nbody\n")
    mid = r.stdout.decode().strip()
    hfile = tmp_path / "spool" / "input" / f"{mid}-H"
    ours = hfile.read_bytes()
    assert run(["exim", "-C", str(conf), "-Mmd", mid, "r2@test.example"]).returncode == 0
    assert run(["exim", "-C", str(conf), "-Mar", mid, "r3@test.example"]).returncode == 0
    theirs = hfile.read_bytes()
    # Exim kept every line of ours except the recipients part it changed, and Postern's
    # integrity line, which it does not know (docs/spool.md: a rewrite drops it)
    assert b"\n-postern_sum " in ours and b"-postern_sum" not in theirs
    ours = re.sub(rb"\n-postern_sum [^\n]*", b"", ours, count=1)
    assert ours.split(b"\nXX\n")[0] == theirs.split(b"\nNN r2@test.example\n")[0]
    assert b"\n3\nr1@test.example rfc822;r1@test.example 22,12  0,-1#3\nr2@test.example\nr3@test.example\n\n" in theirs
    assert run([tool, "reformat", str(hfile)]).stdout == theirs
    e = run(["exim", "-C", str(conf), "-bp"])
    p = run([postern_bin, "-C", str(conf), "-bp"])
    assert p.stdout == e.stdout and b"        D r2@test.example\n" in p.stdout
