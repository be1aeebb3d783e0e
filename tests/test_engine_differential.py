"""pystator's own engine with and without ``ferrostator.install()``: the same event
streams through ``Orchestrator.process_event``, ``async_process_event``,
``machine.orchestrate()``, ``machine.process`` + ``ActionExecutor.execute`` and a
``Worker`` (SQLite state store, in-memory event queue) must end in the same states and
contexts, call the same actions in the same order with the same params, return the same
results and log the same records to pystator's logger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import ferrostator

pytest.importorskip("pystator")
pytest.importorskip("sqlalchemy")

import _engine  # noqa: E402

pytestmark = pytest.mark.thread_unsafe(reason="install() and logging capture are process-wide")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def _run(name: str, stream: list[Any], *, installed: bool) -> dict[str, Any]:
    handler = _Records()
    logger = logging.getLogger("pystator.actions")
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    if installed:
        ferrostator.install()
    try:
        outcome = _engine.RUNS[name](stream)
    finally:
        if installed:
            ferrostator.uninstall()
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    outcome["records"] = handler.records
    return outcome


@pytest.fixture(scope="module")
def stream() -> list[Any]:
    return _engine.events(300, 60, seed=7)


def _statuses(outcome: dict[str, Any]) -> Iterator[str]:
    for _trigger, _target, _mode, results in outcome["executions"]:
        for result in results:
            yield result[2]


@pytest.mark.parametrize("name", list(_engine.RUNS))
def test_the_engine_behaves_the_same_with_ferrostator_installed(name: str, stream: list[Any]):
    plain = _run(name, stream, installed=False)
    with_ferrostator = _run(name, stream, installed=True)
    assert plain.pop("executor") == "pystator.actions.ActionExecutor"
    assert with_ferrostator.pop("executor") == "ferrostator.actions.ActionExecutor"
    # The stream exercises what matters: skips, failures, retries, effects, params.
    statuses = set(_statuses(plain))
    assert {"ok", "failed", "skipped"} <= statuses
    log = plain["log"]
    assert any(
        a[0] == "book_carrier" and b[0] == "book_carrier"
        for a, b in zip(log, log[1:], strict=False)
    )
    assert any(entry[2] for entry in log)
    assert {state for state, _ in plain["store"].values()} >= {"delivered", "cancelled"}
    assert any(level == logging.WARNING for _, level, _ in plain["records"])
    if name == "worker":
        assert plain["store_type"] == "SQLiteStateStore"
    for key in plain:
        assert with_ferrostator[key] == plain[key], key
