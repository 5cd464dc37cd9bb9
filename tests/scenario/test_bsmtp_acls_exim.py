"""Batched SMTP (-bS) and the ACLs, against live Exim 4.96: Exim runs none of the SMTP ACLs for
batched input but the non-SMTP ones (acl_not_smtp_start at MAIL with the sender known,
acl_not_smtp_mime and acl_not_smtp after the data, with $recipients), logs P=local-bsmtp
whatever HELO/EHLO or -oMa say, and a refusal by acl_not_smtp is a batch error without a
command line that abandons the rest of the batch. Exit status, stdout, stderr, main log and
the reject log's first lines must be the same."""
import os
import re
import shutil
import subprocess

import pytest

from daemon_helpers import reachable_by_exim_user

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's Exim 4.96 and root")

CONF = """spool_directory = {d}/spool
log_file_path = {d}/spool/%slog
primary_hostname = mail.example.com
tls_advertise_hosts =
queue_only
keep_environment =
acl_smtp_connect = c
acl_smtp_helo = h
acl_smtp_mail = m
acl_smtp_rcpt = r
acl_smtp_predata = pd
acl_smtp_data = d
acl_smtp_mime = sm
acl_smtp_quit = q
acl_not_smtp_start = nss
acl_not_smtp_mime = nm
acl_not_smtp = ns
begin acl
c:
  warn logwrite = CONNECT ACL
  accept
h:
  warn logwrite = HELO ACL
  accept
m:
  warn logwrite = MAIL ACL
  accept
r:
  warn logwrite = RCPT ACL $local_part
  deny local_parts = bad
  accept
pd:
  warn logwrite = PREDATA ACL
  accept
d:
  warn logwrite = DATA ACL
  accept
sm:
  warn logwrite = SMTP MIME ACL
  accept
q:
  warn logwrite = QUIT ACL
  accept
nss:
  warn logwrite = NOTSMTP START ACL $sender_address
  accept
nm:
  warn logwrite = NOTSMTP MIME ACL $mime_content_type
  accept
ns:
  warn logwrite = NOTSMTP ACL $recipients $received_protocol
  deny condition = ${{if eq{{$h_subject:}}{{deny}}}}
       message = go away
  accept
"""

ID = re.compile(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b")


def run(binary, d, data, args=()):
    (d / "spool").mkdir(parents=True)
    os.chmod(d, 0o777)
    os.chmod(d / "spool", 0o777)
    conf = d / "conf"
    conf.write_text(CONF.format(d=d))
    env = dict(os.environ, POSTERN_TEST_TRUST_CONFIG="1")
    p = subprocess.run([binary, "-C", str(conf), "-bS", *args], input=data.encode(),
                       capture_output=True, timeout=30, env=env)
    def read(name):
        f = d / "spool" / name
        return f.read_text() if f.exists() else ""
    main = [ID.sub("<ID>", l[20:]) for l in read("mainlog").splitlines()]
    reject = [ID.sub("<ID>", l[20:] if l[:2] == "20" else l) for l in read("rejectlog").splitlines()[:3]]
    # The -H files' envelope and option lines (times, ids and Postern's integrity line aside).
    heads = []
    for h in sorted((d / "spool" / "input").glob("*-H")):
        lines = h.read_text().split("\n\n")[0].splitlines()[1:]
        heads.append([ID.sub("<ID>", l) for l in lines if not re.match(r"-received_time|-postern_sum |\d{10} ", l)])
    return p.returncode, p.stdout.decode(), p.stderr.decode(), main, reject, sorted(heads)


BATCHES = {
    "accepted": "EHLO x\nMAIL FROM:<a@b.example>\nRCPT TO:<bad@d.example>\nRCPT TO:<c@d.example>\n"
                "DATA\nSubject: hi\nContent-Type: text/plain\n\nbody\n.\nQUIT\n",
    "refused-second": "HELO x\nMAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\nSubject: one\n\nb1\n.\n"
                      "MAIL FROM:<x@b.example>\nRCPT TO:<y@d.example>\nDATA\nSubject: deny\n\nb2\n.\n"
                      "MAIL FROM:<z@b.example>\nRCPT TO:<w@d.example>\nDATA\nSubject: three\n\nb3\n.\nQUIT\n",
    "refused-first": "MAIL FROM:<x@b.example>\nRCPT TO:<y@d.example>\nDATA\nSubject: deny\n\nb\n.\nQUIT\n",
}


@pytest.mark.parametrize("name", sorted(BATCHES))
@pytest.mark.parametrize("args", [(), ("-oMa", "10.9.8.7")], ids=["local", "oMa"])
def test_bsmtp_acls_like_exim(postern_bin, tmp_path, name, args):
    data = BATCHES[name]
    if args:
        # With -oMa, Exim's H= and Received: keep the host text made before HELO (no "(x)");
        # Postern shows the HELO name there (docs/command-line.md): compared without HELO.
        data = re.sub(r"^(HELO|EHLO) .*\n", "", data, flags=re.M)
    reachable_by_exim_user(tmp_path)
    ours = run(postern_bin, tmp_path / "postern", data, args)
    theirs = run("exim", tmp_path / "exim", data, args)
    assert ours == theirs
    assert "P=local-bsmtp" in "\n".join(ours[3]) or name == "refused-first"
