#!/usr/bin/env python3
"""The training run of the profile-guided build (``scripts/pgo.sh``): drives an
instrumented extension through what users do with it, so that the compiler lays the
code those paths run out densely and moves what they never run out of the way.

    python benches/pgo_train.py

Covers, for ferrostator's own objects under both contracts (seed and v47): every
workload of ``benches/workloads.py`` (registry execute, sync execute with and without
params and with results read, sequential, parallel and phased async execution, a
suspending action) and the stream's mix with declarative effects, one at a time and
through ``execute_many``; the expression engine on a mix of expressions (both
contracts' tables, `when` strings and a `compute` effect under v47); and, when pystator
0.0.25 is installed, its engine running the order-lifecycle machine and the
expression-driven one through ``ferrostator.install()`` (``benches/e2e.py``'s rows),
which is what most users run. Takes a few seconds; times nothing.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402  (benches/workloads.py)

ROUNDS = 1_000  # calls of each workload per contract
STREAM = 3_000  # transitions of the stream's mix per contract
ENGINE_EVENTS, ENGINE_PASSES = 400, 20  # the order-lifecycle stream through pystator's engine


def _workloads(contract: str, loop: asyncio.AbstractEventLoop) -> None:
    workloads.CONTRACT = contract
    bench = workloads.Bench(workloads.load_implementation("ferrostator"))
    for name, (_, is_async) in workloads.WORKLOADS.items():
        case = bench.case(name)
        if is_async:

            async def run(case: workloads.Case = case) -> None:
                for _ in range(ROUNDS):
                    await case.func(*case.args)

            loop.run_until_complete(run())
        else:
            for _ in range(ROUNDS):
                case.func(*case.args)
    items = bench.stream_items(STREAM)
    for transition, context in items:
        bench.executor.execute(transition, context)
    if workloads.has_execute_many(bench.ns):
        bench.executor.execute_many(items)


#: What configurations say in expressions: comparisons, boolean operators, arithmetic,
#: calls, attribute and item reads, ternaries, f-strings.
EXPRESSIONS = (
    "amount > 0 and qty <= 10",
    "status == 'paid' or retries < 3",
    "1 <= qty < 100",
    "price * qty - discount",
    "total if total > 0 else 0",
    "len(items) > 0 and max(items) < 50",
    "order.amount >= 10",
    "items[0] + items[-1]",
    "f'{status}-{qty}'",
    "not missing_flag",
    "abs(amount - price) / 2",
)


def _expressions() -> None:
    from ferrostator import expressions

    names = {
        "amount": 12.5, "qty": 3, "status": "paid", "retries": 1, "price": 4,
        "discount": 1, "total": 9, "items": [1, 2, 3], "order": {"amount": 20},
        "missing_flag": False,
    }  # fmt: skip
    evaluators = (expressions.evaluator("seed"), expressions.evaluator("v47"))
    for _ in range(ROUNDS):
        for evaluator in evaluators:
            for text in EXPRESSIONS:
                evaluator.eval(text, names)
            evaluator.eval_bool(EXPRESSIONS[0], names)
    v47 = importlib.import_module("ferrostator.v47")
    registry = v47.ActionRegistry()
    registry.register("noop", lambda context: None)
    executor = v47.ActionExecutor(registry, log_execution=False)
    specs = [
        v47.ActionSpec.from_config({"compute": {"total": "price * qty", "half": "total / 2"}}),
        v47.ActionSpec("noop", when="amount > 0 and qty <= 10"),
    ]
    for _ in range(ROUNDS):
        for spec in specs:
            assert executor.execute_action_spec(spec, dict(names)).success


def _engine(loop: asyncio.AbstractEventLoop) -> None:
    try:
        e2e = importlib.import_module("e2e")  # needs pystator's engine
    except ImportError as exc:
        print(f"pgo_train: pystator's engine not trained ({exc})", file=sys.stderr)
        return
    stream = e2e._engine.events(ENGINE_EVENTS, ENGINE_EVENTS // 5, seed=2026)
    runs: list[Any] = [
        e2e.orchestrator_run("ferrostator", stream),
        e2e.async_orchestrator_run("ferrostator", stream, loop),
        e2e.machine_run("ferrostator", stream),
        e2e.orchestrator_run(
            "ferrostator",
            e2e._engine.expr_events(ENGINE_EVENTS, ENGINE_EVENTS // 5, seed=2026),
            e2e.EXPR_MACHINE,
        ),
    ]
    e2e.ferrostator.install()
    try:
        for _ in range(ENGINE_PASSES):
            for run in runs:
                run()
    finally:
        e2e.ferrostator.uninstall()


def main() -> int:
    loop = asyncio.new_event_loop()
    # Skipped and failing actions log: the logging framework's own work is not the
    # extension's, so the records stop at the level check, as when timing.
    try:
        with workloads.records_dropped():
            for contract in ("seed", "v47"):
                _workloads(contract, loop)
            _expressions()
            _engine(loop)
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
