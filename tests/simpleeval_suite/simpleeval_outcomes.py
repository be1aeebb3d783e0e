"""pytest plugin: write every test's outcome (node id -> passed, failed, skipped, error)
as JSON to the file named by ``$FERROSTATOR_SUITE_OUTCOMES``. Loaded with
``-p simpleeval_outcomes`` by ``run_suite.py``.

simpleeval's tests use ``unittest`` subtests, which pytest reports separately under the
test's own node id, before the test's own (passing) call report: a test counts as failed
when any of its reports failed.
"""

from __future__ import annotations

import json
import os

import pytest

_outcomes: dict[str, str] = {}

_RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    outcome: str
    if report.when == "call":
        outcome = report.outcome
    elif report.failed:
        outcome = "error"  # setup or teardown failed
    elif report.skipped:
        outcome = "skipped"  # a skip in setup: there is no call
    else:
        return
    previous = _outcomes.get(report.nodeid)
    if previous is None or _RANK[outcome] > _RANK[previous]:
        _outcomes[report.nodeid] = outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("FERROSTATOR_SUITE_OUTCOMES")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_outcomes, out, indent=0, sort_keys=True)
