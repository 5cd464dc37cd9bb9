"""-oem/-oew/-oee/-oeq/-oep for local submissions refused by acl_not_smtp or over
message_size_limit, as Exim 4.96 does them (observed): with -oem/-oew/-oee the sender gets a
"Mail failure" message from <> (R=<id> on its arrival line) with a copy of the message, nothing
is printed, and the status is 1 (0 with -oee); with -oep/-oeq the error is on stderr and the
status is 1. Run against Exim 4.96 too where it is installed, and compared."""
import os
import re
import shutil
import subprocess

import pytest

EXIM = shutil.which("exim") or "/usr/sbin/exim"

# message_size_limit is 3k for the submissions and larger for the error messages (from <>),
# so Exim's error message about a too-big message is not itself too big.
CONFIG = """queue_only
primary_hostname = mx.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
log_selector = +all -pid -millisec
message_size_limit = ${{if eq{{$sender_address}}{{}}{{100k}}{{3k}}}}
{extra}
acl_not_smtp = ns
begin acl
ns:
  deny senders = bad@x.example
       message = go away $sender_address
  accept
"""

SMALL = b"Subject: s\n\nhi\n"
BIG = b"Subject: big\n\n" + b"".join(b"line %d %s\n" % (i, b"x" * 42) for i in range(1, 81))
LONG_HEADER = b"Subject: big\n" + b"".join(b"X-H%d: %s\n" % (i, b"x" * 42) for i in range(1, 11)) + b"\nbody\n"

ID = r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b"


