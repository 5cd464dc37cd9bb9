"""Local submission (the sendmail interface) against Debian's Exim 4.96: the same message and
command line given to `exim -odq` and `postern -odq` must produce the same -H and -D spool files
and the same "<=" log line, once message ids and times are masked.

Exim is run as root with a private configuration and spool; root is a trusted caller, so the
untrusted-user paths (Sender: checks) are covered by the unit tests and not compared here."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

EXIM = shutil.which("exim") or "/usr/sbin/exim4"

CONF = """\
spool_directory = {spool}
primary_hostname = myhost.test.ex
exim_user = root
exim_group = root
log_file_path = {spool}/log/%slog
{extra}
"""

ID = re.compile(rb"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b")
DATE = re.compile(rb"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}")
STAMP = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{3})? ", re.M)


def mask(data):
    data = ID.sub(b"<ID>", data)
    data = DATE.sub(b"<DATE>", data)
    data = STAMP.sub(b"", data)
    # Postern's integrity line (docs/spool.md), which Exim's reader ignores
    data = re.sub(rb"^-postern_sum .*\n", b"", data, flags=re.M)
    # the -H time lines
    data = re.sub(rb"^\d{10} (\d+)$", rb"<TIME> \1", data, flags=re.M)
    data = re.sub(rb"^-received_time_usec \.\d+$", b"-received_time_usec <USEC>", data, flags=re.M)
    data = re.sub(rb"^-received_time_complete \d+\.\d+$", b"-received_time_complete <T>", data, flags=re.M)
    return data


def submit(binary, workdir, args, message, extra=""):
    spool = workdir / "spool"
    spool.mkdir(parents=True)
    conf = workdir / "conf"
    conf.write_text(CONF.format(spool=spool, extra=extra))
    proc = subprocess.run([binary, "-C", str(conf), "-odq", *args], input=message,
                          capture_output=True, timeout=30)
    files = {}
    inp = spool / "input"
    if inp.exists():
        for f in sorted(inp.iterdir()):
            files[f.name[-1]] = mask(f.read_bytes())
    log = b""
    mainlog = spool / "log" / "mainlog"
    if mainlog.exists():
        log = b"\n".join(mask(line) for line in mainlog.read_bytes().splitlines()
                         if b"<=" in line or b"rejected" in line or b"no recipients" in line
                         or b"abandoned" in line or b"=>" in line or b"Completed" in line
                         or b"MIME:" in line)
    return proc, files, log


MIME_ACL = ("acl_not_smtp_mime = m1\nbegin acl\nm1:\n  warn logwrite = MIME: ct=[$mime_content_type] "
            "cs=[$mime_charset] fn=[${str2b64:$mime_filename}] bd=[$mime_boundary] mp=$mime_is_multipart "
            "rfc=$mime_is_rfc822 cl=$mime_is_coverletter pc=$mime_part_count cd=[$mime_content_disposition] "
            "cte=[$mime_content_transfer_encoding] cid=[$mime_content_id] desc=[$mime_content_description] "
            "size=$mime_content_size an=$mime_anomaly_level\n  accept")
MIME_MSG1 = b"""Subject: m
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

preamble
--XYZ
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

hello =C3=A9
--XYZ
Content-Type: application/octet-stream; name="a.bin"
Content-Disposition: attachment; filename="a.bin"
Content-Transfer-Encoding: base64
Content-ID: <cid1@x>
Content-Description: some data

AAECAwQ=
--XYZ
Content-Type: message/rfc822

Subject: inner
Content-Type: text/plain

inner body
--XYZ--
epilogue
"""
MIME_MSG2 = b"""Subject: m
Content-Type: Multipart/Mixed (comment); Boundary=abc

--abc
Content-Type: TEXT/Plain; Charset="ISO-8859-1" (c)
Content-Transfer-Encoding: Quoted-Printable
Content-Description: "quoted desc" (cmt) x
Content-Disposition: INLINE; filename="my file.txt"

x
--abc
Content-Type: application/pdf; name="=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?="
Content-Disposition: attachment

y
--abc
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

a
--inner
Content-Type: text/html

b
--inner--
--abc
Content-Disposition: attachment; filename*=UTF-8''na%C3%AFve.txt

