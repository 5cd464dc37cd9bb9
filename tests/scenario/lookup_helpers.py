"""Shared helpers for the lookup end-to-end tests: run `postern -be` and skip only when the -be
mode itself is not implemented yet (the placeholder prints "not built yet")."""
import shutil
import subprocess

import pytest

CONFIG = "primary_hostname = test.example\n"


def be(run_postern, *exprs, config=CONFIG):
    """Expand each expression with postern -be; returns the output lines (one per expression)."""
    probe = run_postern("-be", "probe", config=config)
    if probe.returncode != 0 and "not built yet" in (probe.stderr + probe.stdout):
        pytest.skip("postern -be is not implemented in this build")
    res = run_postern("-be", *exprs, config=config)
    return res.stdout.splitlines()


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw)
