"""tests/stress: long variants of the reliability tests (all marked ``slow``).

They are skipped unless asked for, so ``make test`` / a plain ``pytest`` stays fast:

    STRESS=1 pytest tests/stress                 # or: pytest -m slow tests/stress
    STRESS=1 HYPOTHESIS_PROFILE=slow pytest tests/stress

(An environment variable rather than a ``--run-slow`` option: pytest only reads
options from the root conftest and plugins, and tests/conftest.py is not ours.)
"""

from __future__ import annotations

import os

import pytest


def _stress_enabled(config: pytest.Config) -> bool:
    if os.environ.get("STRESS", "") not in ("", "0"):
        return True
    markexpr = config.getoption("markexpr", default="") or ""
    return "slow" in markexpr and "not slow" not in markexpr


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("slow") and not _stress_enabled(item.config):
        pytest.skip("stress variant: set STRESS=1 (or run pytest -m slow) to run it")
