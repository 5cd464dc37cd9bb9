"""Shared fixtures for the end-to-end tests: the postern binary and a per-test directory."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


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
