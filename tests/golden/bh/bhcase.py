"""Golden -bh transcripts: reading a case, running a binary on it, and normalising the output.

Shared by scripts/record-golden-bh.py (runs Debian's Exim 4.96) and
tests/scenario/test_smtp_golden_bh.py (runs postern and compares).

A case file is "config: NAME", "host: IP", a line "---", then the client's lines (sent with
CRLF). The transcript is stdout, then a line "--- log ---", then the "LOG:" lines of stderr (the
">>>" debug lines are Exim's ACL tracing and are not compared). Variable bits are replaced in
both: the banner date, message ids, D= durations.
"""
import os
import pathlib
import re
import subprocess
import tempfile

HERE = pathlib.Path(__file__).resolve().parent


def read_case(path):
    head, _, body = path.read_text().partition("---\n")
    meta = dict(line.split(": ", 1) for line in head.splitlines() if line.strip())
    data = "".join(line + "\r\n" for line in body.splitlines())
    return meta["config"], meta["host"], data


def normalise(text):
    text = re.sub(r"\w{3}, \d\d? \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "<DATE>", text)
    text = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "<ID>", text)
    text = re.sub(r"\bD=[0-9hms.]+", "D=<D>", text)
    return text.replace("\r\n", "\n")


def run_case(binary, case_path, timeout=30):
    config, host, data = read_case(case_path)
    with tempfile.TemporaryDirectory() as spool:
        cmd = [binary, "-C", str(HERE / "configs" / (config + ".conf")), "-DSPOOL=" + spool, "-bh", host]
        p = subprocess.run(cmd, input=data.encode(), capture_output=True, timeout=timeout,
                           env=dict(os.environ, TZ="UTC"))
    out = p.stdout.decode(errors="replace")
    logs = [l for l in p.stderr.decode(errors="replace").splitlines() if l.startswith("LOG: ")]
    return normalise(out + "--- log ---\n" + "".join(l + "\n" for l in logs))


def cases():
    return sorted((HERE / "cases").glob("*.case"))
