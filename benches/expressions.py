#!/usr/bin/env python3
"""The expression engine's micro rows: ferrostator's native evaluator against
pystator's simpleeval-based one, side by side in one process (``make bench`` runs them
in both reports; this file alone runs them too).

    python benches/expressions.py [--quick] [--row NAME ...]

Rows (``workloads.EXPR`` is ``amount > 0 and qty <= 10``, the context
``workloads.expr_context()``):

=======  ==============================================================================
expr     one evaluation: pystator 0.0.47's ``pystator._expr.evaluate_bool_expr`` vs
         ``ferrostator.expressions.evaluate_bool_expr``; under 0.0.25 (the seed)
         ``pystator.guards._eval_expression`` vs ``ferrostator.expressions.evaluate_guard``
expr_tc  the same with the context in a ``pystator.context.TransitionContext`` (a dict
         subclass): what pystator's ``machine.process`` hands an ``expr`` guard
when3    (0.0.47 only) ``ActionExecutor.execute`` of 3 sync actions (one per phase) that
         each carry ``when=EXPR``: pystator 0.0.47's executor vs ferrostator.v47's
plain3   (0.0.47 only) the same 3 actions without ``when``: when3 minus plain3 is what
         the three conditions cost each executor
guard1   ``machine.process`` of a transition with one ``expr`` guard (EXPR): pystator
         alone vs under ``ferrostator.install()`` (both versions)
=======  ==============================================================================

The floor of each row is the same work with the expression evaluated at (next to) no
cost (``workloads.FreeExpressions``: the expression translated once into a Python
function of the namespace): for expr the evaluation alone, for when3 and plain3 a bare loop calling
the 3 functions (when3: each under the free condition), for guard1 pystator's own
``machine.process`` with the free evaluator patched in.

Timing as in report.py: interleaved repeats, the best kept, cyclic GC off.
install() and uninstall() (guard1's ferrostator side, around each repeat) and the
patching of the floor are not timed.

Until ferrostator's expression engine is built (``ferrostator.expressions`` does not
import), the ferrostator column of expr runs pystator's own function, and install()
and ferrostator.v47's executor leave expressions to pystator: the report says so.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pystator  # noqa: E402
import pystator.guards  # noqa: E402
import report  # noqa: E402  (benches/report.py: timing and formatting)
import workloads  # noqa: E402

import ferrostator  # noqa: E402
from ferrostator import _contracts  # noqa: E402

try:
    from ferrostator import expressions as _engine_module
except ImportError:  # the engine is not built into this ferrostator yet
    _engine_module = None

#: "v47" when pystator 0.0.47 is installed, else "seed" (0.0.25).
CONTRACT = (
    "v47"
    if _contracts.contract_for(metadata.version("pystator")).module.startswith("ferrostator.v47")
    else "seed"
)
#: ferrostator's expression engine is importable.
ENGINE = _engine_module is not None

ROWS = (
    ("expr", "expr_tc", "when3", "plain3", "guard1")
    if CONTRACT == "v47"
    else ("expr", "expr_tc", "guard1")
)
#: row -> (description, target speed-up or None)
DESCRIPTIONS: dict[str, tuple[str, float | None]] = {
    "expr": (
        "evaluate_bool_expr" if CONTRACT == "v47" else "guards._eval_expression / evaluate_guard",
        50.0,
    ),
    "expr_tc": ("the same on a TransitionContext, as machine.process passes it", 50.0),
    "when3": ("execute, 3 sync actions each with a when", 20.0),
    "plain3": ("execute, the same 3 actions without when", None),
    "guard1": ("machine.process, one expr guard; install()", 3.0),
}
HEADER = [
    "workload",
    "pystator µs",
    "ferrostator µs",
    "speed-up",
    "ferrostator ÷ floor",
    "floor µs",
    "target",
]

Runners = dict[str, report.Runner]


def _installed(run: report.Runner) -> report.Runner:
    """``run`` with ferrostator installed around it (not timed: the runner times its
    own loop)."""

    def wrapped(n: int) -> float:
        ferrostator.install()
        try:
            return run(n)
        finally:
            ferrostator.uninstall()

    return wrapped


def _patched(run: report.Runner, free: workloads.FreeExpressions) -> report.Runner:
    def wrapped(n: int) -> float:
        with free.patched():
            return run(n)

    return wrapped


def _pystator_evaluator() -> Callable[[str, dict[str, Any]], bool]:
    """pystator's own function of the expr row (never install()'s replacement)."""
    if ferrostator.installed() is not None:
        raise RuntimeError("benches/expressions.py measures pystator with ferrostator uninstalled")
    if CONTRACT == "v47":
        return importlib.import_module("pystator._expr").evaluate_bool_expr
    return pystator.guards._eval_expression


def _ferrostator_evaluator() -> Callable[[str, dict[str, Any]], bool]:
    if _engine_module is None:
        return _pystator_evaluator()
    if CONTRACT == "v47":
        return _engine_module.evaluate_bool_expr
    return _engine_module.evaluate_guard


def expr_runners(transition_context: bool = False) -> Runners:
    """The expr row; with ``transition_context``, the namespace is pystator's
    ``TransitionContext`` (a dict subclass), which is what pystator's engine hands its
    guards (``machine.process`` wraps the context in one)."""
    ctx = workloads.expr_context()
    if transition_context:
        ctx = importlib.import_module("pystator.context").TransitionContext(ctx)
    free = workloads.FreeExpressions([workloads.EXPR])
    return {
        "pystator": report.sync_runner(_pystator_evaluator(), (workloads.EXPR, ctx)),
        "ferrostator": report.sync_runner(_ferrostator_evaluator(), (workloads.EXPR, ctx)),
        "floor": report.sync_runner(free.evaluate_bool_expr, (workloads.EXPR, ctx)),
    }


def _three(ns: Any, when: str | None) -> tuple[Any, Any]:
    """(executor, transition) of ``ns``: 3 sync actions, one per phase, each with
    ``when`` (when given)."""
    registry = ns.ActionRegistry()
    for func in workloads.SYNC_ACTIONS[:3]:
        registry.register(func.__name__, func)
    specs = [
        ns.ActionSpec(name=func.__name__, when=when) if when else ns.ActionSpec(name=func.__name__)
        for func in workloads.SYNC_ACTIONS[:3]
    ]
    transition = ns.TransitionResult(
        success=True,
        source_state="created",
        target_state="paid",
        trigger="pay",
        on_exit_actions=(specs[0],),
        actions_to_execute=(specs[1],),
        on_enter_actions=(specs[2],),
    )
    return ns.ActionExecutor(registry), transition


def _namespaces() -> dict[str, Any]:
    """pystator 0.0.47's and ferrostator.v47's executor, registry, spec and transition."""
    ps_actions = importlib.import_module("pystator.actions")
    ps_types = importlib.import_module("pystator._types")
    fs = importlib.import_module("ferrostator.v47")

    def ns(*modules: Any) -> Any:
        names = ("ActionExecutor", "ActionRegistry", "ActionSpec", "TransitionResult")
        found = {}
        for name in names:
            found[name] = next(getattr(m, name) for m in modules if hasattr(m, name))
        return type("Namespace", (), found)

    return {"pystator": ns(ps_actions, ps_types), "ferrostator": ns(fs)}


def _floor3(when: str | None, ctx: dict[str, Any]) -> report.Runner:
    funcs = workloads.SYNC_ACTIONS[:3]
    if when is None:
        return report.floor9_runner(funcs, ctx)
    holds = workloads.FreeExpressions([when]).evaluate_bool_expr

    def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            for func in funcs:
                if holds(when, ctx):
                    func(ctx)
        return time.perf_counter() - start

    return run


def three_runners(when: str | None) -> Runners:
    ctx = workloads.expr_context()
    runners: Runners = {}
    statuses = {}
    for name, ns in _namespaces().items():
        executor, transition = _three(ns, when)
        result = executor.execute(transition, ctx)
        statuses[name] = [str(r.status.value) for r in result.action_results]
        runners[name] = report.sync_runner(executor.execute, (transition, ctx))
    # Both run the 3 actions (the condition holds), with the same outcome.
    assert statuses["pystator"] == statuses["ferrostator"], statuses
    assert len(statuses["pystator"]) == 3 and "skipped" not in statuses["pystator"], statuses
    runners["floor"] = _floor3(when, ctx)
    return runners


def guarded_machine_config() -> dict[str, Any]:
    """Two states, one transition guarded by ``{"expr": EXPR}``."""
    return {
        "meta": {"machine_name": "guarded", "version": "1.0.0", "strict_mode": False},
        "states": [
            {"name": "created", "type": "initial"},
            {"name": "paid", "type": "terminal"},
        ],
        "transitions": [
            {
                "trigger": "pay",
                "source": "created",
                "dest": "paid",
                "guards": [{"expr": workloads.EXPR}],
            }
        ],
    }


def guard_runners() -> Runners:
    ctx = workloads.expr_context()
    free = workloads.FreeExpressions([workloads.EXPR])
    runners: Runners = {}
    for name in ("pystator", "ferrostator", "floor"):
        context = ferrostator_installed() if name == "ferrostator" else contextlib.nullcontext()
        with context:
            machine = pystator.StateMachine.from_dict(guarded_machine_config())
            assert machine.process("created", "pay", ctx).success
        run = report.sync_runner(machine.process, ("created", "pay", ctx))
        if name == "ferrostator":
            run = _installed(run)
        elif name == "floor":
            run = _patched(run, free)
        runners[name] = run
    return runners


@contextlib.contextmanager
def ferrostator_installed() -> Iterator[None]:
    ferrostator.install()
    try:
        yield
    finally:
        ferrostator.uninstall()


def runners_of(row: str) -> Runners:
    if row == "expr":
        return expr_runners()
    if row == "expr_tc":
        return expr_runners(transition_context=True)
    if row == "when3":
        return three_runners(workloads.EXPR)
    if row == "plain3":
        return three_runners(None)
    if row == "guard1":
        return guard_runners()
    raise ValueError(f"unknown row {row!r} (this pystator has {', '.join(ROWS)})")


def measure(
    settings: report.Settings,
    rows: Sequence[str] = ROWS,
    progress: Callable[[str], None] | None = None,
) -> list[list[str]]:
    """The table's rows (HEADER), each row's runners timed in interleaved repeats."""
    table = []
    for row in rows:
        if progress is not None:
            progress(f"expressions: {row}")
        timings = report.compare(runners_of(row), settings)
        ps, fs, floor = timings["pystator"], timings["ferrostator"], timings["floor"]
        description, target = DESCRIPTIONS[row]
        if target is None:
            verdict = ""
        elif not ENGINE:
            verdict = f"≥ {target:g}×: engine not built"
        else:
            verdict = f"≥ {target:g}×: {'met' if ps / fs >= target else 'missed'}"
        table.append(
            [
                f"{row} ({description})",
                report.fmt_us(ps),
                report.fmt_us(fs),
                report.fmt_ratio(ps, fs),
                report.fmt_ratio(fs, floor),
                report.fmt_us(floor),
                verdict,
            ]
        )
    return table


def notes() -> list[str]:
    """What the table measures, and whether the engine was there."""
    lines = [
        f"`{workloads.EXPR}` on `{workloads.expr_context()}`. The floor is the same work "
        "with the expression translated once into a Python function of the namespace "
        '(`workloads.FreeExpressions`: `lambda ns: ns["amount"] > 0 and ns["qty"] <= 10`): '
        "about the least any evaluator could cost. expr_tc's namespace is a "
        "`pystator.context.TransitionContext` (a dict subclass), as pystator's "
        "`machine.process` hands it to an `expr` guard; when3 − plain3 is what the three "
        "`when` cost each executor.",
    ]
    if not ENGINE:
        lines += [
            "",
            "**ferrostator's expression engine is not built (`ferrostator.expressions` does "
            "not import): the ferrostator column of expr runs pystator's function, and "
            "install() and ferrostator.v47's executor leave expressions to pystator.**",
        ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument(
        "--row",
        action="append",
        choices=ROWS,
        help=f"only this row (repeatable): {', '.join(ROWS)}",
    )
    args = parser.parse_args(argv)
    settings = report.QUICK if args.quick else report.FULL
    with workloads.records_dropped():
        rows = measure(settings, args.row or ROWS)
    print("\n".join(report.table(HEADER, rows)))
    print()
    print("\n".join(notes()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
