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
import subprocess

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


# ---- PIPECONNECT with STARTTLS ----

PC_TLS_CLEAR = "250-fake\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 PIPECONNECT\r\n"
PC_TLS_CRYPT = "250-fake\r\n250-PIPELINING\r\n250 PIPECONNECT\r\n"
PC_TLS_CRYPT_AUTH = "250-fake\r\n250-PIPELINING\r\n250-AUTH PLAIN\r\n250 PIPECONNECT\r\n"


class TlsConn(Conn):
    """Offers STARTTLS in clear; after the handshake its EHLO reply no longer does (and offers
    AUTH PLAIN when auth)."""
    auth = False

    def reply(self, line):
        if line.upper().startswith("EHLO") and getattr(self, "in_tls", False):
            return PC_TLS_CRYPT_AUTH if self.auth else PC_TLS_CRYPT
        if line.upper() == "STARTTLS":
            self.in_tls = True
        return Conn.reply(self, line)


@pytest.mark.parametrize("auth", [False, True], ids=["plain", "auth"])
def test_pipe_connect_starttls_as_exim(tmp_path, auth):
    """Observed with Exim 4.96: the second and third connections send EHLO and STARTTLS before
    the banner and, after the handshake, EHLO with MAIL, RCPT and DATA (the record keeps what
    the host offers in clear, STARTTLS included, beside what it offers under TLS); a client that
    authenticates sends EHLO and AUTH PLAIN there, then MAIL. The cipher names differ (GnuTLS
    and OpenSSL, docs/tls.md), so only the rest of the lines is compared."""
    import ssl
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=fake.test"], check=True,
                   capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))

    def conns():
        out = []
        for early in (False, True, True):
            c = TlsConn(replies={"EHLO": PC_TLS_CLEAR, "STARTTLS": "220 go ahead\r\n",
                                 "AUTH PLAIN": "235 2.7.0 ok\r\n"}, early=early)
            c.tls_context, c.auth = ctx, auth
            out.append(c)
        return out
    r = compare(conns, ["a@r.test"], (b"Subject: t\n\nbody\n",),
                extra="  hosts_pipe_connect = *" + ("\n" + TRY if auth else ""), auths=AUTHS if auth else "", times=3)
    (ex_b, _, ex_log, ex_misc), (pr_b, _, pr_log, pr_misc) = r["exim"], r["postern"]
    after_tls = ["AUTH PLAIN AHVzZXIAc2VjcmV0"] if auth else ["MAIL FROM:<sender@s.test>", "RCPT TO:<a@r.test>", "DATA"]
    assert ex_b[1][:3] == [["EHLO client.test", "STARTTLS"], ["<TLS>"], ["EHLO client.test"] + after_tls]
    assert pr_b == ex_b

    def deliveries(log):
        return [re.sub(r" X=\S+", " X=", l) for l in log if " => " in l]
    assert deliveries(pr_log) == deliveries(ex_log)
    assert len(deliveries(ex_log)) == 3
    assert pr_misc == ex_misc == ["TIME 127.0.0.1:PORT.EHLO"]
