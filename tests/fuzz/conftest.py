"""The fuzz tests share one memory- and time-capped CLI worker per module (tests/helpers/fuzz.py)."""

from __future__ import annotations

import sys

import pytest
from helpers.fuzz import CliWorker


@pytest.fixture(scope="module")
def cli():
    if not sys.platform.startswith("linux"):
        pytest.skip("the capped worker forks and reads /proc (Linux)")
    worker = CliWorker()
    yield worker
    worker.close()
