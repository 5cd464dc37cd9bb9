"""Many messages on one SMTP connection: what lasts the connection (pool_conn) must not grow with
each message, or a client sending smtp_accept_max_per_connection messages makes the session
process grow without bound. The session prints pool_conn's size before each command under
-d+memory (debug output only); each test sends hundreds of messages through -bs and checks
that the size after the first few messages stays where it was, and that the per-message values
kept elsewhere now (ACL variables, $authenticated_sender, ACL header lines) are still right."""
import base64
import re
import socket
import subprocess
import threading

import pytest

from dns_server import DnsServer

CONF = """\
spool_directory = {spool}
log_file_path = {spool}/log/%slog
exim_user = root
exim_group = root
primary_hostname = mx.example.com
tls_advertise_hosts =
smtp_accept_max_per_connection = 0
domainlist local_domains = server.example
acl_smtp_connect = acl_connect
acl_smtp_helo = acl_helo
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt
acl_smtp_predata = acl_predata
acl_smtp_data = acl_data
{extra}
begin acl
acl_connect:
  accept set acl_c_conn = connected
acl_helo:
  accept
acl_mail:
  warn set acl_m_sender = $sender_address
  accept
acl_rcpt:
{rcpt_acl}
  warn log_message = rcpt $local_part
  warn ratelimit = 1000 / 1h / per_rcpt / $local_part
  warn verify = sender
  deny domains = refused.example
       message = no such domain
  accept domains = +local_domains
acl_predata:
  accept
acl_data:
  warn regex = ^body ([0-9]+)
       set acl_m_body = $regex1
  warn ratelimit = 1000 / 1h / per_mail / $sender_address
  warn message = X-Checked: $acl_m_sender auth=$authenticated_sender body=$acl_m_body per=$sender_rate_period
{data_acl}
  accept
{acls}
begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = true
  server_set_id = $auth2
"""

MIME_ACL = """\
acl_mime:
  warn condition = ${if eq{$mime_content_type}{text/plain}}
       set acl_m_mime = $mime_content_type
  accept
"""

# Growth allowed after the first messages: nothing per message (numbers in addresses have a
# fixed width, so no value outgrows its storage); a little for one buffer growing once.
SLACK = 32


def run_session(postern_bin, tmp_path, commands, extra="", acls="", rcpt_acl="", data_acl="", args=()):
    spool = tmp_path / "spool"
    (spool / "log").mkdir(parents=True)
    conf = tmp_path / "c.conf"
    conf.write_text(CONF.format(spool=spool, extra=extra, acls=acls, rcpt_acl=rcpt_acl, data_acl=data_acl))
    p = subprocess.run([postern_bin, "-C", str(conf), "-odq", "-d-all+memory", *args, "-bs"],
                       input="".join(c + "\r\n" for c in commands).encode(),
                       capture_output=True, timeout=300)
    sizes = [int(x) for x in re.findall(rb"connection arena: (\d+) bytes in use", p.stderr)]
    return p.stdout.decode(errors="replace"), sizes, spool


def message(i, extra_mail="", body_headers=""):
    return [f"MAIL FROM:<s{i:03d}@client.example>{extra_mail}", "RCPT TO:<r@server.example>",
            "RCPT TO:<x@refused.example>", "DATA",
            f"Subject: {i:03d}\r\n{body_headers}\r\nbody {i:03d}\r\n."]


def check_flat(sizes, messages, per_message):
    """sizes: one per command, per_message commands each; after the first 10 messages the
    largest size may exceed the size then by SLACK at most."""
    assert len(sizes) >= messages * per_message, f"only {len(sizes)} commands seen"
    start = 10 * per_message
    growth = max(sizes[start:]) - sizes[start]
    print(f"pool_conn: {sizes[start]} bytes after 10 messages, at most {max(sizes[start:])} after {messages}")
    assert growth <= SLACK, (f"pool_conn grew by {growth} bytes over {messages - 10} messages "
                             f"({sizes[start]} -> {max(sizes[start:])})")


