"""A driver may set headers_add and headers_remove more than once; Exim 4.96 joins the values
(newline / colon) instead of refusing the second setting. Expected lines recorded from Exim 4.96."""
import subprocess

CONF = """spool_directory = {tmp}/spool
begin routers
r1:
  driver = accept
  headers_add = X-A: 1
  headers_add = X-B: 2
  headers_remove = x-c
  headers_remove = x-d
  transport = t1
begin transports
t1:
  driver = appendfile
  file = /tmp/x
  headers_add = X-E: 1
  headers_add = X-F: 2
  headers_remove = x-g
  headers_remove = x-h
"""


def bp(postern_bin, conf, *what):
    p = subprocess.run([postern_bin, "-C", str(conf), "-bP", *what], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return [l for l in p.stdout.splitlines() if l.startswith("headers_add") or l.startswith("headers_remove")]


def test_repeated_header_options_join(postern_bin, tmp_path):
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(tmp=tmp_path))
    assert bp(postern_bin, conf, "router", "r1") == ["headers_add = X-A: 1\\nX-B: 2", "headers_remove = x-c:x-d"]
    assert bp(postern_bin, conf, "transport", "t1") == ["headers_add = X-E: 1\\nX-F: 2", "headers_remove = x-g:x-h"]


def test_other_options_still_refused_twice(postern_bin, tmp_path):
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(tmp=tmp_path).replace("  file = /tmp/x\n", "  file = /tmp/x\n  file = /tmp/y\n"))
    p = subprocess.run([postern_bin, "-C", str(conf), "-bV"], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert '"file" option set for the second time' in p.stdout + p.stderr
