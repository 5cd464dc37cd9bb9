"""The daemon and the queue-runner daemon work from the spool directory, as Exim 4.96's do
(checked with `ls -l /proc/<pid>/cwd` of `exim -bd` and `exim -q30m`), and what they run again
of themselves still finds the caller's relative program and -C paths: the SIGHUP re-exec, and
the "-R" queue run that ETRN starts. A relative pid file path is refused, as Exim refuses it:
"pid file path <path> must be absolute" in the panic log, exit 1 for -bdf."""
import os
import signal
import subprocess
import time

from daemon_helpers import base_config, free_ports, wait_for


def cwd_of(pid):
    return os.readlink(f"/proc/{pid}/cwd")


def make_conf(tmp_path, extra=""):
    spool = tmp_path / "spool"
    (tmp_path / "test.conf").write_text(base_config(spool, extra))
    return spool


def mainlog(spool):
    p = spool / "log" / "mainlog"
    return p.read_text() if p.exists() else ""


def test_daemon_cwd_and_sighup_with_relative_paths(postern_bin, tmp_path):
    (port,) = free_ports(1)
    spool = make_conf(tmp_path, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}")
    prog = os.path.relpath(postern_bin, tmp_path)
    assert "/" in prog  # a relative path, not a PATH lookup
    proc = subprocess.Popen([prog, "-C", "test.conf", "-bdf"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: "daemon started" in mainlog(spool), timeout=10), mainlog(spool)
        assert cwd_of(proc.pid) == str(spool)
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: mainlog(spool).count("daemon started") == 2, timeout=10), mainlog(spool)
        assert proc.poll() is None
        assert "re-exec of" not in mainlog(spool)
        assert wait_for(lambda: cwd_of(proc.pid) == str(spool))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_queue_runner_daemon_cwd(postern_bin, tmp_path):
    spool = make_conf(tmp_path)
    pidfile = tmp_path / "q.pid"
    r = subprocess.run([postern_bin, "-C", "test.conf", "-q30m", "-oP", str(pidfile)], cwd=tmp_path,
                       timeout=30, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "", timeout=10)
    pid = int(pidfile.read_text())
    try:
        assert cwd_of(pid) == str(spool)
        assert wait_for(lambda: "End queue run" in mainlog(spool), timeout=10)
    finally:
        os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not pidfile.exists(), timeout=10)


def test_relative_pid_file_refused(postern_bin, tmp_path):
    (port,) = free_ports(1)
    spool = make_conf(tmp_path, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {port}")
    r = subprocess.run([postern_bin, "-C", "test.conf", "-bdf", "-oP", "rel.pid"], cwd=tmp_path,
                       timeout=30, capture_output=True, text=True)
    assert r.returncode == 1
    assert "pid file path rel.pid must be absolute" in r.stderr
    assert "pid file path rel.pid must be absolute" in (spool / "log" / "paniclog").read_text()
    assert not (tmp_path / "rel.pid").exists() and not (spool / "rel.pid").exists()


def test_etrn_queue_run_with_relative_config(postern_bin, tmp_path):
    spool = make_conf(tmp_path, "acl_smtp_etrn = accept")
    r = subprocess.run([postern_bin, "-C", "test.conf", "-bs"], cwd=tmp_path,
                       input="helo x\r\netrn #foo.example\r\nquit\r\n",
                       capture_output=True, text=True, timeout=30)
    assert "250 OK" in r.stdout, r.stdout
    assert wait_for(lambda: "End queue run" in mainlog(spool), timeout=10), mainlog(spool)
    assert "-R foo.example" in mainlog(spool)