z
--abc--
"""

CASES = [
    ("mime parts", ["-f", "a@b.c", "x@y"], MIME_MSG1, MIME_ACL),
    ("mime normalising", ["-f", "a@b.c", "x@y"], MIME_MSG2, MIME_ACL),
    ("mime attached message walked last", ["-f", "a@b.c", "x@y"],
     b"Subject: m\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n\n--XYZ\nContent-Type: message/rfc822\n\n"
     b"Subject: inner\nContent-Type: multipart/mixed; boundary=in\n\n--in\nContent-Type: text/plain\n\ninner body\n"
     b"--in\nContent-Type: message/rfc822\n\nSubject: deeper\n\nd\n--in--\n--XYZ\nContent-Type: text/plain\n\nafter\n--XYZ--\n",
     MIME_ACL),
    ("mime boundary prefix", ["-f", "a@b.c", "x@y"],
     b"Subject: m\nContent-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain\n\none\n--b12\n"
     b"Content-Type: text/html\n\ntwo\n--b1 \nContent-Type: image/png\n\nthree\n--b1--\n", MIME_ACL),
    ("mime none", ["-f", "a@b.c", "x@y"], b"Subject: x\n\nhello\n", MIME_ACL),
    ("mime single part", ["-f", "a@b.c", "x@y"], b"Subject: x\nContent-Type: text/plain\n\nhello\n", MIME_ACL),
    ("mime deny is silent", ["-oep", "-f", "a@b.c", "x@y"], MIME_MSG2,
     "acl_not_smtp_mime = m1\nbegin acl\nm1:\n  deny condition = ${if eq{$mime_content_type}{application/pdf}}\n"
     "    message = no pdf here\n  accept"),
    ("plain", ["-f", "a@b.c", "x@y.z"], b"Subject: hi\nTo: x@y\n\nbody line\n..dot\nlast\n", ""),
    ("two rcpts, no for", ["-f", "a@b.c", "x@y.z", "p@q.r"], b"Subject: a\n\nx\n", ""),
    ("comma list, unqualified", ["-f", "a@b.c", "a@b, c", "d"], b"Subject: a\n\nx\n", ""),
    ("no final newline", ["-f", "a@b.c", "x@y.z"], b"Subject: a\n\nx", ""),
    ("headers only", ["-f", "a@b.c", "x@y.z"], b"Subject: a\n", ""),
    ("dot ends", ["-f", "a@b.c", "x@y.z"], b"Subject: a\n\nx\n.\nmore\n", ""),
    ("-oi keeps dot", ["-oi", "-f", "a@b.c", "x@y.z"], b"Subject: a\n\nx\n.\nmore\n", ""),
    ("crlf first line, LF after", ["-f", "a@b.c", "x@y.z"], b"Subject: a\r\nX: b\n\nx\n", ""),
    ("crlf body", ["-f", "a@b.c", "x@y.z"], b"Subject: a\n\nx\r\ny\r\n", ""),
    ("not a header", ["-f", "a@b.c", "x@y.z"], b"Subject: a\nnot a header\nX: y\n\nbody\n", ""),
    ("nul in body", ["-f", "a@b.c", "x@y.z"], b"Subject: a\n\nnul\0z\n", ""),
    ("local sender", ["x@y.z"], b"Subject: a\n\nx\n", ""),
    ("login From", ["-F", "Joe \"Q\" Public", "x@y"], b"Subject: a\nFrom: root\n\nx\n", ""),
    ("fullname", ["-F", "Joe Q Public", "x@y"], b"Subject: a\n\nx\n", ""),
    ("fullname with dot", ["-F", "Joe Q. Public", "x@y"], b"Subject: a\n\nx\n", ""),
    ("fullname with comma", ["-F", "Public, Joe", "x@y"], b"Subject: a\n\nx\n", ""),
    ("fullname 8bit", ["-F", "J\u00f6rg M\u00fcller", "x@y"], b"Subject: a\n\nx\n", ""),
    ("fullname quote", ["-F", 'Joe "Q', "x@y"], b"Subject: a\n\nx\n", ""),
    ("removals", ["x@y.z"], b"Subject: a\nReturn-Path: <x@y>\nEnvelope-To: e@f\nDelivery-Date: now\n"
     b"Received: from a\nX-A: 1\n\nx\n", "message_id_header_text = foo\nmessage_id_header_domain = bar.example"),
    ("-t", ["-t", "-f", "<>"], b"Subject: a\nTo: t1@x, T2 <t2@y>\nCc: c@z, unq\nBcc: b@w\n\nx\n", ""),
    ("-t groups and duplicates", ["-t", "-f", "a@b.c"], b"Subject: a\nTo: team: a@x, b@y;, a@x\nCc: A <a@x>, (c) c@z\n\nx\n", ""),
    ("-t resent bcc", ["-t", "-f", "a@b.c"], b"Subject: a\nTo: t@x\nResent-To: q@r\nResent-Bcc: hidden@h\nBcc: b@w\n\nx\n", ""),
    ("-t exclusion", ["-t", "-f", "a@b.c", "t1@x"], b"Subject: a\nTo: t1@x, T2 <t2@y>\n\nx\n", ""),
    ("existing ids", ["-f", "a@b.c", "x@y.z"], b"Message-ID: <m@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
     b"From: f@g\nSubject: s\n\nx\n", ""),
    ("log selectors", ["-f", "a@b.c", "x@y", "p@q"], b"Subject: s \"q\"\nMessage-ID: <abc@def>\n\nx\n",
     "log_selector = +subject +received_recipients +received_sender"),
    ("received text", ["-f", "a@b.c", "x@y"], b"Subject: s\n\nx\n", "received_header_text = Received: short"),
    ("-t none left", ["-oep", "-t", "-f", "a@b.c", "t1@x"], b"Subject: a\nTo: t1@x\n\nx\n", ""),
    ("too big", ["-oep", "-f", "a@b.c", "x@y"], b"Subject: a\n\n" + b"bodybodybodybodybody\n" * 10,
     "message_size_limit = 100"),
    ("header too big", ["-oep", "-f", "a@b.c", "x@y"], b"Subject: aaaaaaaaaaaaaaaaaaaaaaaa\nX: y\nX: yyyyyyyy\n\nx\n",
     "header_maxsize = 30"),
    ("header line too long", ["-oep", "-f", "a@b.c", "x@y"], b"Subject: aaaaaaaaaaaaaaaaaaaaaaaa\nX: y\n\nx\n",
     "header_line_maxsize = 20"),
    ("header line too long, -oMa", ["-oep", "-oMa", "1.2.3.4", "-oMs", "host.name", "-f", "a@b.c", "x@y"],
     b"Subject: aaaaaaaaaaaaaaaaaaaaaaaa\nX: y\n\nx\n", "header_line_maxsize = 20"),
    ("acl_not_smtp deny", ["-oep", "-f", "a@b.c", "x@y"], b"Subject: a\n\nx\n",
     "acl_not_smtp = a1\nbegin acl\na1:\n  deny message = go away\n  log_message = logged reason"),
    ("acl_not_smtp plain deny", ["-oep", "-f", "a@b.c", "x@y"], b"Subject: a\n\nx\n",
     "acl_not_smtp = a1\nbegin acl\na1:\n  deny"),
    ("acl_not_smtp defer", ["-oep", "-f", "a@b.c", "x@y"], b"Subject: a\n\nx\n",
     "acl_not_smtp = a1\nbegin acl\na1:\n  defer message = later"),
    ("acl_not_smtp discard", ["-oep", "-f", "a@b.c", "x@y"], b"Subject: a\n\nx\n",
     "acl_not_smtp = a1\nbegin acl\na1:\n  discard"),
    ("acl_not_smtp headers", ["-f", "a@b.c", "x@y"], b"Subject: a\nX-Drop: 1\nReceived: r\n\nx\n",
     "acl_not_smtp = a1\nbegin acl\na1:\n  warn add_header = X-End: 1\n"
     "  warn add_header = :at_start:X-Start: 1\n  warn add_header = :after_received:X-AR: 1\n"
     "  warn add_header = :at_start_rfc:X-RFC: 1\n  warn remove_header = x-drop\n  accept"),
    ("acl_not_smtp header order", ["-f", "a@b.c", "x@y"], b"Received: a\nReceived: b\nSubject: a\n\nx\n",
     "acl_not_smtp = a1\nbegin acl\na1:\n  warn add_header = :after_received:X-A1: 1\n"
     "  warn add_header = :at_start:X-S1: 1\n  warn add_header = :at_start:X-S2: 1\n"
     "  warn add_header = :at_start_rfc:X-R1: 1\n  warn add_header = :at_start_rfc:X-R2: 1\n  accept"),
    ("acl_not_smtp header order 2", ["-f", "a@b.c", "x@y"], b"Subject: a\nReceived: x\n\nx\n",
     "acl_not_smtp = a1\nbegin acl\na1:\n  warn add_header = :at_start:X-S1: 1\n"
     "  warn add_header = :at_start:X-S2: 1\n  warn add_header = :after_received:X-A1: 1\n"
     "  warn add_header = :after_received:X-A2: 1\n  warn add_header = :at_start_rfc:X-R1: 1\n  accept"),
    ("resent", ["-f", "a@b.c", "x@y"], b"Subject: a\nX: 1\nResent-To: q@r\nY: 2\n\nx\n", ""),
    ("resent login", ["x@y"], b"Subject: a\nX: 1\nResent-To: q@r\nResent-From: root\nY: 2\n\nx\n", ""),
    ("resent id kept", ["x@y"], b"Subject: a\nResent-Cc: q@r\nResent-Message-Id: <x@y>\n\nx\n", ""),
    ("resent -t", ["-t", "-f", "a@b.c"], b"Subject: a\nTo: t@x\nResent-To: q@r\n\nx\n", ""),
    ("qualify headers", ["-f", "a@b.c", "x@y"], b"From: unq\nReply-To: r\nSubject: a\nSender: s\nCc: unq, Name <n>\n\nx\n", ""),
    ("login From appended", ["x@y"], b"From: root\nSubject: a\n\nx\n", ""),
    ("no recipients, no -t", ["-oep", "-bm"], b"Subject: a\n\nx\n", ""),
    ("uucp From line", ["x@y"], b"From uu@cp.example Fri Jan  5 12:35 GMT 1996\nSubject: a\n\nx\n", ""),
    ("uucp From line, -f", ["-f", "a@b.c", "x@y"], b"From uu@cp.example Fri Jan  5 12:35 GMT 1996\nSubject: a\n\nx\n", ""),
    ("uucp From line, unqualified", ["x@y"], b"From uu Fri, 7 Jan 97 14:00:00 GMT\r\nSubject: a\n\nx\n", ""),
    ("From line not matching", ["x@y"], b"From nomatch\nSubject: a\n\nx\n", ""),
    ("acl_not_smtp_start deny ignored", ["-f", "a@b.c", "x@y"], b"Subject: a\n\nx\n",
     "acl_not_smtp_start = a1\nbegin acl\na1:\n  deny message = nope"),
    ("suppress_local_fixups", ["x@y"], b"Subject: a\n\nx\n",
     "acl_not_smtp_start = a1\nbegin acl\na1:\n  accept control = suppress_local_fixups"),
    ("many Received", ["-f", "a@b.c", "x@y"], b"Received: a\nReceived: b\nReceived: c\nSubject: a\n\nx\n",
     "received_headers_max = 2"),
]


@pytest.mark.skipif(not os.path.exists(EXIM), reason="Debian's exim4 is not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="exim needs root for a private spool")
@pytest.mark.parametrize("name,args,message,extra", CASES, ids=[c[0] for c in CASES])
def test_same_spool_as_exim(postern_bin, tmp_path, name, args, message, extra):
    ep, efiles, elog = submit(EXIM, tmp_path / "exim", args, message, extra)
    pp, pfiles, plog = submit(postern_bin, tmp_path / "postern", args, message, extra)
    assert pp.returncode == ep.returncode, (pp.stderr, ep.stderr)
    if "-oep" in args:
        assert mask(pp.stderr) == mask(ep.stderr)
    assert sorted(pfiles) == sorted(efiles)
    for k in efiles:
        assert pfiles[k].decode("latin-1") == efiles[k].decode("latin-1"), k
    assert plog.decode("latin-1") == elog.decode("latin-1")


def test_no_recipients(run_postern, tmp_path):
    spool = tmp_path / "spool"
    conf = CONF.format(spool=spool, extra="")
    # -oep: on stderr (the default -oem mails it to the sender: test_oe_modes.py)
    r = run_postern("-odq", "-oep", "-t", input="Subject: a\n\nx\n", config=conf)
    assert r.returncode == 1
    assert "no recipients in message" in r.stderr
    assert not list((spool / "input").glob("*-H")) if (spool / "input").exists() else True


def test_bad_sender(run_postern, tmp_path):
    # Exim: 'exim: bad -f address "bad<": <reason>' and status 1 (the reasons come from the
    # address parser and are not all worded as Exim's yet).
    conf = CONF.format(spool=tmp_path / "spool", extra="")
    r = run_postern("-odq", "-f", "bad<", "x@y", input="Subject: a\n\nx\n", config=conf)
    assert r.returncode == 1
    assert r.stderr.startswith('exim: bad -f address "bad<": ')
    assert not (tmp_path / "spool" / "input").exists() or not list((tmp_path / "spool" / "input").iterdir())


def test_bad_recipient(run_postern, tmp_path):
    conf = CONF.format(spool=tmp_path / "spool", extra="")
    # -oep: on stderr (the default, -oem, mails it to the sender: tests/scenario/test_oem.py)
    r = run_postern("-odq", "-oep", "bad address<", input="Subject: a\n\nx\n", config=conf)
    assert r.returncode == 1
    assert r.stderr.startswith('exim: bad recipient address "bad address<"')


def run_as_nobody(postern_bin, _tmp_path, args, message, extra=""):
    """Submit as the untrusted user nobody (postern needs no privilege for a spool it can write).
    pytest's tmp_path is private to root, so this uses its own directory under /tmp."""
    import pwd
    import tempfile
    nobody = pwd.getpwnam("nobody")
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="postern-nobody-"))
    try:
        return _run_as(postern_bin, tmp_path, nobody, args, message, extra)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _run_as(postern_bin, tmp_path, nobody, args, message, extra):
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(spool, 0o777)
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(spool=spool, extra=extra))
    os.chmod(conf, 0o644)

    def drop():
        os.setgid(nobody.pw_gid)
        os.setgroups([])
        os.setuid(nobody.pw_uid)
    proc = subprocess.run([postern_bin, "-C", str(conf), "-odq", *args], input=message,
                          capture_output=True, timeout=30, preexec_fn=drop)
    headers = [f for f in (spool / "input").iterdir() if f.name.endswith("-H")] \
        if (spool / "input").exists() else []
    return proc, headers[0].read_text() if headers else ""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as nobody")
