"""Helper for test_pipe_parent_exim.py, run as root inside `unshare -m` (a private mount
namespace): /etc/exim4 is a bind mount of a directory made here, whose exim4.conf is the
configuration under test, so both programs run with their default configuration file (trusted,
no -C) and nothing on the host changes. A pipe delivery writes its parent's and grandparent's
command lines (/proc/PID/cmdline, NULs made spaces).

    pipe_parent_compare.py BINARY DIR   -> one line per mode: "MODE<TAB>parent<TAB>grandparent"
"""
import os
import pathlib
import re
import subprocess
import sys
import time

CONF = """\
primary_hostname = vm
spool_directory = {d}/spool
log_file_path = {d}/spool/log/%slog
begin routers
rest:
  driver = accept
  domains = vm
  transport = p
begin transports
p:
  driver = pipe
  command = {d}/show-parents {d}/out
"""

SCRIPT = """#!/bin/sh
out=$1/$LOCAL_PART
tr '\\000' ' ' < /proc/$PPID/cmdline > $out.tmp
echo >> $out.tmp
gp=$(ps -o ppid= $PPID | tr -d ' ')
tr '\\000' ' ' < /proc/$gp/cmdline >> $out.tmp
mv $out.tmp $out
"""

ID = re.compile(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b")


def main():
    binary, base = sys.argv[1], pathlib.Path(sys.argv[2])
    etc = base / "etc-exim4"
    etc.mkdir()
    subprocess.run(["mount", "--bind", str(etc), "/etc/exim4"], check=True)
    env = {k: v for k, v in os.environ.items() if k != "POSTERN_TEST_TRUST_CONFIG"}
    for mode in ("-odi", "-odf", "-odb", "-qf", "-M"):
        d = base / mode.strip("-")
        for sub in ("", "spool", "out"):
            (d / sub).mkdir(exist_ok=True)
            os.chmod(d / sub, 0o777)
        (d / "show-parents").write_text(SCRIPT)
        os.chmod(d / "show-parents", 0o755)
        (etc / "exim4.conf").write_text(CONF.format(d=d))
        os.chmod(etc / "exim4.conf", 0o644)
        lp = "u" + mode.strip("-").lower()
        how = mode if mode.startswith("-od") else "-odq"
        subprocess.run([binary, how, "-f", "s@vm", lp + "@vm"], input="Subject: t\n\nbody\n",
                       capture_output=True, text=True, env=env, timeout=60, check=True)
        if mode == "-qf":
            subprocess.run([binary, "-qf"], capture_output=True, env=env, timeout=60)
        elif mode == "-M":
            mid = ID.search((d / "spool" / "log" / "mainlog").read_text()).group(0)
            subprocess.run([binary, "-M", mid], capture_output=True, env=env, timeout=60)
        out = d / "out" / lp
        for _ in range(100):   # -odb: the delivery goes on in the background
            if out.exists():
                break
            time.sleep(0.1)
        lines = out.read_text().splitlines() if out.exists() else ["(none)", "(none)"]
        print("\t".join([mode] + [ID.sub("ID", line.strip()) for line in lines]))


if __name__ == "__main__":
    main()
