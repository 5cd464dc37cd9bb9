"""The SMTP session end to end: -bs on stdin/stdout, and the daemon on a loopback port driven by
raw sockets, smtplib and swaks (pipelining, synchronisation, CHUNKING, DSN, size limits,
timeouts). Expected replies and log lines are Exim 4.96's (checked with exim -bh / -bs)."""
import os
import pathlib
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

BASE = """\
spool_directory = {spool}
log_file_path = {spool}/log/%slog
exim_user = root
exim_group = root
primary_hostname = mail.example.com
tls_advertise_hosts =
acl_smtp_rcpt = acl_rcpt
{extra}
begin acl
acl_rcpt:
  deny  local_parts = refuse
        message = no such user
  accept
{acls}
"""


def write_conf(tmp_path, extra="", acls=""):
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    conf = tmp_path / "test.conf"
    conf.write_text(BASE.format(spool=spool, extra=extra, acls=acls))
    return conf, spool


def mainlog(spool):
    p = spool / "log" / "mainlog"
    return p.read_text() if p.exists() else ""


def bs(postern_bin, conf, data, timeout=20):
    p = subprocess.run([postern_bin, "-C", str(conf), "-bs"], input=data.encode(),
                       capture_output=True, timeout=timeout)
    return p.stdout.decode(errors="replace").replace("\r\n", "\n")


MESSAGE = "Subject: test\r\nFrom: a@b.example\r\n\r\nline one\r\n..dotted\r\n"


def test_bs_message_is_spooled_and_logged(postern_bin, tmp_path):
    conf, spool = write_conf(tmp_path)
    out = bs(postern_bin, conf, "HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
             "DATA\r\n" + MESSAGE + ".\r\nQUIT\r\n")
    m = re.search(r"^250 OK id=(\S+)$", out, re.M)
    assert m, out
    msgid = m.group(1)
    assert (spool / "input" / (msgid + "-H")).exists()
    data = (spool / "input" / (msgid + "-D")).read_text()
    assert data.endswith("line one\n.dotted\n")
    assert re.search(rf"{msgid} <= a@b.example U=\S+ P=local-smtp S=\d+", mainlog(spool))
    assert out.splitlines()[-1] == "221 mail.example.com closing connection"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_bs_untrusted_caller_cannot_set_sender(postern_bin):
    # pytest's tmp_path is under a 0700 directory: the unprivileged caller needs its own
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="postern-untrusted-"))
    tmp_path.chmod(0o777)
    conf, spool = write_conf(tmp_path, "qualify_domain = q.example")
    spool.chmod(0o777)
    conf.chmod(0o644)
    data = ("HELO x\r\nMAIL FROM:<forged@else.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
            + MESSAGE + ".\r\nQUIT\r\n")
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", postern_bin,
                        "-C", str(conf), "-bs"], input=data.encode(), capture_output=True, timeout=20)
    out = p.stdout.decode()
    assert re.search(r"^250 OK id=", out, re.M), out + p.stderr.decode()
    login = __import__("pwd").getpwuid(65534).pw_name
    assert f"<= {login}@q.example U={login} P=local-smtp" in mainlog(spool)
    shutil.rmtree(tmp_path)


def test_bs_pipelined_input_replies_in_order(postern_bin, tmp_path):
    conf, spool = write_conf(tmp_path)
    out = bs(postern_bin, conf, "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<refuse@d.example>\r\n"
             "RCPT TO:<c@d.example>\r\nDATA\r\n" + MESSAGE + ".\r\nRSET\r\nQUIT\r\n")
    codes = [l[:4] for l in out.splitlines()]
    assert codes[-7:] == ["250 ", "550 ", "250 ", "354 ", "250 ", "250 ", "221 "], out
    assert re.search(r"^250-mail.example.com Hello \S+ at x$", out, re.M), out
    log = mainlog(spool)
    assert "rejected RCPT <refuse@d.example>: no such user" in log
    assert "P=local-esmtp" in log


