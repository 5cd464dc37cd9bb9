import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "scenario"))
from conftest import postern_bin  # noqa: E402,F401  (the scenario fixture)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: the full-scale load run (not part of make check)")
