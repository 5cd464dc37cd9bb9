"""Exim 4.96 behaviours found by the -bh difference generator that are bugs and are deliberately
not copied (docs/smtp.md, "Known differences"). Each case is a conversation where Exim's answer
comes from state that should not have survived: Postern must give the sane answer."""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import bhdiff  # noqa: E402

CONF = """exim_user = root
exim_group = root
primary_hostname = mail.example.com
spool_directory = SPOOL
tls_advertise_hosts =
acl_smtp_mail = acl_mail
acl_smtp_rcpt = accept
acl_smtp_notquit = acl_nq
begin acl
acl_mail:
  discard senders = *@discard.example
  accept
acl_nq:
  accept logwrite = nq cmd=[$smtp_command] arg=[$smtp_command_argument]
"""


def replies(out):
    return [l for l in out.split("--- log ---")[0].splitlines() if l[:3].isdigit()]


def test_data_after_a_discarded_rcpt_and_rset_has_no_recipient(postern_bin):
    # Exim (plain seed 602249) keeps "recipients were discarded" across RSET and MAIL, takes this
    # DATA with no recipient and blackholes the message; the transaction here has no recipient.
    out = bhdiff.run(str(postern_bin), CONF, "1.2.3.4",
                     b"EHLO x\r\nMAIL FROM:<b@discard.example>\r\nRCPT TO:<r@y.example>\r\nRSET\r\n"
                     b"MAIL FROM:<c@ok.example>\r\nDATA\r\nQUIT\r\n")
    r = replies(out)
    assert r[-5:] == ["250 Accepted", "250 Reset OK", "250 OK",
                      "503 valid RCPT command must precede DATA",
                      "221 mail.example.com closing connection"], out
    assert "<=" not in out and "blackhole" not in out, out


def test_unrecognized_command_has_no_stale_argument(postern_bin):
    # Exim (plain seed 601458) reads $smtp_command_argument of an unrecognized command through a
    # pointer left at the last recognized command's argument offset ("YYYYYYY" here).
    out = bhdiff.run(str(postern_bin), CONF, "1.2.3.4",
                     b"EHLO a\r\nReply-To: x\r\nBOGUS\r\nYYYYYYYYYYYY\r\n")
    assert "LOG: nq cmd=[YYYYYYYYYYYY] arg=[]" in out, out



HELO_CONF = """exim_user = root
exim_group = root
primary_hostname = mail.example.com
spool_directory = SPOOL
tls_advertise_hosts =
acl_smtp_helo = acl_helo
helo_accept_junk_hosts = *
{extra}
begin acl
acl_helo:
  accept verify = helo
         logwrite = verified $sender_helo_name
  deny   message = not verified $sender_helo_name
"""


def test_helo_literals_are_compared_as_addresses(postern_bin):
    # Exim 4.96 (seeds 230086-230087) takes a literal that merely starts with the client's address
    # ("[1.2.3.40]" for 1.2.3.4) and never verifies a correctly tagged IPv6 literal.
    out = bhdiff.run(str(postern_bin), HELO_CONF.format(extra=""), "1.2.3.4",
                     b"EHLO [1.2.3.4]\r\nEHLO [1.2.3.40]\r\nEHLO [IPv6:1.2.3.4]\r\nQUIT\r\n")
    assert "LOG: verified [1.2.3.4]" in out, out
    assert "550 not verified [1.2.3.40]" in out, out
    assert "550 not verified [IPv6:1.2.3.4]" in out, out
    out = bhdiff.run(str(postern_bin), HELO_CONF.format(extra=""), "2001:db8::5",
                     b"EHLO [IPv6:2001:db8::5]\r\nEHLO [ipv6:2001:0DB8:0:0:0:0:0:5]\r\n"
                     b"EHLO [IPv6:2001:db8::50]\r\nQUIT\r\n")
    assert "LOG: verified [IPv6:2001:db8::5]" in out, out
    assert "LOG: verified [ipv6:2001:0DB8:0:0:0:0:0:5]" in out, out
    assert "550 not verified [IPv6:2001:db8::50]" in out, out


def test_helo_verify_hosts_compares_literals_as_addresses(postern_bin):
    # The same comparison decides helo_verify_hosts (Exim 4.96: seed 230088).
    out = bhdiff.run(str(postern_bin), HELO_CONF.format(extra="helo_verify_hosts = *"), "1.2.3.4",
                     b"EHLO [1.2.3.4]\r\nEHLO [1.2.3.40]\r\nQUIT\r\n")
    r = replies(out)
    assert r[1].startswith("250-mail.example.com Hello [1.2.3.4]"), out
    assert "550 EHLO argument does not match calling host" in r, out
    assert 'LOG: rejected "EHLO [1.2.3.40]" from ([1.2.3.40]) [1.2.3.4]' in out, out
