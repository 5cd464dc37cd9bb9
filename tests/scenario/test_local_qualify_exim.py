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

# Groups, comments, quoted local parts, and an item that grows past column 38 (the next one
# then starts a new line, as Exim folds its rewritten headers).
ITEMS = ["To: a, g: b, c;, d", "Cc: g: N <x>, (cmt) y;, e (c)", "Bcc: \"q r\", u.v.w",
         "From: a, b", "Reply-To: g:;"]
# A rewrite rule that matches a qualified address: one new header, not two.
REWRITE = {"bs_rewrite_qualified": "bob@qr.example robert@else.example\nalice@qd.example al@x.example"}

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
    "bs_items": (["-bs"], "accept", "", ITEMS),
    "bm_t_items": (["-t"], "accept", "", ITEMS),
    "bs_rewrite_qualified": (["-bs"], "accept", "", ["To: bob, x@qr.example", "From: alice"]),
    # the sendmail interface: "From: <login>" is replaced (also with -oMa and
    # suppress_local_fixups; no name after a trusted caller's -f); -oMa adds no Message-Id: etc.
    "bm_login_from": (["pd@test.example"], "accept", "", LOGIN),
    "bm_oma_login_from": (REMOTE + ["pd@test.example"], "accept", "", LOGIN),
    "bm_oma_no_from": (REMOTE + ["pd@test.example"], "accept", "", ["Subject: s"]),
    "bm_suppress_login_from": (["pd@test.example"], "accept", "acl_not_smtp_start = acl_nss\n", LOGIN),
    "bm_f_login_from": (["-f", "x@y.example", "pd@test.example"], "accept", "", LOGIN),
    "bm_f_F_login_from": (["-f", "x@y.example", "-F", "Some One", "pd@test.example"], "accept", "",
                          LOGIN),
    "bm_null_f_login_from": (["-f", "<>", "pd@test.example"], "accept", "", LOGIN),
    # an error in acl_not_smtp: the report to the sender is refused by the same ACL, and says
    # "local configuration problem", the message has no -H
    "bm_acl_error_report": (["pd@test.example"], "accept", "acl_not_smtp = acl_nss\n", HEADERS),
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
        acls = (f"begin acl\nacl_m:\n  {mail_acl}\nacl_d:\n  accept\n"
                "acl_nss:\n  accept control = suppress_local_fixups\n\nbegin routers\n")
        conf.write_text(conf.read_text().replace("begin routers\n", acls, 1)
                        + ("\nbegin rewrite\n" + REWRITE[name] + "\n" if name in REWRITE else ""))
        if "-bs" in args:
            stdin = ("HELO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<pd@test.example>\r\nDATA\r\n"
                     + "".join(h + "\r\n" for h in headers) + "\r\nbody\r\n.\r\nQUIT\r\n")
        else:
            stdin = "".join(h + "\n" for h in headers) + "\nbody\n"
        r.cmd("-odq", *args, stdin=stdin)
        heads = glob.glob(str(r.d / "spool" / "input" / "*-H"))
        assert len(heads) <= 1, (heads, r.log("mainlog"), r.stderr)
        text = pathlib.Path(heads[0]).read_text().split("\n\n", 1)[1] if heads else "(no -H)\n"
        return (mask(text) + "--- log ---\n"
                + "".join(x + "\n" for x in r.log("mainlog")))
    finally:
        r.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_header_qualification_like_exim(name):
    golden = GOLDEN / (name + ".txt")
    if RECORD:
        golden.write_text(run(rc.EXIM, name))
    assert run(os.environ["POSTERN"], name) == golden.read_text()
