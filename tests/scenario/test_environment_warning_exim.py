"""keep_environment unset: "Warning: purging the environment." Postern against Debian's Exim 4.96
on the same configuration, mode by mode: where the two-line warning goes (main log, stderr, or
nowhere), with and without a caller's environment, and with keep_environment or add_environment
set."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from daemon_helpers import connect, free_port, reachable_by_exim_user, wait_for

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

BASE = """primary_hostname = env.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
trusted_users = root
tls_advertise_hosts =
"""

WARNING = "Warning: purging the environment.\n Suggested action: use keep_environment.\n"
STAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d " + re.escape(WARNING), re.M)

CALLER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C"}

MODES = [
    ("-bV",),
    ("-bs",),
    ("-bS",),
    ("-odq", "a@env.test"),
    ("-bpc",),
    ("-bp",),
    ("-Mvh", "1xV259-00034g-0J"),
    ("-q",),
    ("-bt", "a@env.test"),
    ("-bv", "a@env.test"),
    ("-be", "1"),
    ("-bh", "192.0.2.1"),
    ("-brw", "a@env.test"),
    ("-bP", "primary_hostname"),
]

CONFIGS = {
    "unset": "",
    "keep set": "keep_environment = PATH\n",
    "keep empty": "keep_environment =\n",
    "add only": "add_environment = FOO=1\n",
}


def where(cmd, d, extra, args, env):
    """Where the warning went: (times on stderr, times in the main log, in the panic log)."""
    if d.exists():
        shutil.rmtree(d)
    for sub in ("spool", "log"):
        (d / sub).mkdir(parents=True)
        shutil.chown(d / sub, "Debian-exim", "Debian-exim")
    conf = d / "conf"
    conf.write_text(BASE.format(d=d) + extra)
    r = subprocess.run([cmd, "-C", str(conf)] + list(args), input="QUIT\r\n", capture_output=True,
                       text=True, env=env, timeout=30)
    logs = [d / "log" / n for n in ("mainlog", "paniclog")]
    texts = [p.read_text() if p.exists() else "" for p in logs]
    return (len(STAMPED.findall(r.stderr)),) + tuple(len(STAMPED.findall(t)) for t in texts)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("args", MODES, ids=[" ".join(m) for m in MODES])
def test_warning_as_exim(postern_bin, tmp_path, args, config):
    reachable_by_exim_user(tmp_path)
    for env_name, env in (("caller's", CALLER_ENV), ("empty", {})):
        exim = where("/usr/sbin/exim", tmp_path / "exim", CONFIGS[config], args, env)
        ours = where(postern_bin, tmp_path / "postern", CONFIGS[config], args, env)
        assert ours == exim, env_name


def test_warning_expected_places(postern_bin, tmp_path):
    """The comparison above would pass if neither warned: pin down the observed places."""
    reachable_by_exim_user(tmp_path)
    d = tmp_path / "p"
    assert where(postern_bin, d, "", ("-bV",), CALLER_ENV) == (1, 0, 0)
    assert where(postern_bin, d, "", ("-bs",), CALLER_ENV) == (0, 1, 0)
    assert where(postern_bin, d, "", ("-bs",), {"TZ": "UTC"}) == (0, 1, 0)
    assert where(postern_bin, d, "", ("-bs",), {}) == (0, 0, 0)
    assert where(postern_bin, d, "", ("-bt", "a@env.test"), CALLER_ENV) == (0, 0, 0)
    assert where(postern_bin, d, "add_environment = FOO=1\n", ("-bs",), CALLER_ENV) == (0, 1, 0)
    assert where(postern_bin, d, "keep_environment =\n", ("-bs",), CALLER_ENV) == (0, 0, 0)


class Daemon:
    def __init__(self, cmd, d, port):
        self.cmd, self.d, self.port = cmd, d, port
        for sub in ("spool", "log"):
            (d / sub).mkdir(parents=True)
            shutil.chown(d / sub, "Debian-exim", "Debian-exim")
        self.conf = d / "conf"
        self.conf.write_text(BASE.format(d=d) + "daemon_startup_retries = 0\n")
        self.proc = None

    @property
    def mainlog(self):
        p = self.d / "log" / "mainlog"
        return p.read_text() if p.exists() else ""

    def run(self):
        self.proc = subprocess.Popen([self.cmd, "-C", str(self.conf), "-bdf", "-oX", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CALLER_ENV)
        try:
            assert wait_for(lambda: "daemon started" in self.mainlog, 20), self.mainlog
            # Exim installs its SIGHUP handler a moment after the start line: once a session
            # has been served, the daemon is in its accept loop.
            s, banner = connect(self.port)
            s.close()
            assert banner.startswith("220"), banner
            time.sleep(0.5)
            self.proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda: self.mainlog.count("daemon started") == 2, 20), self.mainlog
        finally:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        lines = [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", l) for l in self.mainlog.splitlines()]
        return [l for l in lines if "daemon started" in l or "purging" in l or "Suggested" in l]


def test_daemon_warns_once_not_after_sighup(postern_bin, tmp_path):
    """The daemon warns before its start line; the daemon run again by SIGHUP does not."""
    reachable_by_exim_user(tmp_path)
    exim = Daemon("/usr/sbin/exim", tmp_path / "exim", free_port()).run()
    ours = Daemon(postern_bin, tmp_path / "postern", free_port()).run()
    mask = lambda ls: [re.sub(r"pid=\d+.*", "pid=N", l) for l in ls]
    assert mask(ours) == mask(exim)
    assert mask(exim) == ["Warning: purging the environment.", " Suggested action: use keep_environment.",
                          "exim 4.96 daemon started: pid=N", "exim 4.96 daemon started: pid=N"]
