"""Shared fixtures for the end-to-end tests: the postern binary and a per-test directory."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The tests' configurations are -C files root calls Postern with; Exim would deliver after a
# reception without root then (docs/command-line.md). Like Exim's own test suite, which lists
# its configuration as trusted, they keep root; test_root_config*.py unsets this to check the
# Exim behaviour.
os.environ.setdefault("POSTERN_TEST_TRUST_CONFIG", "1")


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