def test_untrusted_sender_fixups(postern_bin, tmp_path):
    # -f is ignored for an untrusted caller; an existing Sender: is removed and one added
    # because From: is not the caller (Exim "The Sender: header line").
    proc, h = run_as_nobody(postern_bin, tmp_path, ["-f", "a@b.c", "-F", "Joe Q. Public", "x@y.z"],
                            b"Subject: a\nFrom: someone@else\nSender: s@s\n\nx\n")
    assert proc.returncode == 0, proc.stderr
    lines = h.splitlines()
    assert lines[1].startswith("nobody ")
    assert lines[2] == "<nobody@myhost.test.ex>"
    assert "-local" in lines and "-auth_id nobody" in lines
    assert "012* Sender: s@s" in lines
    assert '048S Sender: "Joe Q. Public" <nobody@myhost.test.ex>' in lines


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as nobody")
def test_untrusted_own_from_and_null_sender(postern_bin, tmp_path):
    # Anyone may set the null sender; a From: that is the caller's own address needs no Sender:.
    proc, h = run_as_nobody(postern_bin, tmp_path, ["-f", "<>", "x@y.z"],
                            b"Subject: a\nFrom: Nob <nobody@myhost.test.ex>\n\nx\n")
    assert proc.returncode == 0, proc.stderr
    assert h.splitlines()[2] == "<>"
    assert "Sender:" not in h


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as nobody")
def test_untrusted_set_sender(postern_bin, tmp_path):
    proc, h = run_as_nobody(postern_bin, tmp_path, ["-f", "nobody-list@b.c", "x@y.z"],
                            b"Subject: a\n\nx\n", "untrusted_set_sender = ^$sender_ident-")
    assert proc.returncode == 0, proc.stderr
    lines = h.splitlines()
    assert lines[2] == "<nobody-list@b.c>"
    assert "-sender_set_untrusted" in lines
    # the caller is not the sender: From: is the envelope sender, and a Sender: is added
    assert "From: nobody-list@b.c" in h