def spooled_headers(spool, queue=""):
    """The -H files' contents, by message id (of the named queue's spool if queue is given)."""
    return {p.name[:-2]: p.read_text(errors="replace") for p in (spool / queue / "input").rglob("*-H")}


def test_acls_and_refused_recipients_do_not_grow_the_connection(postern_bin, tmp_path):
    n = 500
    cmds = ["EHLO client.example"]
    for i in range(n):
        cmds += message(i)
    cmds.append("QUIT")
    out, sizes, spool = run_session(postern_bin, tmp_path, cmds)
    assert out.count("\n250 OK id=") == n, out[-500:]
    assert out.count("550 no such domain") == n
    check_flat(sizes, n, 4)
    # the ACL's header of every message has that message's own sender (acl_m_sender)
    headers = spooled_headers(spool)
    assert len(headers) == n
    for text in headers.values():
        subject = re.search(r"Subject: (\d+)", text).group(1)
        assert f"X-Checked: s{subject}@client.example auth= body={subject} per=1h\n" in text, text


def test_auth_mime_and_utf8_do_not_grow_the_connection(postern_bin, tmp_path):
    n = 300
    cmds = ["EHLO client.example", "AUTH PLAIN " + base64.b64encode(b"\0user\0pw").decode()]
    for i in range(n):
        utf8 = " SMTPUTF8" if i % 2 else ""
        cmds += message(i, f" AUTH=a{i:03d}@client.example{utf8}",
                        "Content-Type: text/plain\r\nMIME-Version: 1.0\r\n")
    cmds.append("QUIT")
    out, sizes, spool = run_session(postern_bin, tmp_path, cmds, extra="acl_smtp_mime = acl_mime",
                                    acls=MIME_ACL)
    assert "235 Authentication succeeded" in out
    assert out.count("\n250 OK id=") == n, out[-500:]
    check_flat(sizes, n, 4)
    headers = spooled_headers(spool)
    assert len(headers) == n
    for text in headers.values():
        subject = re.search(r"Subject: (\d+)", text).group(1)
        # each message's own AUTH= (decoded into a buffer the connection reuses)
        assert f"X-Checked: s{subject}@client.example auth=a{subject}@client.example body={subject} per=1h\n" in text, text
        assert f"--auth_sender a{subject}@client.example\n" in text
        # the MIME ACL's acl_m variable, set for each message
        assert "--aclm _mime 10\ntext/plain\n" in text, text


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    server = DnsServer(tmp_path_factory.mktemp("dns")).start()
    yield server
    server.stop()


# One ACL feature each, used in every message: extra RCPT ACL lines, extra DATA ACL lines (an
# X-Extra: header shows the value read later), extra message header lines, the named queue the
# messages land in, and the X-Extra: value expected ({i} is the message's number).
FEATURES = {
    # the unquoted local part, and $local_part_data read in the DATA ACL
    "local_parts": ("  warn local_parts = r : other\n       set acl_m_lp = $local_part_data",
                    "  warn message = X-Extra: lp=$acl_m_lp", "", "", "lp=r"),
    # a client with a name (-oMs): the name matched against a host list
    "hosts": ("  warn hosts = *.example : 10.0.0.0/8\n       set acl_m_h = named",
              "  warn message = X-Extra: h=$acl_m_h", "", "", "h=named"),
    "queue": ("  warn queue = second", "  warn message = X-Extra: queued", "", "second", "queued"),
    # the submission domain makes the authenticated client's Sender: (the test logs in)
    "submission": ("  warn control = submission/domain=sub.example",
                   "  warn message = X-Extra: sub", "From: f{i}@else.example\r\n", "", "sub"),
    # $prvscheck_result lasts beyond the item (kept by the expansion environment)
    "prvscheck": ("", "  warn set acl_m_p = ${prvscheck{${prvs{$sender_address}{k}}}{k}}\n"
                  "  warn message = X-Extra: $acl_m_p [$prvscheck_result]", "", "",
                  "s{i}@client.example [1]"),
    "dnslists": ("", "  warn dnslists = bl.test/127.0.0.2\n  warn message = X-Extra: $dnslist_text",
                 "", "", "listed: see http://bl.test/2"),
    # a named ACL with an argument (expanded for the nested run)
    "acl": ("  warn acl = acl_sub $sender_address", "  warn message = X-Extra: sub=$acl_m_sub", "", "",
            "sub=s{i}@client.example"),
    # one key: every message but the first has been seen
    "seen": ("  warn seen = 1h / key=$local_part\n       set acl_m_seen = yes",
             "  warn message = X-Extra: seen=$acl_m_seen", "", "", "seen=yes"),
    # to the test's UDP socket, one datagram per recipient
    "udpsend": ("  warn udpsend = 127.0.0.1 : {udp_port} : hi $sender_address",
                "  warn message = X-Extra: sent", "", "", "sent"),
    # its text is the reply to DATA (the message is kept)
    "fakereject": ("  warn control = fakereject/nope $sender_address",
                   "  warn message = X-Extra: fake", "", "", "fake"),
}

