"""Reception rewriting against Exim 4.96: the same messages queued under the same rewrite rules
must give the same -H files (ids, dates and times masked; tests/golden/rewrite_rx/capture.sh)."""
import re
import subprocess
from pathlib import Path

import pytest

GOLD = Path(__file__).resolve().parent.parent / "golden" / "rewrite_rx"


def mask(text):
    """mask.sed's substitutions, applied line by line as sed -E does."""
    rules = []
    for line in (GOLD / "mask.sed").read_text().splitlines():
        m = re.fullmatch(r"s/(.*)/(.*)/(g?)", line)
        rules.append((re.compile(m.group(1)), m.group(2), 0 if m.group(3) else 1))
    out = []
    for line in text.splitlines():
        for pat, rep, count in rules:
            line = pat.sub(rep, line, count=count)
        out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("name", ["m", "m2", "m5", "m6"])
def test_reception_rewrite_matches_exim(postern_bin, tmp_path, name):
    msg = (GOLD / f"msg-{name}").read_bytes()
    p = subprocess.run([postern_bin, "-C", str(GOLD / "rewrite.conf"), f"-DSPOOL={tmp_path}", "-odq",
                        "-f", "fp42@hitch.example", "r1@a.hitch.example", "r2@n.example"],
                       input=msg, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    files = list((tmp_path / "input").glob("*-H"))
    assert len(files) == 1
    # Postern's integrity line in -H (docs/spool.md), which Exim's reader ignores.
    got = mask(re.sub(r"^-postern_sum .*\n", "", files[0].read_text(), flags=re.M))
    want = (GOLD / f"msg-{name}.H").read_text()
    assert got.splitlines() == want.splitlines()


SMTP_TIME_CONF = r"""
primary_hostname = test.example
spool_directory = SPOOLDIR
acl_smtp_rcpt = acl_rcpt
acl_smtp_mail = acl_mail
begin acl
acl_mail:
  accept logwrite = sender=$sender_address
acl_rcpt:
  accept logwrite = rcpt=$local_part@$domain sender=$sender_address
begin rewrite
^<bang!(.*)@test[.]example>  <$1@bang.example>  S
^<(.*)@sq[.]example>  <$1@rewritten.example>  S
"""


def test_smtp_time_rewrite(run_postern, tmp_path):
    """S rules rewrite the MAIL/RCPT address (ESMTP parameters kept) before the ACLs see it; the
    log lines are those Exim 4.96 writes for the same session under -bh."""
    p = run_postern("-bh", "1.2.3.4", config=SMTP_TIME_CONF.replace("SPOOLDIR", str(tmp_path)),
                    input="EHLO x\r\nMAIL FROM:<a@sq.example> SIZE=10\r\nRCPT TO:<bang!x@test.example>\r\n"
                          "RCPT TO:<y@other.example>\r\nQUIT\r\n")
    logs = [l for l in p.stderr.splitlines() + p.stdout.splitlines() if l.startswith("LOG: ")]
    assert logs == ["LOG: sender=a@rewritten.example",
                    "LOG: rcpt=x@bang.example sender=a@rewritten.example",
                    "LOG: rcpt=y@other.example sender=a@rewritten.example"]
    assert "250 OK" in p.stdout
