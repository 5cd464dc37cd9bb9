"""Shared fixtures for the end-to-end tests: the postern binary and a per-test directory."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The tests' configurations are -C files root calls Postern with; Exim would deliver after a
# reception without root then (docs/command-line.md). Like Exim's own test suite, which lists
# its configuration as trusted, they keep root; test_root_config*.py unsets this to check the
# Exim behaviour.
os.environ.setdefault("POSTERN_TEST_TRUST_CONFIG", "1")


# Each pytest process gets a base temporary directory of its own, /tmp/pt-<pid>, given to pytest
# as --basetemp. Sessions and deliveries run as the mail user below tmp_path, so the directories
# above it must let others through (reachable_by_exim_user). In pytest's shared
# /tmp/pytest-of-<user>, every pytest process that starts takes those rights away again (pytest
# makes that directory private): a suite running while any other pytest started (another
# checkout's, a second run) had its mail-user processes fail at once with "Permission denied"
# on lookups, hints and logs ("421 Unexpected log failure", deferrals that bounced). The name is
# short on purpose: Unix sockets below tmp_path (the daemon's notifier socket, Dovecot's auth
# socket) must fit in 108 bytes, which /tmp/pytest-of-root/pytest-<n>/ allowed and a longer
# root did not. Runs that ended are removed except the newest three, as pytest keeps three.
# A --basetemp or PYTEST_DEBUG_TEMPROOT given by the caller is kept.
RUN_PREFIX = "pt-"


def _prune_ended_runs(top):
    ended = []
    for d in top.glob(RUN_PREFIX + "*"):
        try:
            if d.is_symlink() or d.stat().st_uid != os.getuid():
                continue
            os.kill(int(d.name[len(RUN_PREFIX):]), 0)
        except ProcessLookupError:
            ended.append(d)
        except (ValueError, OSError):
            continue

    def mtime(d):
        try:
            return d.stat().st_mtime
        except OSError:   # another run's pruning took it meanwhile
            return 0
    for d in sorted(ended, key=mtime)[:-3]:
        shutil.rmtree(d, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Before pytest's own tmp_path set-up reads the option."""
    if config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return
    top = pathlib.Path(tempfile.gettempdir())
    _prune_ended_runs(top)
    config.option.basetemp = str(top / f"{RUN_PREFIX}{os.getpid()}")


@pytest.fixture(scope="session", autouse=True)
def _basetemp_reachable(tmp_path_factory):
    """The directories above every tmp_path let others through, once for the run (tmp_path
    itself stays 0700 unless a test opens it): our /tmp/pt-<pid>, or pytest's own
    pytest-of-<user> and pytest-<n> when the caller chose the temporary root."""
    base = tmp_path_factory.getbasetemp()
    for d in (base.parent, base):
        if d.name.startswith(("pytest-", RUN_PREFIX)):
            os.chmod(d, os.stat(d).st_mode | 0o005)


@pytest.fixture(scope="session")
def postern_bin():
    path = os.environ.get("POSTERN", str(ROOT / "build" / "postern"))
    if not os.path.exists(path):
        pytest.fail(f"postern binary not found at {path}; run `make` first")
    return path


@pytest.fixture
def run_postern(postern_bin, tmp_path):
    """Run postern with arguments; returns CompletedProcess (text mode)."""
    def run(*args, input=None, config=None, timeout=30):
        cmd = [postern_bin]
        if config is not None:
            conf = tmp_path / "test.conf"
            conf.write_text(config)
            cmd += ["-C", str(conf)]
        cmd += list(args)
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    return run
