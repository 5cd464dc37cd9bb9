"""AUTH through `postern -bh`, compared line by line with `exim -bh` on the same configuration and
conversation: plaintext PLAIN/LOGIN, cram_md5 refusals, and the dovecot authenticator against a real
Dovecot over its Unix socket and an inet listener. What is compared: every reply after the EHLO
response and every `LOG:` line (Exim's -bh debug lines starting ">>>" are dropped)."""
import os
import re
import shutil
import subprocess

import pytest

from test_auth_dovecot import dovecot  # noqa: F401  (a fixture: a real Dovecot for this module)

EXIM = shutil.which("exim") or "/usr/sbin/exim"


@pytest.fixture(scope="module")
def bh_ready(postern_bin, tmp_path_factory):
    conf = tmp_path_factory.mktemp("probe") / "c.conf"
    conf.write_text("")
    r = subprocess.run([postern_bin, "-C", str(conf), "-bh", "192.0.2.1"], input="QUIT\r\n",
                       capture_output=True, text=True, timeout=30)
    if "not built yet" in r.stdout + r.stderr:
        pytest.skip("postern -bh is not built in this tree yet")
    if not os.path.exists(EXIM):
        pytest.skip("exim not installed")


def transcript(cmd, conversation):
    r = subprocess.run(cmd, input=conversation, capture_output=True, text=True, timeout=60)
    lines = (r.stdout + r.stderr).splitlines()
    out, after_ehlo = [], False
    for line in lines:
        if line.startswith(">>>") or line.startswith("**** ") or not line.strip():
            continue
        if line.startswith("LOG:"):
            out.append(line)
        elif after_ehlo:
            out.append(line)
        elif re.match(r"^250 ", line):
            after_ehlo = True
    return out


def both(postern_bin, conf, conversation, ip="192.0.2.1"):
    conv = "EHLO client.example\r\n" + conversation + "QUIT\r\n"
    want = transcript([EXIM, "-C", str(conf), "-bh", ip], conv)
    got = transcript([postern_bin, "-C", str(conf), "-bh", ip], conv)
    return got, want


PLAINTEXT = """
primary_hostname = mx.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
auth_advertise_hosts = *
acl_smtp_mail = accept
acl_smtp_rcpt = accept
begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${{if and {{{{eq{{$auth2}}{{userx}}}}{{eq{{$auth3}}{{secret}}}}}}}}
  server_set_id = $auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = ${{if and {{{{eq{{$auth1}}{{userx}}}}{{eq{{$auth2}}{{secret}}}}}}}}
  server_set_id = $auth1
cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = ${{if eq{{$auth1}}{{ph10}}{{secret}}fail}}
  server_set_id = $auth1
maybe:
  driver = plaintext
  public_name = MAYBE
  server_condition = maybe
  server_set_id = $auth1
"""

PLAINTEXT_CONVERSATIONS = [
    "AUTH PLAIN AHVzZXJ4AHNlY3JldA==\r\n",
    "AUTH PLAIN AHVzZXJ4AHdyb25n\r\n",
    "AUTH PLAIN\r\nAHVzZXJ4AHNlY3JldA==\r\n",
    "AUTH PLAIN =\r\n",
    "AUTH PLAIN\r\n=\r\n",
    "AUTH PLAIN\r\n*\r\n",
    "AUTH PLAIN !!!\r\n",
    "AUTH LOGIN\r\ndXNlcng=\r\nc2VjcmV0\r\n",
    "AUTH LOGIN dXNlcng=\r\nd3Jvbmc=\r\n",
    "AUTH LOGIN\r\ndXNlcng=\r\n*\r\n",
    "AUTH CRAM-MD5 YQ==\r\n",
    "AUTH MAYBE YQ==\r\n",
    "AUTH FOO\r\n",
    "AUTH PLAIN AHVzZXJ4AHNlY3JldA==\r\nAUTH PLAIN AHVzZXJ4AHNlY3JldA==\r\n",
    "AUTH PLAIN AHVzZXJ4AHNlY3JldA==\r\nMAIL FROM:<a@b.example> AUTH=<>\r\n",
]


@pytest.mark.parametrize("conversation", PLAINTEXT_CONVERSATIONS)
def test_plaintext_like_exim(postern_bin, bh_ready, tmp_path, conversation):
    conf = tmp_path / "auth.conf"
    conf.write_text(PLAINTEXT.format(d=tmp_path))
    got, want = both(postern_bin, conf, conversation)
    assert got == want