BS_CASES = [
    ("fixups", b"Subject: a\r\nTo: unq, Name <n>\r\nFrom: root\r\n\r\nbody\r\n..dot\r\n.\r\n"),
    ("bare LF after CRLF", b"Subject: a\r\nX-Y: b\nc: d\rX-Z: e\r\n\r\nbody\rcr\nlf\r\n.x\r\n..\r\nnul\0z\r\n.\r\n"),
    ("bdat", b"EHLO foo\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nBDAT 20\r\nSubject: t\r\n\r\nab\r\n\r\n"
             b"BDAT 12 LAST\r\nline2\r\n..\r\n\rQUIT\r\n"),
    ("smtp From line is body", b"From x@y Fri Jan  5 12:35 GMT 1996\r\nSubject: a\r\n\r\nb\r\n.\r\n"),
    ("nul and 8bit in header", b"Subject: a\0b \xc3\xa9\r\nX: \xff\r\n\r\nb\r\n.\r\n"),
    ("folded and blank-start", b"Subject: a\r\n  folded\r\n\tmore\r\n X: not\r\n\r\nb\r\n.\r\n"),
    ("no blank line", b"Subject: a\r\nX: b\r\n.\r\n"),
    ("body only", b"\r\nonly body\r\n.\r\n"),
    ("leading continuation", b" cont\r\nSubject: a\r\n\r\nb\r\n.\r\n"),
    ("colon header names", b"X-A : spaced\r\nX-B:nospace\r\n:empty\r\n\r\nb\r\n.\r\n"),
    ("dots", b"Subject: a\r\n\r\n.\r\n".replace(b".\r\n", b"..\r\n...x\r\n. \r\n.\r\n", 1)),
    ("with ids", b"Message-ID: <m@x>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: f@g\r\n\r\nx\r\n.\r\n"),
]


