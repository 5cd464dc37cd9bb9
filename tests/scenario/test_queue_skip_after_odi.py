"""A plain -q right after -odi deliveries that deferred logs the skip lines Exim 4.96 logs
(observed with the same configuration): the local address "defer (-53): Retry time not yet
reached", the remote one "defer (-54): retry time not reached for any host for '<domain>'".
The -odi delivery, not a queue run, wrote the schedule index entry, so it must carry them."""
import os
import re
import subprocess

CONF = """spool_directory = {spool}
log_file_path = {spool}/log/%slog
primary_hostname = vm
exim_user = root
exim_group = root
begin routers
r:
  driver = manualroute
  domains = remote.test
  route_list = * 127.0.0.1::1 byname
  self = send
  transport = smtp
a:
  driver = accept
  transport = t
begin transports
smtp:
  driver = smtp
  port = 1
t:
  driver = appendfile
  file = /nonexistent/dir/mbox
  user = mail
begin retry
* * F,1h,15m
"""


def test_plain_q_after_odi_logs_skip_lines(postern_bin, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(spool, 0o777)
    conf = tmp_path / "conf"
    conf.write_text(CONF.format(spool=spool))
    for rcpt, subj in (("u@remote.test", "x"), ("b@vm", "y")):
        subprocess.run([postern_bin, "-C", str(conf), "-odi", rcpt], input=f"Subject: {subj}\n\nbody\n",
                       text=True, timeout=60)
    log = spool / "log" / "mainlog"
    before = log.read_text()
    assert "== u@remote.test R=r T=smtp defer (111): Connection refused" in before, before
    assert re.search(r"== b@vm R=a T=t defer \(13\)", before), before
    subprocess.run([postern_bin, "-C", str(conf), "-q"], timeout=60, check=True)
    run = log.read_text()[len(before):]
    lines = [re.sub(r"^\S+ \S+ ", "", x) for x in run.splitlines()]
    ids = {m.group(1): m.group(2) for m in re.finditer(r"(?m)^\S+ \S+ (\S+) == (\S+)", before)}
    by_addr = {v: k for k, v in ids.items()}
    assert f"{by_addr['u@remote.test']} == u@remote.test R=r T=smtp defer (-54): retry time not reached " \
           f"for any host for 'remote.test'" in lines, run
    assert f"{by_addr['b@vm']} == b@vm R=a T=t defer (-53): Retry time not yet reached" in lines, run
    assert not any("Connection refused" in x or "defer (13)" in x for x in lines), run