DOVECOT_CONF = """
primary_hostname = mx.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
auth_advertise_hosts = *
begin authenticators
dp:
  driver = dovecot
  public_name = PLAIN
  server_socket = {sock}
  server_set_id = $auth1
dl:
  driver = dovecot
  public_name = LOGIN
  server_socket = {sock}
  server_set_id = $auth1
"""

DOVECOT_CONVERSATIONS = [
    "AUTH PLAIN AHVzZXJ4AHNlY3JldA==\r\n",
    "AUTH PLAIN AHVzZXJ4AHdyb25n\r\n",
    "AUTH PLAIN\r\nAHVzZXJ4AHNlY3JldA==\r\n",
    "AUTH LOGIN\r\ndXNlcng=\r\nc2VjcmV0\r\n",
    "AUTH LOGIN dXNlcng=\r\nd3Jvbmc=\r\n",
    "AUTH LOGIN\r\ndXNlcng=\r\n*\r\n",
    "AUTH PLAIN AG5vYm9keQB4\r\n",
]


@pytest.mark.parametrize("kind", ["unix", "inet"])
@pytest.mark.parametrize("case", range(len(DOVECOT_CONVERSATIONS)))
def test_dovecot_like_exim(postern_bin, bh_ready, dovecot, tmp_path, kind, case):  # noqa: F811
    conf = tmp_path / "dove.conf"
    conf.write_text(DOVECOT_CONF.format(d=tmp_path, sock=dovecot[kind]))
    # a client address per case: Dovecot delays addresses with recent failures
    got, want = both(postern_bin, conf, DOVECOT_CONVERSATIONS[case], ip=f"203.0.113.{case * 2 + (kind == 'inet') + 1}")
    assert got == want
    assert any(l.startswith(("235", "535", "501")) for l in got)


def test_dovecot_unreachable_like_exim(postern_bin, bh_ready, tmp_path):
    conf = tmp_path / "dove.conf"
    conf.write_text(DOVECOT_CONF.format(d=tmp_path, sock=tmp_path / "nosuch.sock"))
    got, want = both(postern_bin, conf, "AUTH PLAIN AHVzZXJ4AHNlY3JldA==\r\n")
    assert got == want
    assert "LOG: dp authenticator failed for (client.example) [192.0.2.1]: 435 Unable to authenticate at " \
        f"present: unable to connect to UNIX socket ({tmp_path}/nosuch.sock): No such file or directory" in got


def bs_transcript(binary, conf, logdir, conversation):
    r = subprocess.run([binary, "-C", str(conf), "-bs"], input=conversation, capture_output=True,
                       text=True, timeout=60)
    replies = [l for l in r.stdout.splitlines() if not l.startswith(("220 ", "250-"))]
    log = logdir / "log" / "mainlog"
    lines = [re.sub(r"^\S+ \S+ ", "", l) for l in (log.read_text().splitlines() if log.exists() else [])
             if "authenticator" in l]
    return replies, lines


@pytest.mark.parametrize("kind", ["unix", "inet"])
def test_bs_dovecot_like_exim(postern_bin, bh_ready, dovecot, tmp_path, kind):  # noqa: F811
    """-bs: a local caller (no client address: Exim sends rip=NULL lip=NULL to Dovecot)."""
    conv = ("EHLO client.example\r\nAUTH PLAIN AHVzZXJ4AHNlY3JldA==\r\nQUIT\r\n"
            "EHLO client.example\r\nAUTH LOGIN dXNlcng=\r\nd3Jvbmc=\r\nQUIT\r\n")
    out = {}
    for name, binary in (("exim", EXIM), ("postern", postern_bin)):
        d = tmp_path / name
        d.mkdir()
        conf = d / "dove.conf"
        conf.write_text(DOVECOT_CONF.format(d=d, sock=dovecot[kind]))
        first, second = conv.split("QUIT\r\n")[:2]
        out[name] = [bs_transcript(binary, conf, d, part + "QUIT\r\n") for part in (first, second)]
    assert [replies for replies, log in out["postern"]] == [replies for replies, log in out["exim"]]
    # The log lines' host part differs (Exim: "failed for root:", the session: "failed for
    # (client.example) U=root:"); the authenticator's own text must agree.
    for name in out:
        assert out[name][0][1] == []
        assert len(out[name][1][1]) == 1
        assert out[name][1][1][0].startswith("dl authenticator failed for ")
        assert out[name][1][1][0].endswith(": 535 Incorrect authentication data (set_id=userx)")
    assert out["exim"][0][0][:2] == ["250 HELP", "235 Authentication succeeded"]
    assert out["exim"][1][0][:3] == ["250 HELP", "334 UGFzc3dvcmQ6", "535 Incorrect authentication data"]