@pytest.mark.skipif(not os.path.exists(EXIM), reason="Debian's exim4 is not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="exim needs root for a private spool")
@pytest.mark.parametrize("name,data", BS_CASES, ids=[c[0] for c in BS_CASES])
def test_bs_headers_and_body_as_exim(postern_bin, tmp_path, name, data):
    """-bs is locally originated: the same header fix-ups and body as Exim (the -H option lines
    belong to the SMTP session and are not compared here)."""
    conv = data if data.startswith(b"EHLO") else \
        b"EHLO foo\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n" + data + b"QUIT\r\n"
    out = {}
    for who, binary in (("exim", EXIM), ("postern", postern_bin)):
        work = tmp_path / who
        spool = work / "spool"
        spool.mkdir(parents=True)
        conf = work / "conf"
        conf.write_text(CONF.format(spool=spool, extra="acl_smtp_rcpt = accept"))
        subprocess.run([binary, "-C", str(conf), "-odq", "-bs"], input=conv, capture_output=True, timeout=30)
        files = {f.name[-1]: mask(f.read_bytes()) for f in (spool / "input").iterdir()}
        out[who] = (files["H"].split(b"\n\n", 1)[1], files["D"])
    assert out["postern"][0].decode("latin-1") == out["exim"][0].decode("latin-1")
    assert out["postern"][1] == out["exim"][1]


def test_receive_timeout(postern_bin, tmp_path):
    """receive_timeout bounds the read of a local message (Exim 4.96's texts and status)."""
    import time
    spool = tmp_path / "spool"
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(spool=spool, extra="receive_timeout = 1s"))
    p = subprocess.Popen([postern_bin, "-C", str(conf), "-odq", "-oep", "-f", "a@b.c", "x@y"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"Subject: a\n\npartial")
    p.stdin.flush()
    start = time.monotonic()
    p.wait(timeout=10)
    took = time.monotonic() - start
    err = p.stderr.read()
    p.stdin.close()
    assert p.returncode == 1
    assert took < 5
    assert err == b"exim: timed out while reading - message abandoned\n"
    assert b"timed out while reading local message" in (spool / "log" / "mainlog").read_bytes()
    assert not list((spool / "input").iterdir())
