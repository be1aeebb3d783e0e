"""pytest plugin: write every test's outcome (node id -> passed, failed, skipped,
error) as JSON to the file named by ``$FERROSTATOR_SUITE_OUTCOMES``. Loaded with
``-p suite_outcomes`` by ``run_suite.py``."""

from __future__ import annotations

import json
import os

import pytest

_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        outcome = report.outcome
    elif report.failed:
        outcome = "error"  # setup or teardown failed
    elif report.skipped:
        outcome = "skipped"
    else:
        return
    # A teardown error overrides the call's outcome; a setup skip has no call.
    if outcome == "error" or report.nodeid not in _outcomes:
        _outcomes[report.nodeid] = outcome
    elif report.when == "call":
        _outcomes[report.nodeid] = outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("FERROSTATOR_SUITE_OUTCOMES")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_outcomes, out, indent=0, sort_keys=True)