def test_bs_chunking(postern_bin, tmp_path):
    conf, spool = write_conf(tmp_path)
    part1 = "Subject: chunks\r\n\r\n"
    part2 = "body\r\n.\r\n"
    out = bs(postern_bin, conf, "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
             f"BDAT {len(part1)}\r\n{part1}BDAT {len(part2)} LAST\r\n{part2}QUIT\r\n")
    assert f"250 {len(part1)} byte chunk received" in out, out
    m = re.search(r"^250 OK id=(\S+)$", out, re.M)
    assert m, out
    assert (spool / "input" / (m.group(1) + "-D")).read_text().endswith("body\n.\n")


def test_bs_bdat_without_recipient_skips_the_chunk(postern_bin, tmp_path):
    conf, _ = write_conf(tmp_path)
    out = bs(postern_bin, conf, "EHLO x\r\nMAIL FROM:<a@b.example>\r\nBDAT 6\r\nNOOP\r\nNOOP\r\nQUIT\r\n")
    # the 6 bytes "NOOP\r\n" are the chunk, not a command
    assert out.splitlines()[-3:] == ["503 valid RCPT command must precede BDAT", "250 OK",
                                     "221 mail.example.com closing connection"], out


def test_bs_size_limits(postern_bin, tmp_path):
    conf, spool = write_conf(tmp_path, "message_size_limit = 1k")
    big = "Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 40
    out = bs(postern_bin, conf, "EHLO x\r\nMAIL FROM:<a@b.example> SIZE=5000\r\n"
             "MAIL FROM:<a@b.example> SIZE=100\r\nRCPT TO:<c@d.example>\r\nDATA\r\n" + big + ".\r\nQUIT\r\n")
    assert "250-SIZE 1024" in out
    assert "552 Message size exceeds maximum permitted" in out
    assert re.search(r"^552 ", out.split("354 ")[1], re.M), out
    assert not list((spool / "input").glob("*-H")) if (spool / "input").exists() else True
    assert "message too big: size=5000 max=1024" in mainlog(spool)


def test_bs_dsn_parameters_reach_the_spool(postern_bin, tmp_path):
    conf, spool = write_conf(tmp_path, "dsn_advertise_hosts = *")
    out = bs(postern_bin, conf, "EHLO x\r\nMAIL FROM:<a@b.example> RET=HDRS ENVID=id+2B1\r\n"
             "RCPT TO:<c@d.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;c+40d.example\r\n"
             "DATA\r\n" + MESSAGE + ".\r\nQUIT\r\n")
    m = re.search(r"^250 OK id=(\S+)$", out, re.M)
    assert m, out
    header = (spool / "input" / (m.group(1) + "-H")).read_text()
    assert "-dsn_ret 2" in header and "-dsn_envid id+1" in header, header
    assert "c@d.example" in header and "rfc822;c@d.example" in header, header


