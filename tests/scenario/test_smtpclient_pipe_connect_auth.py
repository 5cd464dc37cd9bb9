"""Client authentication beside Exim 4.96, with and without PIPECONNECT: what the client sends in
each batch (smtpclient_batches.BatchServer) and the log lines of whole -odi deliveries.

Observed with Exim 4.96 and done the same way:
- with PIPECONNECT (the second delivery, from the cached EHLO response) the first AUTH command
  goes with the early EHLO, before the banner; the rest of the exchange and MAIL follow as
  without PIPECONNECT; with no common mechanism MAIL goes in the early batch;
- the => line names the authenticator (A=plain);
- a 535 to one authenticator logs "<name> authenticator failed H=... 535 ..." and the next
  one is tried;
- error texts name the AUTH command with its secrets masked (AUTH PLAIN ****************, a
  response line all stars).
Left out of the comparison: for a refusing banner after an early AUTH, Exim's stale error
number (2, "No such file or directory"), where Postern writes 0 (documented)."""
import os
import re
import shutil

import pytest

from smtpclient_batches import Conn, compare

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

EHLO = "250-fake\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-AUTH PLAIN CRAM-MD5\r\n250 PIPECONNECT\r\n"
CHALLENGE = "334 PDEyMzQ1LjY3ODlAZXhhbXBsZT4=\r\n"
AUTHS = """plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^user^secret
cram:
  driver = cram_md5
  public_name = CRAM-MD5
  client_name = user
  client_secret = secret
"""
TRY = "  hosts_try_auth = *"
REQUIRE = "  hosts_require_auth = *"
PC = "  hosts_pipe_connect = *\n"

# name: (EHLO of the first connection, of the second (None: the same), replies, the second
# connection's banner, transport options, deliveries)
CASES = {
    "pc_plain": (EHLO, None, {}, "220 fake\r\n", PC + TRY, 2),
    "pc_cram": (EHLO.replace("PLAIN ", ""), None, {}, "220 fake\r\n", PC + REQUIRE, 2),
    "pc_plain_535_then_cram": (EHLO, None, {"AUTH PLAIN": "535 5.7.8 bad\r\n"}, "220 fake\r\n", PC + TRY, 2),
    "pc_no_common_mechanism": (EHLO.replace("PLAIN CRAM-MD5", "XOAUTH2"), None, {}, "220 fake\r\n", PC + TRY, 2),
    "pc_ehlo_changed": (EHLO, EHLO.replace("PLAIN ", ""), {}, "220 fake\r\n", PC + TRY, 2),
    "pc_banner_421": (EHLO, None, {}, "421 busy\r\n", PC + TRY, 2),
    "plain_454": (EHLO, None, {"AUTH PLAIN": "454 4.7.0 later\r\n"}, "220 fake\r\n", TRY, 1),
    "cram_response_454": (EHLO.replace("PLAIN ", ""), None, {}, "220 fake\r\n", TRY, 1),
    "require_plain_535": (EHLO.replace(" CRAM-MD5", ""), None, {"AUTH PLAIN": "535 5.7.8 bad\r\n"},
                          "220 fake\r\n", REQUIRE, 1),
}


def conns(case):
    ehlo1, ehlo2, replies, banner2, _, times = CASES[case]
    # the CRAM-MD5 response line matches no command: "other" answers it
    other = "454 4.7.0 cram later\r\n" if case == "cram_response_454" else "235 2.7.0 cram ok\r\n"

    def make():
        r1 = {"EHLO": ehlo1, "AUTH PLAIN": "235 2.7.0 ok\r\n", "AUTH CRAM-MD5": CHALLENGE}
        r1.update(replies)
        r2 = dict(r1, EHLO=ehlo2 or ehlo1)
        out = [Conn(replies=r1, other=other)]
        if times == 2:
            out.append(Conn(replies=r2, banner=banner2, other=other, early=True))
        return out
    return make




def comparable(log):
    out = []
    for l in log:
        if "lost privilege" in l:
            continue
        # Exim's stale errno after a refusing banner (see the module's text)
        l = l.replace(": 421 busy: No such file or directory", ": 421 busy")
        l = l.replace("defer (2): No such file or directory H=", "defer (0) H=")
        out.append(l)
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_auth_as_exim(case):
    _, _, _, _, extra, times = CASES[case]
    # the second delivery of a case that fails the first is not tried (retry time)
    r = compare(conns(case), ["a@r.test"], (b"Subject: t\n\nbody\n",), extra=extra, auths=AUTHS, times=times)
    (ex_b, _, ex_log, ex_misc), (pr_b, _, pr_log, pr_misc) = r["exim"], r["postern"]
    assert pr_b == ex_b
    assert comparable(pr_log) == comparable(ex_log)
    assert pr_misc == ex_misc
    if case in ("pc_plain", "pc_plain_535_then_cram", "pc_ehlo_changed", "pc_banner_421"):
        assert ex_b[1][0] == ["EHLO client.test", "AUTH PLAIN AHVzZXIAc2VjcmV0"]
    if case == "pc_plain":
        assert re.search(r"^M2 => a@r\.test .* A=plain K C=", "\n".join(ex_log), re.M)
    if case == "pc_no_common_mechanism":
        assert ex_b[1][0][:2] == ["EHLO client.test", "MAIL FROM:<sender@s.test>"]
    if case == "cram_response_454":
        assert "after " + "*" * 52 + ": 454 4.7.0 cram later" in ex_log[-1]
