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
import expressions  # noqa: E402  (benches/expressions.py)
import report  # noqa: E402
import workloads  # noqa: E402

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


# --- the expression engine's rows (benches/e2e.py measure_expr, benches/expressions.py) ---


def _expression_functions() -> list[tuple[object, str, object]]:
    """pystator's expression functions, where install() and FreeExpressions patch them."""
    import importlib

    import pystator.guards

    found: list[tuple[object, str, object]] = [
        (pystator.guards, "_eval_expression", pystator.guards._eval_expression)
    ]
    if e2e.CONTRACT == "v47":
        expr = importlib.import_module("pystator._expr")
        found += [
            (expr, name, getattr(expr, name)) for name in ("evaluate_expr", "evaluate_bool_expr")
        ]
    return found


def test_the_expression_machine_row_is_measured_and_the_process_is_left_as_it_was() -> None:
    loggers = [logging.getLogger(name) for name in ("pystator", "ferrostator")]
    before = [logger.level for logger in loggers]
    functions = _expression_functions()
    rows, split = e2e.measure_expr(events=20, repeats=2)

    assert len(rows) == 1
    (row,) = rows
    assert row[0].startswith("Orchestrator.process_event (sync), guards as expr")
    assert row[0].endswith(", when, compute") == (e2e.CONTRACT == "v47")
    assert len(row) == len(e2e.E2E_HEADER)
    assert all(_FIGURE.match(cell) for cell in row[1:4]), row
    assert all(_RATIO.match(cell) for cell in row[4:6]), row
    assert row[6].endswith("%"), row
    assert [cells[0].split(" (")[0] for cells in split] == [
        "pystator",
        e2e.FREE_PYSTATOR,
        "… pystator's expressions",
        "ferrostator",
        e2e.FREE_GUARDS,
        "… ferrostator's guards",
        "ceiling",
        "… ferrostator over the ceiling",
        "expressions evaluated per event",
    ]
    assert all(len(cells) == len(e2e.EXPR_SPLIT_HEADER) for cells in split)
    assert all(re.match(r"^-?\d+\.\d\d$", cells[1]) for cells in split), split
    assert float(split[-1][1]) > 0

    assert ferrostator.installed() is None
    assert [(module, name, getattr(module, name)) for module, name, _ in functions] == functions
    assert [logger.level for logger in loggers] == before
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


_GUARDED = {("created", "pay"), ("packed", "ship")}


def test_the_expression_ceiling_gives_pystators_answers() -> None:
    """The ceiling with free expressions (and pystator's executor with them, the split)
    must take the same transitions, make the same calls and leave the same contexts as
    pystator and ferrostator, over a stream where guards pass and fail (and, under 0.0.47,
    a ``when`` holds or not and ``compute`` runs)."""
    stream = e2e._engine.expr_events(60, 8, seed=11)
    free = e2e.free_expressions()
    outcomes: dict[str, tuple[object, ...]] = {}
    for variant in e2e.EXPR_VARIANTS:
        machine, executor, shop = e2e._setup(variant, machine_name=e2e.EXPR_MACHINE)
        if variant == "ferrostator":
            around = e2e.contextlib.ExitStack()
            around.callback(ferrostator.uninstall)
            ferrostator.install()
        elif variant == e2e.FREE_GUARDS:
            around = e2e._installed_with_free_guards(free)
        elif variant in ("ceiling", e2e.FREE_PYSTATOR):
            around = free.patched()
        else:
            around = e2e.contextlib.nullcontext()
        states: dict[str, str] = {}
        contexts: dict[str, dict[str, object]] = {}
        transitions, skipped = [], []
        with around, e2e.workloads.records_dropped():
            for entity, trigger, event_context in stream:
                ctx = contexts.setdefault(entity, {"_entity_id": entity})
                ctx.update(event_context)
                source = states.get(entity, "created")
                result = machine.process(source, trigger, ctx)
                transitions.append((source, trigger, result.success, result.target_state))
                if result.success:
                    states[entity] = result.target_state
                    execution = executor.execute(result, ctx)
                    skipped += [
                        r.action_name
                        for r in execution.action_results
                        if r.is_skipped and r.result == "when_condition_false"
                    ]
        outcomes[variant] = (transitions, shop.log, contexts, skipped)
    assert ferrostator.installed() is None

    transitions, log, contexts, skipped = outcomes["pystator"]
    # Guards fail on the transition that applies (pay from created, ship from packed).
    guarded = [(ok, t) for source, t, ok, _ in transitions if (source, t) in _GUARDED]
    assert {ok for ok, _ in guarded} == {True, False}, guarded
    if e2e.CONTRACT == "v47":
        assert skipped and any(name == "print_label" for name, *_ in log), (skipped, log)
        assert any("total" in ctx and "tax" in ctx for ctx in contexts.values())
    for variant in e2e.EXPR_VARIANTS:
        assert outcomes[variant][:3] == outcomes["pystator"][:3], variant
    # pystator's executor (alone or with free expressions) and the ceiling skip alike;
    # ferrostator's results say the same.
    assert {tuple(o[3]) for o in outcomes.values()} == {tuple(skipped)}


def test_free_expressions_answer_as_pystator_does() -> None:
    """FreeExpressions (the floors' and the ceiling's evaluator) gives pystator's answers,
    value and type, on every expression the benchmarks use."""
    import pystator.guards

    expressions_used = {workloads.EXPR, *e2e._engine.expr_machine_expressions(e2e.CONTRACT)}
    free = workloads.FreeExpressions(expressions_used)
    namespaces = [
        {"amount": amount, "qty": qty, "_entity_id": "order-1"}
        for amount in (0, 10, 13.5, -2)
        for qty in (1, 2, 10, 11, 12)
    ]
    for expression in sorted(expressions_used):
        for namespace in namespaces:
            theirs = pystator.guards._eval_expression(expression, namespace)
            assert free.evaluate_bool_expr(expression, namespace) is theirs
            if e2e.CONTRACT == "v47":
                import pystator._expr

                value = pystator._expr.evaluate_expr(expression, namespace)
                mine = free.evaluate_expr(expression, namespace)
                assert (type(mine), repr(mine)) == (type(value), repr(value)), expression
    with pytest.raises(KeyError):
        free.evaluate_expr("amount + 1", namespaces[0])


def test_the_expression_micro_rows_are_measured() -> None:
    functions = _expression_functions()
    tiny = report.Settings(
        repeats=1, repeat_time=0.001, stream_length=1, stream_repeats=1, stream_kept=1
    )
    rows = expressions.measure(tiny)

    assert [row[0].split(" (")[0] for row in rows] == list(expressions.ROWS)
    assert ("when3" in expressions.ROWS) == (e2e.CONTRACT == "v47")
    for row in rows:
        assert len(row) == len(expressions.HEADER)
        assert all(re.match(r"^[\d,]+(\.\d+)?$", cell) for cell in (row[1], row[2], row[5])), row
        assert all(cell.endswith("×") for cell in (row[3], row[4])), row
    assert ferrostator.installed() is None
    assert [(module, name, getattr(module, name)) for module, name, _ in functions] == functions


def test_report_only_refuses_an_unknown_section() -> None:
    with pytest.raises(SystemExit) as exc:
        report.main(["--only", "e2e,nonsense"])
    assert exc.value.code == 2