def test_bs_command_timeout(postern_bin, tmp_path):
    conf, spool = write_conf(tmp_path, "smtp_receive_timeout = 1s")
    p = subprocess.Popen([postern_bin, "-C", str(conf), "-bs"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    start = time.time()
    p.stdin.write(b"HELO x\r\n")
    p.stdin.flush()
    p.wait(timeout=10)
    elapsed = time.time() - start
    out = p.stdout.read().decode()
    p.stdin.close()
    assert 0.9 <= elapsed < 5
    assert out.splitlines()[-1] == "421 mail.example.com SMTP incoming data timeout - closing connection."
    assert "SMTP command timeout on connection from" in mainlog(spool)


def test_bs_long_line_is_an_unknown_command(postern_bin, tmp_path):
    conf, _ = write_conf(tmp_path)
    out = bs(postern_bin, conf, "HELO x\r\nNOOP " + "a" * 20000 + "\r\nNOOP\r\nQUIT\r\n")
    assert out.splitlines()[-3:] == ["500 unrecognized command", "250 OK",
                                     "221 mail.example.com closing connection"]


# ---- the daemon ------------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def daemon(postern_bin, tmp_path):
    procs = []

    def start(extra="", acls=""):
        port = free_port()
        conf, spool = write_conf(tmp_path, f"daemon_smtp_ports = {port}\nlocal_interfaces = 127.0.0.1\n{extra}", acls)
        p = subprocess.Popen([postern_bin, "-C", str(conf), "-bdf"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        procs.append(p)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("daemon did not start: " + p.stderr.read().decode())
        return port, spool

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def read_reply(f):
    lines = []
    while True:
        line = f.readline().decode()
        if not line:
            return "".join(lines)
        lines.append(line)
        if len(line) > 3 and line[3] == " ":
            return "".join(lines)


def wait_log(spool, text, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        if text in mainlog(spool):
            return True
        time.sleep(0.05)
    return False


def test_daemon_smtplib_message(daemon):
    port, spool = daemon()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        code, text = s.ehlo("client.example")
        assert code == 250 and b"PIPELINING" in text and b"CHUNKING" in text
        refused = s.sendmail("a@b.example", ["c@d.example", "refuse@d.example"], MESSAGE)
        assert refused == {"refuse@d.example": (550, b"no such user")}
    assert wait_log(spool, "<= a@b.example H=(client.example) [127.0.0.1] P=esmtp")


def test_daemon_pipelining_accepted_after_ehlo(daemon):
    port, spool = daemon()
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = c.makefile("rb")
    assert read_reply(f).startswith("220 ")
    c.sendall(b"EHLO x\r\n")
    assert "PIPELINING" in read_reply(f)
    c.sendall(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<refuse@d.example>\r\nDATA\r\n")
    assert [read_reply(f)[:3] for _ in range(4)] == ["250", "250", "550", "354"]
    c.sendall(MESSAGE.encode() + b".\r\nQUIT\r\n")
    assert read_reply(f).startswith("250 OK id=")
    assert read_reply(f).startswith("221 ")
    c.close()


def test_daemon_synchronization_error_without_pipelining(daemon):
    port, spool = daemon()
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = c.makefile("rb")
    read_reply(f)
    c.sendall(b"HELO x\r\nMAIL FROM:<a@b.example>\r\n")
    assert read_reply(f) == "554 SMTP synchronization error\r\n"
    assert f.readline() == b""  # dropped
    c.close()
    assert wait_log(spool, 'SMTP protocol synchronization error (next input sent too soon: pipelining '
                    'was not advertised): rejected "HELO x" H=[127.0.0.1] next input="MAIL FROM:<a@b.example>\\r\\n"')


def test_daemon_early_talker(daemon):
    port, spool = daemon("pipelining_connect_advertise_hosts = :")
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"EHLO x\r\n")
    time.sleep(0.3)
    f = c.makefile("rb")
    assert read_reply(f) == "554 SMTP synchronization error\r\n"
    c.close()
    assert wait_log(spool, "SMTP protocol synchronization error (input sent without waiting for greeting): "
                    'rejected connection from H=[127.0.0.1] input="EHLO x\\r\\n"')


def test_daemon_command_timeout(daemon):
    port, spool = daemon("smtp_receive_timeout = 1s")
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = c.makefile("rb")
    read_reply(f)
    start = time.time()
    assert read_reply(f) == "421 mail.example.com SMTP incoming data timeout - closing connection.\r\n"
    assert 0.9 <= time.time() - start < 5
    c.close()
    assert wait_log(spool, "SMTP command timeout on connection from [127.0.0.1]")


def test_daemon_data_timeout(daemon):
    port, spool = daemon("smtp_receive_timeout = 1s")
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = c.makefile("rb")
    read_reply(f)
    c.sendall(b"EHLO x\r\n")
    read_reply(f)
    c.sendall(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n")
    assert [read_reply(f)[:3] for _ in range(3)] == ["250", "250", "354"]
    c.sendall(b"Subject: x\r\n\r\npartial")
    assert read_reply(f) == "421 mail.example.com SMTP incoming data timeout - closing connection.\r\n"
    c.close()
    assert wait_log(spool, "SMTP data timeout (message abandoned) on connection from (x) [127.0.0.1] F=<a@b.example>")
    assert not list((spool / "input").glob("*-H"))


def test_daemon_proxy_protocol(daemon):
    # (a named ACL: inline ACL text built from tainted variables is refused, as in Exim)
    port, spool = daemon("hosts_proxy = 127.0.0.1\nacl_smtp_mail = acl_mail",
                         "acl_mail:\n  accept logwrite = proxy [$proxy_session] "
                         "[$proxy_local_address] [$proxy_external_address]:[$proxy_external_port]\n")
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = c.makefile("rb")
    c.sendall(b"PROXY TCP4 192.0.2.5 198.51.100.1 40000 25\r\n")
    assert read_reply(f).startswith("220 ")
    c.sendall(b"EHLO client.example\r\n")
    assert read_reply(f).startswith("250-mail.example.com Hello client.example [192.0.2.5]")
    c.sendall(b"MAIL FROM:<a@b.example>\r\n")
    assert read_reply(f) == "250 OK\r\n"
    c.close()
    assert wait_log(spool, "proxy [yes] [127.0.0.1] [198.51.100.1]:[25]")

    # A broken header: every command but QUIT is refused, and nothing is logged.
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = c.makefile("rb")
    c.sendall(b"PROXY NONSENSE\r\n")
    assert read_reply(f).startswith("220 ")
    c.sendall(b"EHLO x\r\n")
    assert read_reply(f) == "503 Command refused, required Proxy negotiation failed\r\n"
    c.sendall(b"QUIT\r\n")
    assert read_reply(f).startswith("221 ")
    c.close()


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_daemon_swaks_pipelining(daemon):
    port, spool = daemon()
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--from", "a@b.example",
                        "--to", "c@d.example", "--helo", "swaks.example", "--pipeline"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"<-  250 OK id=\S+", p.stdout), p.stdout
    assert wait_log(spool, "<= a@b.example H=(swaks.example) [127.0.0.1] P=esmtp")


# ---- batched SMTP (-bS) -----------------------------------------------------------------------

def bsmtp(postern_bin, conf, data):
    p = subprocess.run([postern_bin, "-C", str(conf), "-bS"], input=data.encode(),
                       capture_output=True, timeout=20)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_bsmtp_silent_batch(postern_bin, tmp_path):
    conf, spool = write_conf(tmp_path)
    rc, out, err = bsmtp(postern_bin, conf, "MAIL FROM:<a@b.example>\r\nRCPT TO:<refuse@d.example>\r\n"
                         "RCPT TO:<c@d.example>\r\nDATA\r\n" + MESSAGE + ".\r\nMAIL FROM:<x@b.example>\r\n"
                         "RCPT TO:<local>\r\nDATA\r\n" + MESSAGE + ".\r\nQUIT\r\n")
    assert (rc, out, err) == (0, "", "")
    assert len(list((spool / "input").glob("*-H"))) == 2
    assert "rejected RCPT <refuse@d.example>: no such user" in mainlog(spool)


def test_bsmtp_error_abandons_the_rest(postern_bin, tmp_path):
    # Exim 4.96's wording, line numbers and exit status (1: a message was processed before)
    conf, spool = write_conf(tmp_path)
    rc, out, err = bsmtp(postern_bin, conf, "HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
                         "DATA\r\nSubject: x\r\n\r\nb\r\n.\r\nFOO\r\nMAIL FROM:<x@y.z>\r\nQUIT\r\n")
    assert rc == 1
    assert out == "500 Command unrecognized\nTransaction started in line 8\nError detected in line 9\nFOO\n"
    assert err == ("An error was detected while processing a file of BSMTP input.\nThe error message was:\n\n"
                   "  500 Command unrecognized\n\nThe SMTP transaction started in line 8.\n"
                   "The error was detected in line 9.\nThe SMTP command at fault was:\n\n   FOO\n\n"
                   "1 previous message was successfully processed.\nThe rest of the batch was abandoned.\n")
    assert len(list((spool / "input").glob("*-H"))) == 1


def test_bsmtp_protocol_error_wording(postern_bin, tmp_path):
    conf, _ = write_conf(tmp_path)
    rc, out, _ = bsmtp(postern_bin, conf, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRSET\r\n"
                       "RCPT TO:<c@d.example>\r\n")
    assert rc == 2
    assert out == "503 No sender yet given\nTransaction started in line 3\nError detected in line 4\nRCPT TO:<c@d.example>\n"
