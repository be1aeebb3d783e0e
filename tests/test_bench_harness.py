"""The end-to-end benchmark's harness (benches/e2e.py) runs, on a tiny stream, against
whichever pystator is installed: ``make test`` runs this file in ``.venv`` (0.0.25) and
``make test-v47`` in ``.venvs/v47`` (0.0.47). Not a timing test — what it checks is
that every row is measured and that the harness leaves no trace (install(), loggers,
the collector)."""

from __future__ import annotations

import gc
import logging
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("pystator")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches"))

import e2e  # noqa: E402

import ferrostator  # noqa: E402

pytestmark = pytest.mark.thread_unsafe(
    reason="install(), logger levels and gc.freeze() are process-wide"
)

_FIGURE = re.compile(r"^\d+\.\d\d$")
_RATIO = re.compile(r"^\d+\.\d\d×$")


def test_every_row_is_measured_and_the_process_is_left_as_it_was() -> None:
    loggers = [logging.getLogger(name) for name in ("pystator", "ferrostator")]
    before = [logger.level for logger in loggers]
    rows, interop = e2e.measure(events=20, repeats=2)

    assert [row[0] for row in rows] == [
        "Orchestrator.process_event (sync)",
        "Orchestrator.async_process_event (async)",
        "machine.process + executor.execute",
    ]
    for row in rows:
        assert len(row) == len(e2e.E2E_HEADER)
        assert all(_FIGURE.match(cell) for cell in row[1:4]), row
        assert all(_RATIO.match(cell) for cell in row[4:6]), row
        assert row[6].endswith("%"), row
    assert [(row[0], row[1]) for row in interop] == [
        ("ferrostator on pystator's objects", "the machine's"),
        ("ferrostator on ferrostator's objects", "the machine's"),
        ("ceiling", "the machine's"),
        ("ferrostator on pystator's objects", "do-nothing"),
        ("ferrostator on ferrostator's objects", "do-nothing"),
    ]
    for row in interop:
        assert len(row) == len(e2e.INTEROP_HEADER)
        assert _FIGURE.match(row[2]) and float(row[2]) > 0, row
        assert _RATIO.match(row[3]), row
    assert [row[3] for row in interop if row[0].endswith("ferrostator's objects")] == [
        "1.00×",
        "1.00×",
    ]

    assert ferrostator.installed() is None
    assert [logger.level for logger in loggers] == before
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_the_ceiling_runs_the_same_bodies_as_the_executors() -> None:
    """The ceiling is only a fair floor if it does the actions' work: over a stream it
    makes the same action calls with the same params, and leaves the contexts as
    pystator's executor does."""
    stream = e2e._engine.events(30, 6, seed=7)
    contexts: dict[str, list[dict[str, object]]] = {}
    calls: dict[str, list[tuple[object, ...]]] = {}
    for variant in e2e.VARIANTS:
        machine, executor, shop = e2e._setup(variant)
        calls[variant] = shop.log
        states: dict[str, str] = {}
        contexts[variant] = []
        for entity, trigger, event_context in stream:
            ctx = {"_entity_id": entity, **event_context}
            result = machine.process(states.get(entity, "created"), trigger, ctx)
            if result.success:
                states[entity] = result.target_state
                executor.execute(result, ctx)
                contexts[variant].append(ctx)
    assert len(contexts["pystator"]) > 10
    assert any(params for _, _, params in calls["pystator"])
    assert calls["ceiling"] == calls["pystator"] == calls["ferrostator"]
    assert contexts["ceiling"] == contexts["pystator"] == contexts["ferrostator"]
