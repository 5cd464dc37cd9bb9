"""Fixtures for the load tests (run with `-m slow`; not part of make check)."""
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: the full-scale load run (not part of make check)")


@pytest.fixture(scope="session")
def postern_bin():
    path = os.environ.get("POSTERN", str(HERE.parents[1] / "build" / "postern"))
    if not os.path.exists(path):
        pytest.fail(f"postern binary not found at {path}; run `make` first")
    return path
