"""Qualification of the address headers at reception, against headers recorded from Exim 4.96.

Exim qualifies unqualified addresses in From:, Sender:, Reply-To:, To:, Cc:, Bcc: and the
Resent- forms of all but Reply-To: whenever the message may carry unqualified addresses: local
input (-bs without -oMa, -bm) or a client in sender_unqualified_hosts /
recipient_unqualified_hosts, each list for its kind of header. It does so in submission mode and
with suppress_local_fixups too; only -bs from a remote-like caller (-oMa) leaves them. A
"From: <login>" in SMTP input is qualified in place, not replaced by the caller's full address.

Each case's golden file holds the header part of Exim's -H file (lengths, dates and ids masked)
and its main log, recorded with POSTERN_RECORD_GOLDEN=1 (needs /usr/sbin/exim); the test runs
Postern on the same configuration and input and compares."""
import glob
import os
import pathlib
import re

import pytest

import test_root_config_exim as rc

GOLDEN = pathlib.Path(__file__).resolve().parent.parent / "golden" / "local_fixups"
RECORD = os.environ.get("POSTERN_RECORD_GOLDEN") == "1"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the exim user's spool)")

MAIN = ("qualify_domain = qd.example\nqualify_recipient = qr.example\n"
        "acl_smtp_mail = acl_m\nacl_smtp_data = acl_d\n")

HEADERS = ["To: bob", "Cc: carol, Dave <dave>", "Bcc: eve", "From: alice", "Sender: sam",
           "Reply-To: rita", "Subject: s"]
RESENT = HEADERS + ["Resent-To: rt", "Resent-From: rf", "Resent-Sender: rs", "Resent-Cc: rc",
                    "Resent-Bcc: rb", "Resent-Reply-To: rrt"]
LOGIN = ["From: root", "To: bob"]

REMOTE = ["-oMa", "10.0.0.1"]
CASES = {
    # name: (command line, MAIL ACL, main options, headers)
    "bs_local": (["-bs"], "accept", "", HEADERS),
    "bs_local_resent": (["-bs"], "accept", "", RESENT),
    "bs_local_login_from": (["-bs"], "accept", "", LOGIN),
    "bs_remote": (REMOTE + ["-bs"], "accept", "", RESENT),
    "bs_submission": (["-bs"], "accept control = submission", "", RESENT),
    "bs_remote_submission": (REMOTE + ["-bs"], "accept control = submission", "", RESENT),
    "bs_suppress": (["-bs"], "accept control = suppress_local_fixups", "", RESENT),
    "bs_sender_unqualified_hosts": (REMOTE + ["-bs"], "accept", "sender_unqualified_hosts = 10.0.0.1\n",
                                    RESENT),
    "bs_recipient_unqualified_hosts": (REMOTE + ["-bs"], "accept",
                                       "recipient_unqualified_hosts = 10.0.0.1\n", RESENT),
    "bm_resent": (["pd@test.example"], "accept", "", RESENT),
    "bm_t_resent": (["-t"], "accept", "", RESENT),
}


def mask(text):
    text = re.sub(r"(?<![0-9A-Za-z])E?[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", text)
    text = re.sub(r"\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "DATE", text)
    return re.sub(r"(?m)^\d{3}(?=[A-Z* ] )", "NNN", text)


def run(binary, name):
    args, mail_acl, extra, headers = CASES[name]
    r = rc.Run(binary, main=MAIN + extra)
    try:
        conf = r.d / "conf"
        acls = f"begin acl\nacl_m:\n  {mail_acl}\nacl_d:\n  accept\n\nbegin routers\n"
        conf.write_text(conf.read_text().replace("begin routers\n", acls, 1))
        if "-bs" in args:
            stdin = ("HELO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<pd@test.example>\r\nDATA\r\n"
                     + "".join(h + "\r\n" for h in headers) + "\r\nbody\r\n.\r\nQUIT\r\n")
        else:
            stdin = "".join(h + "\n" for h in headers) + "\nbody\n"
        r.cmd("-odq", *args, stdin=stdin)
        heads = glob.glob(str(r.d / "spool" / "input" / "*-H"))
        assert len(heads) == 1, (heads, r.log("mainlog"), r.stderr)
        text = pathlib.Path(heads[0]).read_text()
        return (mask(text.split("\n\n", 1)[1]) + "--- log ---\n"
                + "".join(x + "\n" for x in r.log("mainlog")))
    finally:
        r.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_header_qualification_like_exim(name):
    golden = GOLDEN / (name + ".txt")
    if RECORD:
        golden.write_text(run(rc.EXIM, name))
    assert run(os.environ["POSTERN"], name) == golden.read_text()
