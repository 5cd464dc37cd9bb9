"""A redirect router with skip_syntax_errors and syntax_errors_to (and syntax_errors_text) sends
Exim 4.96's "error(s) in forwarding or filtering" report: compared byte for byte (ids and dates
aside) with the report Exim sends for the same configuration, both captured by an SMTP sink."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest

from smtp_transport_helpers import log_body, postern_bin

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

CONF = """primary_hostname = client.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
{users}
never_users =
trusted_users = root
keep_environment =
begin routers
list:
  driver = redirect
  local_parts = list
  data = good@r.test, bad@@x, worse<
  skip_syntax_errors
  syntax_errors_to = owner@r.test
{text}
r:
  driver = manualroute
  route_list = * 127.0.0.1::{port}
  self = send
  transport = t
begin transports
t:
  driver = smtp
  allow_localhost
  hosts_try_fastopen =
  hosts_try_chunking =
{tpuser}
"""


class Sink:
    """Accepts every message on every connection; keeps (recipients, data lines) per message."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.messages, self.stop = [], False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        c.settimeout(10)
        with c, c.makefile("rwb") as f:
            def w(x):
                f.write(x.encode() + b"\r\n")
                f.flush()
            w("220 sink ESMTP")
            rcpts, data, lines = [], False, []
            for raw in f:
                line = raw.decode(errors="replace").rstrip("\r\n")
                if data:
                    if line == ".":
                        self.messages.append((rcpts, lines))
                        rcpts, data, lines = [], False, []
                        w("250 OK")
                    else:
                        lines.append(line[1:] if line.startswith("..") else line)
                    continue
                up = line.upper()
                if up.startswith("EHLO"):
                    w("250-sink")
                    w("250 PIPELINING")
                elif up.startswith("RCPT"):
                    rcpts.append(line[8:])
                    w("250 OK")
                elif up == "DATA":
                    w("354 go")
                    data = True
                elif up == "QUIT":
                    w("221 bye")
                    return
                else:
                    w("250 OK")

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def report(who, text):
    sink = Sink()
    d = pathlib.Path(tempfile.mkdtemp(prefix=f"synerr-{who}-"))
    try:
        os.chmod(d, 0o755)
        (d / "spool").mkdir()
        (d / "log").mkdir()
        if who == "exim":
            for p in ["spool", "log"]:
                shutil.chown(d / p, "Debian-exim")
            users = "exim_user = Debian-exim\nexim_group = Debian-exim"
            tpuser, cmd = "  user = Debian-exim", "exim"
        else:
            users, tpuser, cmd = "exim_user = root\nexim_group = root", "", postern_bin()
        (d / "c.conf").write_text(CONF.format(d=d, users=users, tpuser=tpuser, port=sink.port, text=text))
        subprocess.run([cmd, "-C", str(d / "c.conf"), "-odi", "-f", "s@s.test", "list@r.test"],
                       input=b"Subject: t\n\nbody\n", capture_output=True, timeout=60)
        for _ in range(100):
            if len(sink.messages) >= 2:
                break
            threading.Event().wait(0.1)
        reports = [lines for rcpts, lines in sink.messages if rcpts == ["<owner@r.test>"]]
        assert len(reports) == 1, sink.messages
        body = reports[0][reports[0].index("Auto-Submitted: auto-replied"):]
        body = [re.sub(r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", "<id>", l) for l in body]
        body = [re.sub(r"^Date: .*", "Date: <date>", l) for l in body]
        log = [log_body(l) for l in (d / "log" / "mainlog").read_text().splitlines()]
        return body, [l for l in log if "skipped error" in l]
    finally:
        sink.close()
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("text", ["", "  syntax_errors_text = Errors for $local_part:\\n(list owner)"])
def test_syntax_errors_report_as_exim(text):
    exim = report("exim", text)
    postern = report("postern", text)
    assert "The list router encountered the following error(s):" in exim[0]
    assert postern == exim
