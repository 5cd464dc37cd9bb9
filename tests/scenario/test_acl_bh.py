"""ACLs in SMTP sessions under -bh, against what Exim 4.96 says for the same configuration and
conversation: the rejection replies (4xx/5xx) and the log lines. Covers verbs, message and
log_message, forced expansion failure, negation, acl_m variables, nested ACLs with arguments,
warn logging, ratelimit (strict, readonly, per-command reuse), verify = header_syntax / not_blind,
verify = helo with address literals, codes in messages, multi-line and folded long replies, seen,
ACLs from files and inline text, expansion of the ACL option (errors, taint, empty).

The expectations were recorded from `exim -bh`; test_acl_bh_matches_exim re-checks them live when
Exim is installed, so the table cannot drift from Exim.
"""
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CASES = [
    ('spool_directory = {spool}\nacl_smtp_rcpt = rcpt\nbegin acl\nrcpt:\n  deny ratelimit = 2 / 1h / per_rcpt / strict\n       message = over $sender_rate / $sender_rate_limit / $sender_rate_period\n  warn ratelimit = 5 / 1h / readonly / per_cmd\n       log_message = ro $sender_rate\n  accept message = ok $sender_rate\n',
     'helo x\nmail from:<a@b.example>\nrcpt to:<x1@good.example>\nrcpt to:<x2@good.example>\nrcpt to:<x3@good.example>\nrcpt to:<x4@good.example>\nquit\n',
     ['550 over 3.0 / 2 / 1h', '550 over 4.0 / 2 / 1h'],
     ['LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <x3@good.example>: over 3.0 / 2 / 1h', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <x4@good.example>: over 4.0 / 2 / 1h']),
    ('spool_directory = {spool}\nacl_smtp_rcpt = rcpt\nacl_smtp_data = data\nbegin acl\nrcpt:\n  accept\ndata:\n  deny  !verify = header_syntax\n        message = header syntax: $acl_verify_message\n  deny  !verify = not_blind\n  warn  add_header = X-Checked: yes\n  accept\n',
     'helo x\nmail from:<a@b.example>\nrcpt to:<x1@good.example>\ndata\nFrom: a@b.example\nTo: "broken <x1@good.example>\nSubject: x\n\nbody\n.\nmail from:<a@b.example>\nrcpt to:<x1@good.example>\nrcpt to:<hidden@good.example>\ndata\nFrom: a@b.example\nTo: x1@good.example\nSubject: x\n\nbody\n.\nquit\n',
     ['550 header syntax: ', '550 Administrative prohibition'],
     ['LOG: ID H=(x) [1.2.3.4] F=<a@b.example> rejected after DATA: unmatched doublequote in local part: failing address in "To:" header is: "broken <x1@good.example>', 'LOG: ID H=(x) [1.2.3.4] F=<a@b.example> rejected after DATA: bcc recipient detected']),
    ('spool_directory = {spool}\nacl_smtp_rcpt = rcpt\nacl_smtp_mail = mail\nbegin acl\nmail:\n  warn   log_message = W1 $sender_address\n  warn   condition = ${if eq{$sender_address}{}}\n         logwrite = null sender\n  accept\nrcpt:\n  deny   local_parts = d1\n         message = denied $local_part@$domain\n         log_message = logged $local_part\n  defer  local_parts = d2\n  require local_parts = ! d3\n          message = require failed for $local_part\n  deny   local_parts = d4\n         condition = ${if eq{a}{b}{yes}fail}\n         message = forced fail means the condition is ignored\n  warn   ! hosts = 9.9.9.9\n         set acl_m_x = notnine\n  deny   local_parts = d5\n         message = x=$acl_m_x\n  deny   local_parts = d6\n         acl = inner $local_part two\n  accept\ninner:\n  accept condition = ${if eq{$acl_arg1}{d6}}\n         message = inner saw $acl_narg args\n',
     'helo x\nmail from:<a@b.example>\nrcpt to:<d1@y.example>\nrcpt to:<d2@y.example>\nrcpt to:<d3@y.example>\nrcpt to:<d4@y.example>\nrcpt to:<d5@y.example>\nrcpt to:<d6@y.example>\nrcpt to:<ok@y.example>\nrset\nmail from:<>\nrcpt to:<d1@y.example>\nquit\n',
     ['550 denied d1@y.example', '451 Temporary local problem - please try later', '550 Administrative prohibition', '550 forced fail means the condition is ignored', '550 x=notnine', '550 inner saw 2 args', '550 denied d1@y.example'],
     ['LOG: H=(x) [1.2.3.4] Warning: W1 a@b.example', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <d1@y.example>: logged d1', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> temporarily rejected RCPT <d2@y.example>', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <d3@y.example>', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <d4@y.example>: forced fail means the condition is ignored', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <d5@y.example>: x=notnine', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <d6@y.example>: inner saw 2 args', 'LOG: H=(x) [1.2.3.4] Warning: W1 ', 'LOG: null sender', 'LOG: H=(x) [1.2.3.4] F=<> rejected RCPT <d1@y.example>: logged d1']),
    ('spool_directory = {spool}\nacl_smtp_rcpt = rcpt\nacl_smtp_helo = helo\nacl_smtp_mail = mail\nbegin acl\nhelo:\n  deny   condition = ${if eq{$sender_helo_name}{bad}}\n         message = bad helo name $sender_helo_name\n  accept\nmail:\n  deny   !verify = helo\n         message = helo not verified\n  accept\nrcpt:\n  deny   local_parts = multi\n         message = line one\\nline two\n  deny   local_parts = code\n         message = 551 5.7.1 with code\n  deny   local_parts = wrongcode\n         message = 451 wrong class\n  deny   local_parts = verb\n         message = verify msg [$acl_verify_message]\n         condition = true\n  accept\n',
     'helo bad\nhelo [1.2.3.4]\nmail from:<a@b.example>\nrcpt to:<multi@y.example>\nrcpt to:<code@y.example>\nrcpt to:<wrongcode@y.example>\nrcpt to:<verb@y.example>\nrset\nhelo [5.6.7.8]\nmail from:<a@b.example>\nquit\n',
     ['550 bad helo name bad', '550-line one', '550 line two', '551 5.7.1 with code', '550 wrong class', '550 verify msg []', '550 helo not verified'],
     ['LOG: H=(bad) [1.2.3.4] rejected EHLO or HELO bad: bad helo name bad', 'LOG: H=([1.2.3.4]) [1.2.3.4] F=<a@b.example> rejected RCPT <multi@y.example>: line one', 'LOG: H=([1.2.3.4]) [1.2.3.4] F=<a@b.example> rejected RCPT <code@y.example>: 551 5.7.1 with code', 'LOG: configured error code starts with incorrect digit (expected 5) in "451 wrong class"', 'LOG: H=([1.2.3.4]) [1.2.3.4] F=<a@b.example> rejected RCPT <wrongcode@y.example>: 550 wrong class', 'LOG: H=([1.2.3.4]) [1.2.3.4] F=<a@b.example> rejected RCPT <verb@y.example>: verify msg []', 'LOG: H=([5.6.7.8]) [1.2.3.4] rejected MAIL <a@b.example>: helo not verified']),
    ('spool_directory = {spool}\nacl_smtp_rcpt = rcpt\nbegin acl\nrcpt:\n  deny local_parts = a\n       message = Rejected because of something: the reason text continues here for a while longer than that\n  deny local_parts = b\n       message = Rejected because of something quite a bit longer: the reason text continues here for a while longer than that\n  accept\n',
     'helo x\nmail from:<a@b.example>\nrcpt to:<a@y.example>\nrcpt to:<b@y.example>\nquit\n',
     ['550-Rejected because of something: the reason text continues here for a while', '550 longer than that', '550-Rejected because of something quite a bit longer:', '550 the reason text continues here for a while longer than that'],
     ['LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <a@y.example>: Rejected because of something: the reason text continues here for a while longer than that', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <b@y.example>: Rejected because of something quite a bit longer: the reason text continues here for a while longer than that']),
    ('spool_directory = {spool}\nacl_smtp_rcpt = rcpt\nbegin acl\nrcpt:\n  defer  local_parts = g1\n         seen = -5m / key=${sender_host_address}_$local_part@$domain\n         message = seen before 5m ago\n  deny   local_parts = g1\n         message = not seen 5m ago\n  deny   local_parts = g2\n         seen = 1h / key=k2\n         message = seen within the hour\n  deny   local_parts = g3\n         seen = 1h / key=k3 / readonly\n         message = g3 seen\n  accept\n',
     'helo x\nmail from:<a@b.example>\nrcpt to:<g1@y.example>\nrcpt to:<g1@y.example>\nrcpt to:<g2@y.example>\nrcpt to:<g2@y.example>\nrcpt to:<g3@y.example>\nrcpt to:<g3@y.example>\nquit\n',
     ['550 not seen 5m ago', '550 not seen 5m ago', '550 seen within the hour'],
     ['LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <g1@y.example>: not seen 5m ago', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <g1@y.example>: not seen 5m ago', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <g2@y.example>: seen within the hour']),
    ('spool_directory = {spool}\nacl_smtp_rcpt = ${if eq{1}{1}{$bad}}\nbegin acl\nacl_x:\n  deny message = in acl_x\nacl_y:\n  accept\n',
     'helo x\nmail from:<a@b.example>\nrcpt to:<x@y.example>\nquit\n',
     ['451 Temporary local problem - please try later'],
     ['LOG: H=(x) [1.2.3.4] F=<a@b.example> temporarily rejected RCPT <x@y.example>: failed to expand ACL string "${if eq{1}{1}{$bad}}": unknown variable name "bad"']),
    ('spool_directory = {spool}\nacl_smtp_rcpt = acl_$local_part\nbegin acl\nacl_x:\n  deny message = in acl_x\nacl_y:\n  accept\n',
     'helo x\nmail from:<a@b.example>\nrcpt to:<x@y.example>\nquit\n',
     ['451 Temporary local problem - please try later'],
     ['LOG: attempt to use tainted ACL text "acl_x"', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> temporarily rejected RCPT <x@y.example>: internal configuration error']),
    ('spool_directory = {spool}\nacl_smtp_rcpt = ${if eq{1}{2}{x}}\nbegin acl\nacl_x:\n  deny message = in acl_x\nacl_y:\n  accept\n',
     'helo x\nmail from:<a@b.example>\nrcpt to:<x@y.example>\nquit\n',
     ['550 Administrative prohibition'],
     ['LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <x@y.example>']),
    ('spool_directory = {spool}\nacl_smtp_rcpt = {spool}/rcpt.acl\nacl_smtp_mail = deny senders = *@blocked.example\\n accept\nacl_smtp_vrfy = accept\nacl_smtp_expn = nosuchacl\n',
     'helo x\nmail from:<a@blocked.example>\nmail from:<a@b.example>\nrcpt to:<f1@y.example>\nrcpt to:<f2@y.example>\nexpn foo\nquit\n',
     ['550 Administrative prohibition', '550 from the file with a continuation', '451 Temporary local problem - please try later'],
     ['LOG: H=(x) [1.2.3.4] rejected MAIL <a@blocked.example>', 'LOG: H=(x) [1.2.3.4] F=<a@b.example> rejected RCPT <f1@y.example>: from the file with a continuation', 'LOG: H=(x) [1.2.3.4] temporarily rejected EXPN foo: unknown ACL verb "nosuchacl" in "nosuchacl"']),
]


def run_bh(binary, tmp_path, conf_text, conversation, ip="1.2.3.4"):
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    spool.chmod(0o1777)
    # an ACL file some cases name
    (spool / "rcpt.acl").write_text("# an ACL file\ndeny local_parts = f1\n     message = from the file \\\n"
                                    "               with a continuation\naccept\n")
    conf = tmp_path / "bh.conf"
    conf.write_text(conf_text.replace("{spool}", str(spool)))
    p = subprocess.run([binary, "-C", str(conf), "-bh", ip], input=conversation, capture_output=True,
                       text=True, timeout=60)
    lines = (p.stdout + p.stderr).splitlines()
    replies = [l for l in lines if re.match(r"^[45]\d\d[ -]", l)]
    logs = [re.sub(r"^LOG: 1x\S+ ", "LOG: ID ", l) for l in lines if l.startswith("LOG:")]
    return replies, logs


@pytest.mark.parametrize("case", range(len(CASES)))
def test_acl_bh(postern_bin, tmp_path, case):
    conf, conversation, want_replies, want_logs = CASES[case]
    replies, logs = run_bh(postern_bin, tmp_path, conf, conversation)
    assert replies == want_replies
    assert logs == want_logs


@pytest.mark.skipif(shutil.which("exim") is None, reason="Exim 4.96 not installed")
@pytest.mark.parametrize("case", range(len(CASES)))
def test_acl_bh_matches_exim(tmp_path, case):
    conf, conversation, want_replies, want_logs = CASES[case]
    # Exim gives up root for the session: its spool must be reachable by the exim user, which
    # pytest's private tmp_path is not.
    d = Path(tempfile.mkdtemp(prefix="acl_bh_", dir="/tmp"))
    d.chmod(0o755)
    try:
        replies, logs = run_bh("exim", d, conf, conversation)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert replies == want_replies
    assert logs == want_logs
