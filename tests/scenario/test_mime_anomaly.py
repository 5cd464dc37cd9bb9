"""$mime_anomaly_level / $mime_anomaly_text in the MIME ACL after a part is decoded, compared with
Exim 4.96 -bh (golden tests/golden/mime/anomaly.txt; RECORD_MIME_GOLDEN=1 records it again):
2 "Broken BASE64 encoding detected" for a character outside the alphabet (a space too), 1
"Broken Quoted-Printable encoding detected" for "=" without two hex digits; "=" with only white
space before the line end (or the part's end) is a soft line break."""
import os
import pathlib
import shutil
import subprocess
import tempfile

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "mime" / "anomaly.txt"

CONFIG = """spool_directory = {spool}
exim_user = root
exim_group = root
primary_hostname = mx.local
acl_smtp_rcpt = accept
acl_smtp_mime = mime
begin acl
mime:
  warn decode = default
  warn logwrite = part $mime_part_count enc=$mime_content_transfer_encoding level=$mime_anomaly_level text=<$mime_anomaly_text>
  accept
"""

PARTS = [("base64", "aGVsbG8*gd29ybGQ="), ("quoted-printable", "abc=ZZdef=3D"), ("base64", "aGVsbG8gd29ybGQ="),
         ("quoted-printable", "abc= "), ("quoted-printable", "a=4"), ("quoted-printable", "a=4g"),
         ("base64", "aGVs bG8="), ("base64", "aGVsbG8=xx"), ("base64", "aGVs-bG8="), ("quoted-printable", "a=3d"),
         ("base64", "aGVsbG8")]


def session():
    lines = ["helo x", "mail from:<a@b.example>", "rcpt to:<c@d.example>", "data", "Subject: m",
             "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="XX"', ""]
    for enc, body in PARTS:
        lines += ["--XX", "Content-Type: text/plain", f"Content-Transfer-Encoding: {enc}", "", body]
    lines += ["--XX--", ".", "quit"]
    return "".join(l + "\r\n" for l in lines)


def transcript(prog):
    d = pathlib.Path(tempfile.mkdtemp(prefix="mime-anomaly-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool").mkdir()
        conf = d / "c.conf"
        conf.write_text(CONFIG.format(spool=d / "spool"))
        r = subprocess.run([prog, "-C", str(conf), "-bh", "10.0.0.1"], input=session(), capture_output=True,
                           text=True, timeout=60)
        return [l.split(" ", 2)[2] for l in r.stderr.splitlines() if l.startswith("LOG: ") and " part " in l]
    finally:
        shutil.rmtree(d)


def test_mime_anomaly_same_as_exim(postern_bin):
    if os.environ.get("RECORD_MIME_GOLDEN"):
        GOLDEN.write_text("\n".join(transcript("exim")) + "\n")
    want = GOLDEN.read_text().splitlines()
    assert len(want) == len(PARTS) + 1 and any("level=2" in l for l in want) and any("level=1" in l for l in want)
    assert transcript(postern_bin) == want
