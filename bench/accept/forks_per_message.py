"""Forks per accepted message of one Postern build: a daemon with bench/accept's configuration
(servers.py) on PORT, loadgen's C clients sending 2 KB messages for SECONDS, the daemon's own
clone/fork calls counted by `strace -c -p` (no -f: the daemon is the process that forks; strace
slows it, so rates are lower than without it: NOSTRACE=1 measures the rate alone).

    forks_per_message.py BINARY PORT CONCURRENCY SECONDS   -> one line of JSON
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import loadgen  # noqa: E402
import servers  # noqa: E402


def main():
    binary, port, conc, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    d = tempfile.mkdtemp(prefix="forks-")
    os.chmod(d, 0o755)   # the sessions run as the exim user
    s = servers.Postern(d, port, binary)
    if not s.start():
        sys.exit("the daemon did not start")
    try:
        st = None
        if not os.environ.get("NOSTRACE"):
            st = subprocess.Popen(["strace", "-c", "-e", "trace=clone,clone3,fork,vfork", "-p",
                                   str(s.proc.pid), "-o", d + "/strace.txt"])
            time.sleep(0.5)
        res = loadgen.run("127.0.0.1", port, 2048, conc, False, secs)
        forks = None
        if st:
            st.send_signal(2)
            st.wait()
            forks = 0
            for line in open(d + "/strace.txt"):
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(clone3?|fork|vfork)\s*$", line)
                if m:
                    forks += int(m.group(1))
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)
    print(json.dumps({"binary": binary, "concurrency": conc, "ok": res["ok"], "errors": res["errors"],
                      "rate": res["rate"], "forks": forks,
                      "forks_per_message": round(forks / res["ok"], 3) if forks is not None and res["ok"] else None}))


if __name__ == "__main__":
    main()