EXTRA_ACLS = {"acl": "acl_sub:\n  accept set acl_m_sub = $acl_arg1\n"}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_acl_feature_does_not_grow_the_connection(postern_bin, tmp_path, feature, request):
    rcpt_acl, data_acl, headers_tpl, queue, want = FEATURES[feature]
    extra = ""
    if feature == "dnslists":
        extra = f"dns_servers = 127.0.0.1.{request.getfixturevalue('dns').port}\ndns_retrans = 1s\ndns_retry = 1"
    n = 200
    cmds = ["EHLO client.example"]
    if feature == "submission":
        cmds.append("AUTH PLAIN " + base64.b64encode(b"\0user\0pw").decode())
    for i in range(n):
        cmds += message(i, body_headers=headers_tpl.format(i=f"{i:03d}"))
    cmds.append("QUIT")
    if feature == "local_parts":   # a quoted local part is unquoted into a copy
        cmds = [c.replace("<r@", '<"r"@') for c in cmds]
    udp, datagrams, reader = None, [], None
    if feature == "udpsend":
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(60)
        rcpt_acl = rcpt_acl.replace("{udp_port}", str(udp.getsockname()[1]))
        # read while the session sends (400 datagrams may not fit the socket's buffer),
        # both recipients' RCPT ACLs send one
        reader = threading.Thread(target=lambda: datagrams.extend(udp.recv(200) for _ in range(2 * n)), daemon=True)
        reader.start()
    args = ("-oMa", "192.0.2.1", "-oMs", "client.example") if feature == "hosts" else ()
    out, sizes, spool = run_session(postern_bin, tmp_path, cmds, extra=extra, rcpt_acl=rcpt_acl,
                                    data_acl=data_acl, acls=EXTRA_ACLS.get(feature, ""), args=args)
    if feature == "fakereject":
        for i in range(n):
            assert f"\n550 nope s{i:03d}@client.example\r\n" in out, out[-500:]
    else:
        assert out.count("\n250 OK id=") == n, out[-500:]
    if udp:
        reader.join()
        udp.close()
        got = sorted(datagrams)
        # the data is all after the port's separator, its space too
        assert got == sorted([f" hi s{i:03d}@client.example".encode() for i in range(n)] * 2)
    check_flat(sizes, n, 4)
    headers = spooled_headers(spool, queue)
    assert len(headers) == n
    for text in headers.values():
        subject = re.search(r"Subject: (\d+)", text).group(1)
        # the key's first check has no record yet
        expected = "seen=" if feature == "seen" and subject == "000" else want.format(i=subject)
        assert f"X-Extra: {expected}\n" in text, text
        if feature == "submission":
            assert "Sender: user@sub.example\n" in text, text