def mask(text):
    text = re.sub(r"\bE[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}@", "EID@", text)
    text = re.sub(ID, "ID", text)
    text = re.sub(r"\w{3}, \d+ \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "DATE", text)
    text = re.sub(r"(RT|QT)=\S+", r"\1=T", text)
    return text


def submit(binary, tmp_path, name, mode, sender, message, extra=""):
    d = tmp_path / name
    d.mkdir()
    (d / "conf").write_text(CONFIG.format(d=d, extra=extra))
    r = subprocess.run([binary, "-C", str(d / "conf"), "-odq", mode, "-f", sender, "rcpt@y.example"],
                       input=message, capture_output=True, timeout=60, cwd=d)
    log = (d / "log" / "mainlog").read_text() if (d / "log" / "mainlog").exists() else ""
    lines = [re.sub(r"^\S+ \S+ ", "", l) for l in log.splitlines() if re.match(r"^\d{4}-", l)]
    lines = [mask(l) for l in lines if "cwd=" not in l and "purging the environment" not in l]
    spooled = []
    inp = d / "spool" / "input"
    for h in sorted(inp.glob("*-H")) if inp.exists() else []:
        hdr = h.read_text()
        headers = hdr[hdr.index("\n\n") + 2:] if "\n\n" in hdr else ""
        body = (inp / (h.name[:-2] + "-D")).read_text().split("\n", 1)[1]
        spooled.append((mask(headers), mask(body)))
    return r.returncode, r.stderr.decode(), lines, spooled


CASES = [
    # (name, -oe mode, sender, message, extra config)
    ("acl_m", "-oem", "bad@x.example", SMALL, ""),
    ("acl_w", "-oew", "bad@x.example", SMALL, ""),
    ("acl_e", "-oee", "bad@x.example", SMALL, ""),
    ("acl_q", "-oeq", "bad@x.example", SMALL, ""),
    ("acl_p", "-oep", "bad@x.example", SMALL, ""),
    ("acl_big_copy", "-oem", "bad@x.example", BIG[:2000], "bounce_return_size_limit = 1000"),
    ("big_m", "-oem", "ok@x.example", BIG, ""),
    ("big_e", "-oee", "ok@x.example", BIG, ""),
    ("big_p", "-oep", "ok@x.example", BIG, ""),
    ("big_limit", "-oem", "ok@x.example", BIG, "bounce_return_size_limit = 1000"),
    ("hdr_m", "-oem", "ok@x.example", LONG_HEADER, "header_maxsize = 200"),
    ("hdr_p", "-oep", "ok@x.example", LONG_HEADER, "header_maxsize = 200"),
]


def run_all(binary, tmp_path):
    out = {}
    for name, mode, sender, message, extra in CASES:
        out[name] = submit(binary, tmp_path / os.path.basename(binary), name, mode, sender, message, extra)
    return out


def test_oe_modes(postern_bin, tmp_path):
    (tmp_path / os.path.basename(postern_bin)).mkdir()
    got = run_all(postern_bin, tmp_path)
    # The ACL refusal: mailed (status 1, 0 with -oee) or on stderr.
    for name in ("acl_m", "acl_w", "acl_e"):
        rc, err, lines, spooled = got[name]
        assert (rc, err) == ((0 if name == "acl_e" else 1), ""), got[name]
        assert lines[0] == "ID F=<bad@x.example> rejected by non-SMTP ACL: go away bad@x.example"
        assert lines[1].startswith("ID <= <> R=ID U=root P=local S=917 "), lines
        assert 'T="Mail failure - rejected by local scanning code" from <> for bad@x.example' in lines[1]
        assert len(spooled) == 1
        headers, body = spooled[0]
        assert "018T To: bad@x.example\n" in headers and "040  References: <EID@mx.test>\n" in headers
        assert body.startswith("A message that you sent was rejected by the local scanning code that\n"
                               "checks incoming messages on this system. The following error was given:\n\n"
                               "  go away bad@x.example\n\n"
                               "------ This is a copy of your message, including all the headers. ------\n\n"
                               "Received: from root by mx.test with local (Exim 4.96)\n"
                               "\t(envelope-from <bad@x.example>)\n"), body
        assert body.endswith("Subject: s\nMessage-Id: <EID@mx.test>\nFrom: bad@x.example\nDate: DATE\n\nhi\n")
    for name in ("acl_q", "acl_p"):
        rc, err, lines, spooled = got[name]
        assert (rc, err, spooled) == (1, "exim: message rejected by non-SMTP ACL: go away bad@x.example\n", [])
    body = got["acl_big_copy"][3][0][1]
    assert "headers.\n------ No more than 1000 characters of the body are included.\n\nReceived:" in body
    assert body.endswith("\n\n" + BIG[:2000].split(b"\n\n", 1)[1].decode() + "\n"), body[-200:]
    # Too big: the message as read (3073 bytes: limit + 1), the header fix-ups, no Received:.
    rc, err, lines, spooled = got["big_m"]
    assert (rc, err) == (1, "")
    assert lines[0] == "ID rejected from <ok@x.example> U=root: message too big: read=3073 max=3072"
    assert lines[1].startswith("ID <= <> R=ID U=root P=local S=3803 "), lines
    assert 'T="Mail failure - message too big"' in lines[1]
    body = spooled[0][1]
    assert body.startswith("A message that you sent was longer than the maximum size allowed on this\n"
                           "system. It was not delivered to any recipients.\n\n"
                           "------ This is a copy of your message, including all the headers.\n"
                           "------ No more than 3K characters of the body are included.\n\n"
                           "Subject: big\nMessage-Id: <EID@mx.test>\nFrom: ok@x.example\nDate: DATE\n\n"
                           "line 1 "), body
    assert body.endswith("\nline 61 \n")
    assert got["big_e"][0] == 0 and got["big_e"][1] == ""
    assert got["big_p"][:2] == (1, "exim: message rejected: message too big (max=3072)\n")
    assert got["big_p"][3] == []
    assert "------ No more than 1000 characters" in got["big_limit"][3][0][1]
    # header_maxsize: no id yet (no References:, no R=); the copy is the first 200 bytes.
    rc, err, lines, spooled = got["hdr_m"]
    assert (rc, err) == (1, "")
    assert lines[0] == "ridiculously long message header received from root (more than 200 characters): message abandoned"
    assert lines[1].startswith("ID <= <> U=root P=local S=818 "), lines
    headers, body = spooled[0]
    assert "References:" not in headers and "048  Subject: Mail failure - overlong header section\n" in headers
    assert body.endswith("------ This is a copy of your message, including all the headers. ------\n\n"
                         + LONG_HEADER[:200].decode() + "\n")
    assert got["hdr_p"][:2] == (1, "exim: message header longer than 200 characters received: message not accepted\n")
    if os.path.exists(EXIM):
        (tmp_path / os.path.basename(EXIM)).mkdir()
        assert got == run_all(EXIM, tmp_path), "differs from Exim 4.96"
