#!/usr/bin/env python3
"""End to end: pystator's own engine running the order-lifecycle machine, with
pystator's executor, with ferrostator through ``ferrostator.install()``, and with a
do-nothing executor that runs the same action bodies and effects and nothing else
(the ceiling: what any executor could at best save).

    python benches/e2e.py [--quick] [--machine orders|expr]

Rows: ``Orchestrator.process_event`` (sync), ``Orchestrator.async_process_event``
(async, one event loop for the whole run), and ``machine.process`` followed by
``executor.execute``. Every variant builds its machine, registries and store afresh
(after ``install()`` for ferrostator) and replays the same seeded event stream; a
repeat is the whole stream, the variants take turns repeat after repeat and the median
of each one's repeats is kept (see ``best_of``; cyclic GC off while a repeat runs, as in
the other micro rows). Time is
the process's CPU time (``time.process_time``), not wall time: on a shared machine a
repeat's wall time also counts the time other processes held the CPU.

"gain kept" is ferrostator's saving over pystator as a share of the ceiling's:
(pystator - ferrostator) / (pystator - ceiling).

It measures whichever pystator is installed: 0.0.25 (``.venv``; ferrostator.actions) or
0.0.47 (``.venvs/v47``, ``make bench``'s second report; ferrostator.v47), whose engine
also reads the execution's results, so there the ceiling hands over one minimal result
per action.

``--machine expr`` (``measure_expr``; ``make bench``'s section after this one) runs the
same machine driven by expressions instead (``_engine.expr_machine_config``: ``expr``
guards, and under 0.0.47 ``when`` conditions and a ``compute`` effect) through
``Orchestrator.process_event``. There the ceiling also evaluates every expression at
next to no cost (``workloads.FreeExpressions``, patched into pystator for its repeats),
and a fourth variant, pystator's executor with those free expressions, splits pystator's
time between its expressions and the rest.

The interop rows time ferrostator's executor alone on the transitions pystator's
machine produced for the stream: on pystator's own ``TransitionResult``/``ActionSpec``
objects, and on the same transitions converted to ferrostator's; with the machine's
actions, and with do-nothing actions under the same names, where reading the
transitions and keeping the results is all there is to time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import _engine  # noqa: E402  (tests/_engine.py: the machine, its actions, the stream)
import pystator  # noqa: E402
import pystator.actions  # noqa: E402
import workloads  # noqa: E402  (benches/workloads.py, beside this file)
from pystator.effects import apply_effect  # noqa: E402

import ferrostator  # noqa: E402
from ferrostator import _contracts  # noqa: E402

PARAMS_KEY = "_action_params"
Stream = list[tuple[str, str, dict[str, Any]]]
_Label = TypeVar("_Label", str, tuple[str, str])  # what best_of's runs are keyed by

#: The ferrostator module install() puts in place of the installed pystator's actions
#: (ferrostator.actions for 0.0.25, ferrostator.v47.actions for 0.0.47).
OURS = importlib.import_module(_contracts.contract_for(metadata.version("pystator")).module)
#: pystator 0.0.47 passes a spec's params as keyword arguments (its registry inspects
#: signatures), 0.0.25 in the context's params key.
PARAMS_AS_KWARGS = hasattr(pystator.actions.ActionRegistry, "accepts_kwargs")


class _Outcome:
    """The ceiling's result of one action: what pystator 0.0.47's engine reads of it
    (``action_results_to_payload``), made as cheaply as Python allows."""

    __slots__ = ("action_name", "error", "is_skipped", "result", "status", "success")

    def __init__(self, name: str, result: Any, error: BaseException | None, skipped: bool) -> None:
        self.action_name = name
        self.result = result
        self.error = error
        self.is_skipped = skipped
        self.success = error is None
        self.status = _SKIPPED if skipped else _OK if error is None else _FAILED


class _Execution:
    """What the ceiling's execute returns: its results, when the engine reads them."""

    __slots__ = ("action_results",)

    def __init__(self, action_results: Any) -> None:
        self.action_results = action_results


_OK, _FAILED, _SKIPPED = (
    getattr(pystator.actions.ActionStatus, s) for s in ("OK", "FAILED", "SKIPPED")
)
#: pystator 0.0.47's Orchestrator turns an execution's results into a payload (0.0.25's
#: drops the execution): there the ceiling hands over one minimal result per action, as
#: any executor must, so the engine's own work on them is counted for every variant.
ENGINE_READS_RESULTS = hasattr(
    importlib.import_module("pystator.orchestrator"), "action_results_to_payload"
)
_NO_RESULTS = _Execution(())


class Ceiling:
    """A do-nothing executor: runs each spec's action body (with its params, as the
    contract hands them over) or effect, when its ``when`` (0.0.47) holds, and nothing
    else — no retries, no logging, and results only where the engine reads them (see
    ``ENGINE_READS_RESULTS``)."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.plans: dict[int, tuple[Any, ...]] = {}

    def _plan(self, spec: Any) -> tuple[Any, ...]:
        """(action body, effect, params for the key, params as keyword arguments,
        ``when`` condition)."""
        plan = self.plans.get(id(spec))
        if plan is None:
            when = getattr(spec, "when", None)  # 0.0.47's specs only
            if spec.name.startswith("_effect."):
                plan = (None, spec.name[8:], spec.params, None, when)
            elif self.registry.has(spec.name):
                params = spec.params or None
                if PARAMS_AS_KWARGS:
                    plan = (self.registry.get(spec.name), None, None, params, when)
                else:
                    plan = (self.registry.get(spec.name), None, params, None, when)
            else:
                plan = (None, None, None, None, when)
            self.plans[id(spec)] = plan
        return plan

    def execute(self, transition_result: Any, context: dict[str, Any]) -> _Execution:
        if not transition_result.success:
            return _NO_RESULTS
        results: list[_Outcome] | None = [] if ENGINE_READS_RESULTS else None
        for spec in transition_result.all_action_specs:
            func, effect, params, kwparams, when = self._plan(spec)
            if when is not None and not _when_holds(when, context):
                if results is not None:
                    results.append(_Outcome(spec.name, _WHEN_FALSE, None, True))
                continue
            value = error = None
            if func is not None:
                if params:
                    context[PARAMS_KEY] = params
                try:
                    value = func(context, **kwparams) if kwparams else func(context)
                except Exception as exc:
                    error = exc
                if params:
                    context.pop(PARAMS_KEY, None)
            elif effect is not None:
                apply_effect(effect, params, context)
            if results is not None:
                results.append(_Outcome(spec.name, value, error, func is None and effect is None))
        return _NO_RESULTS if results is None else _Execution(results)

    async def async_execute(self, transition_result: Any, context: dict[str, Any]) -> _Execution:
        if not transition_result.success:
            return _NO_RESULTS
        results: list[_Outcome] | None = [] if ENGINE_READS_RESULTS else None
        for spec in transition_result.all_action_specs:
            func, effect, params, kwparams, when = self._plan(spec)
            if when is not None and not _when_holds(when, context):
                if results is not None:
                    results.append(_Outcome(spec.name, _WHEN_FALSE, None, True))
                continue
            value = error = None
            if func is not None:
                if params:
                    context[PARAMS_KEY] = params
                try:
                    value = func(context, **kwparams) if kwparams else func(context)
                    if asyncio.iscoroutine(value):
                        value = await value
                except Exception as exc:
                    error = exc
                if params:
                    context.pop(PARAMS_KEY, None)
            elif effect is not None:
                apply_effect(effect, params, context)
            if results is not None:
                results.append(_Outcome(spec.name, value, error, func is None and effect is None))
        return _NO_RESULTS if results is None else _Execution(results)


_WHEN_FALSE = "when_condition_false"


def _when_holds(when: Any, context: dict[str, Any]) -> bool:
    """A spec's ``when`` (pystator 0.0.47), evaluated by pystator's functions looked up at
    each call, as its executor does: under ``FreeExpressions.patched()`` (the expression
    machine's ceiling) an expression costs next to nothing."""
    if isinstance(when, str):
        return bool(sys.modules["pystator._expr"].evaluate_bool_expr(when, context))
    return bool(importlib.import_module("pystator.checks").evaluate_check(when, context))


VARIANTS = ("pystator", "ferrostator", "ceiling")
#: The orders machine's config, or the expression machine's for the installed contract.
ORDERS, EXPR_MACHINE = "orders", "expr"
#: The contract of the installed pystator, as tests/_engine.py's expression machine names it.
CONTRACT = "v47" if OURS.__name__.startswith("ferrostator.v47") else "seed"
if CONTRACT == "v47":
    importlib.import_module("pystator._expr")  # so _when_holds finds it in sys.modules


def machine_config(machine: str = ORDERS) -> dict[str, Any]:
    """The config of ``machine``: the order-lifecycle machine (named guards) or its
    expression-driven twin for the installed pystator (``_engine.expr_machine_config``)."""
    if machine == ORDERS:
        return _engine.machine_config()
    if machine == EXPR_MACHINE:
        return _engine.expr_machine_config(CONTRACT)
    raise ValueError(f"unknown machine {machine!r}")


def _machine(shop: _engine.Shop, machine_name: str = ORDERS) -> pystator.StateMachine:
    machine = pystator.StateMachine.from_dict(machine_config(machine_name))
    shop.register(
        lambda name, func: machine.action(name)(func),
        lambda name, func: machine.guard(name)(func),
    )
    return machine


def _setup(
    variant: str, async_actions: bool = False, machine_name: str = ORDERS
) -> tuple[pystator.StateMachine, Any, _engine.Shop]:
    """A fresh machine (with its default registry), the executor the variant's
    Orchestrator uses (the one pystator's Orchestrator makes, ferrostator's while
    installed, or the ceiling) and the Shop whose methods are the machine's actions.
    The runs clear the Shop's call log before each repeat (untimed): kept over
    hundreds of repeats it grew to hundreds of MB and slowed the later repeats."""
    if variant.startswith("ferrostator"):
        ferrostator.install()
    try:
        shop = _engine.Shop(async_actions=async_actions, flaky=False, suspend=False)
        machine = _machine(shop, machine_name)
        if variant == "ceiling":
            executor: Any = Ceiling(machine.action_registry)
        else:
            executor = pystator.actions.ActionExecutor(machine.action_registry, log_execution=True)
    finally:
        if variant.startswith("ferrostator"):
            ferrostator.uninstall()
    owner = __name__ if variant == "ceiling" else variant.split(",")[0]
    assert type(executor).__module__.startswith(owner), (variant, type(executor))
    return machine, executor, shop


def orchestrator_run(
    variant: str, stream: Stream, machine_name: str = ORDERS
) -> Callable[[], float]:
    machine, executor, shop = _setup(variant, machine_name=machine_name)

    def run() -> float:
        shop.log.clear()
        store = pystator.InMemoryStateStore()
        orchestrator = pystator.Orchestrator(machine, store, executor=executor)
        process = orchestrator.process_event
        start = time.process_time()
        for entity, trigger, context in stream:
            process(entity, trigger, context)
        return time.process_time() - start

    return run


def async_orchestrator_run(
    variant: str, stream: Stream, loop: asyncio.AbstractEventLoop
) -> Callable[[], float]:
    machine, executor, shop = _setup(variant, async_actions=True)

    async def drive(orchestrator: Any) -> float:
        process = orchestrator.async_process_event
        start = time.process_time()
        for entity, trigger, context in stream:
            await process(entity, trigger, context)
        return time.process_time() - start

    def run() -> float:
        shop.log.clear()
        store = pystator.InMemoryStateStore()
        orchestrator = pystator.Orchestrator(machine, store, executor=executor)
        return loop.run_until_complete(drive(orchestrator))

    return run


def machine_run(variant: str, stream: Stream) -> Callable[[], float]:
    machine, executor, shop = _setup(variant)

    def run() -> float:
        shop.log.clear()
        states: dict[str, str] = {}
        contexts: dict[str, dict[str, Any]] = {}
        process, execute = machine.process, executor.execute
        start = time.process_time()
        for entity, trigger, event_context in stream:
            ctx = contexts.get(entity)
            if ctx is None:
                ctx = contexts[entity] = {"_entity_id": entity}
            ctx.update(event_context)
            result = process(states.get(entity, "created"), trigger, ctx)
            if result.success:
                states[entity] = result.target_state
                execute(result, ctx)
        return time.process_time() - start

    return run


def best_of(
    runs: dict[_Label, Callable[[], float]],
    repeats: int,
    around: dict[_Label, Callable[[], contextlib.AbstractContextManager[Any]]] | None = None,
) -> dict[_Label, float]:
    """Seconds of each run: the median of its repeats, the runs taking turns repeat
    after repeat. Not the best repeat nor a low quantile: on this kind of shared
    machine (two hyperthreads) a repeat runs at one of two speeds depending on what the
    other hyperthread is doing, the fast ones a minority (about a quarter of the
    repeats, varying), so the best repeats and the quantiles near that share fall on
    one speed for one run and on the other for the next. Measured over 4 full runs
    (12 rows): the share of gain kept ranged 87-111% from the lower quartile, 94-112%
    from the 10th percentile, 98-111% from the median. The ferrostator run happens
    with install() active (so its log records go where an installed application's
    do); install() and uninstall() are not timed, nor is entering and leaving the
    context manager that ``around`` gives a label (made anew for each of its repeats)."""
    samples: dict[_Label, list[float]] = {label: [] for label in runs}
    labels = list(runs)
    # Everything alive now (pystator, its imports, the machines) goes to the permanent
    # generation: the collection before each repeat then only looks at what the last
    # repeat left, ~2 µs instead of ~20 ms, so many more repeats fit in the same time.
    gc.collect()
    gc.freeze()
    try:
        for repeat in range(repeats):
            for label in labels if repeat % 2 == 0 else reversed(labels):
                if label == "ferrostator":
                    ferrostator.install()
                try:
                    with around[label]() if around and label in around else _nothing():
                        gc.collect()
                        gc.disable()
                        try:
                            samples[label].append(runs[label]())
                        finally:
                            gc.enable()
                finally:
                    ferrostator.uninstall()
    finally:
        gc.unfreeze()
    return {label: statistics.median(times) for label, times in samples.items()}


_nothing = contextlib.nullcontext


#: How many times over a repeat of the interop rows runs the stream's transitions.
INTEROP_PASSES = 10
#: The interop rows' keys: (actions, run).
BODIES, NOTHING = "the machine's", "do-nothing"
THEIRS, OURS_OBJECTS = "on pystator's objects", "on ferrostator's objects"


def _do_nothing(context: dict[str, Any], **params: Any) -> None:
    return None


def interop_runs(stream: Stream) -> dict[tuple[str, str], Callable[[], float]]:
    """ferrostator's executor over the transitions pystator's machine made for the
    stream, on pystator's objects and on ferrostator's copies, running the machine's
    actions (and the ceiling, for them) or do-nothing actions under the same names
    (where reading the transitions is all the executor does); keyed by (actions, run)."""
    ferrostator.install()
    try:
        shop = _engine.Shop(flaky=False)
        machine = _machine(shop)
        executor = pystator.ActionExecutor(machine.action_registry)
        do_nothing = pystator.actions.ActionRegistry()
        for name in machine.action_registry.list_actions():
            do_nothing.register(name, _do_nothing)
        idle = pystator.ActionExecutor(do_nothing)
    finally:
        ferrostator.uninstall()
    transitions = []
    states: dict[str, str] = {}
    for entity, trigger, event_context in stream:
        ctx = {"_entity_id": entity, **event_context}
        result = machine.process(states.get(entity, "created"), trigger, ctx)
        if result.success:
            states[entity] = result.target_state
            transitions.append((result, ctx))
    theirs = [tr for tr, _ in transitions]
    ours = [_copy_transition(tr) for tr in theirs]
    contexts = [ctx for _, ctx in transitions]
    ceiling = Ceiling(machine.action_registry)

    # The stream's transitions take ~0.4 ms to execute: a repeat runs them INTEROP_PASSES
    # times over, so that what the previous repeat left in the caches (a run timed
    # right after the ceiling's ran up to 20% slower) weighs little.
    def timed(execute: Callable[..., Any], items: list[Any]) -> Callable[[], float]:
        passes = items * INTEROP_PASSES

        def run() -> float:
            shop.log.clear()
            fresh = [dict(ctx) for _ in range(INTEROP_PASSES) for ctx in contexts]
            start = time.process_time()
            for tr, ctx in zip(passes, fresh, strict=True):
                execute(tr, ctx)
            return time.process_time() - start

        return run

    return {
        (BODIES, THEIRS): timed(executor.execute, theirs),
        (BODIES, OURS_OBJECTS): timed(executor.execute, ours),
        (BODIES, "ceiling"): timed(ceiling.execute, theirs),
        (NOTHING, THEIRS): timed(idle.execute, theirs),
        (NOTHING, OURS_OBJECTS): timed(idle.execute, ours),
    }


def _copy_spec(spec: Any) -> Any:
    fields = dict(
        params=spec.params,
        effect=spec.effect,
        timeout=spec.timeout,
        retry=spec.retry,
        retry_backoff=spec.retry_backoff,
    )
    if hasattr(spec, "when"):  # 0.0.47's spec
        fields.update(when=spec.when, custom=spec.custom)
    return OURS.ActionSpec(spec.name, **fields)


def _copy_transition(tr: Any) -> Any:
    return OURS.TransitionResult(
        tr.success,
        tr.source_state,
        tr.target_state,
        tr.trigger,
        tuple(map(_copy_spec, tr.actions_to_execute)),
        tuple(map(_copy_spec, tr.on_exit_actions)),
        tuple(map(_copy_spec, tr.on_enter_actions)),
        tr.error,
        tr.metadata,
    )


#: (events in the stream, repeats) of a full and of a quick run. Many short repeats (a
#: repeat is the whole stream, ~10 ms) rather than a few long ones, so that the median
#: sits well inside the slower of the machine's two speeds (see ``best_of``).
FULL, QUICK = (400, 201), (300, 31)


def measure(
    events: int = FULL[0], repeats: int = FULL[1]
) -> tuple[list[list[str]], list[list[str]]]:
    """The end-to-end table's rows and the interop table's rows (log records dropped:
    see ``workloads.records_dropped``)."""
    with workloads.records_dropped():
        return _measure(events, repeats)


def _measure(events: int, repeats: int) -> tuple[list[list[str]], list[list[str]]]:
    stream = _engine.events(events, events // 5, seed=2026)
    loop = asyncio.new_event_loop()
    rows = []
    try:
        for label, make in (
            ("Orchestrator.process_event (sync)", lambda v: orchestrator_run(v, stream)),
            (
                "Orchestrator.async_process_event (async)",
                lambda v: async_orchestrator_run(v, stream, loop),
            ),
            ("machine.process + executor.execute", lambda v: machine_run(v, stream)),
        ):
            best = best_of({v: make(v) for v in VARIANTS}, repeats)
            per = {v: best[v] / len(stream) * 1e6 for v in VARIANTS}
            gain = per["pystator"] - per["ceiling"]
            kept = (per["pystator"] - per["ferrostator"]) / gain if gain > 0 else float("nan")
            rows.append(
                [
                    label,
                    f"{per['pystator']:.2f}",
                    f"{per['ferrostator']:.2f}",
                    f"{per['ceiling']:.2f}",
                    f"{per['pystator'] / per['ferrostator']:.2f}×",
                    f"{per['pystator'] / per['ceiling']:.2f}×",
                    f"{kept:.0%}",
                ]
            )
    finally:
        loop.close()
    alone = best_of(interop_runs(stream), repeats)
    count = len(stream) * INTEROP_PASSES
    interop_rows = [
        [
            run if run == "ceiling" else f"ferrostator {run}",
            actions,
            f"{seconds / count * 1e6:.2f}",
            f"{seconds / alone[actions, OURS_OBJECTS]:.2f}×",
        ]
        for (actions, run), seconds in alone.items()
    ]
    return rows, interop_rows


#: The expression machine's variants: the three of VARIANTS (the ceiling with its
#: expressions free too) and, for the split, pystator with free expressions and
#: ferrostator (installed) with free guards: ferrostator's executor evaluates ``when`` and
#: ``compute`` in its core, out of a patch's reach, while pystator's engine calls its
#: guards' ``_eval_expression`` (install()'s replacement) from Python.
FREE_PYSTATOR = "pystator, free expressions"
FREE_GUARDS = "ferrostator, free guards"
EXPR_VARIANTS = (*VARIANTS, FREE_PYSTATOR, FREE_GUARDS)


@contextlib.contextmanager
def _installed_with_free_guards(free: workloads.FreeExpressions) -> Iterator[None]:
    ferrostator.install()
    try:
        with free.patched(guards_only=True):
            yield
    finally:
        ferrostator.uninstall()


def free_expressions() -> workloads.FreeExpressions:
    """The expression machine's expressions at no cost (see workloads.FreeExpressions)."""
    return workloads.FreeExpressions(_engine.expr_machine_expressions(CONTRACT))


def expression_calls(stream: Stream) -> dict[str, int]:
    """How many expressions the expression machine evaluates over ``stream`` through
    pystator's Orchestrator, by kind (guard, when, compute): counted on the ceiling,
    whose evaluations are pystator's (tests/test_bench_harness.py checks that)."""
    counts = {"guard": 0, "when": 0, "compute": 0}
    with free_expressions().patched(counts), workloads.records_dropped():
        orchestrator_run("ceiling", stream, EXPR_MACHINE)()
    return counts


def measure_expr(
    events: int = FULL[0], repeats: int = FULL[1]
) -> tuple[list[list[str]], list[list[str]]]:
    """The expression machine (``_engine.expr_machine_config``) through
    ``Orchestrator.process_event``: its row in the end-to-end table's format, and the
    rows of the split (EXPR_SPLIT_HEADER). The ceiling is the do-nothing executor with
    every expression evaluated by ``FreeExpressions`` (patched into pystator for the
    ceiling's repeats only); "pystator, free expressions" is pystator's own executor
    under the same patch, so that pystator minus it is what pystator's expressions
    cost, and "ferrostator, free guards" is ferrostator installed with its guards
    evaluated by FreeExpressions, so that ferrostator minus it is what its guards cost.
    Log records dropped as in ``measure``."""
    stream = _engine.expr_events(events, max(events // 5, 1), seed=2026)
    free = free_expressions()
    with workloads.records_dropped():
        calls = expression_calls(stream)
        runs = {v: orchestrator_run(v, stream, EXPR_MACHINE) for v in EXPR_VARIANTS}
        around = {
            "ceiling": free.patched,
            FREE_PYSTATOR: free.patched,
            FREE_GUARDS: lambda: _installed_with_free_guards(free),
        }
        best = best_of(runs, repeats, around=around)
    per = {v: best[v] / len(stream) * 1e6 for v in EXPR_VARIANTS}
    gain = per["pystator"] - per["ceiling"]
    kept = (per["pystator"] - per["ferrostator"]) / gain if gain > 0 else float("nan")
    label = "Orchestrator.process_event (sync), guards as expr" + (
        ", when, compute" if CONTRACT == "v47" else ""
    )
    row = [
        label,
        f"{per['pystator']:.2f}",
        f"{per['ferrostator']:.2f}",
        f"{per['ceiling']:.2f}",
        f"{per['pystator'] / per['ferrostator']:.2f}×",
        f"{per['pystator'] / per['ceiling']:.2f}×",
        f"{kept:.0%}",
    ]
    evaluations = sum(calls.values()) / len(stream)
    kinds = " + ".join(f"{calls[k] / len(stream):.2f} {k}" for k in calls if calls[k])
    split = [
        ["pystator", f"{per['pystator']:.2f}"],
        [f"{FREE_PYSTATOR} (pystator's executor)", f"{per[FREE_PYSTATOR]:.2f}"],
        ["… pystator's expressions", f"{per['pystator'] - per[FREE_PYSTATOR]:.2f}"],
        ["ferrostator (install())", f"{per['ferrostator']:.2f}"],
        [f"{FREE_GUARDS} (install(), guards by FreeExpressions)", f"{per[FREE_GUARDS]:.2f}"],
        ["… ferrostator's guards", f"{per['ferrostator'] - per[FREE_GUARDS]:.2f}"],
        ["ceiling (do-nothing executor, free expressions)", f"{per['ceiling']:.2f}"],
        ["… ferrostator over the ceiling", f"{per['ferrostator'] - per['ceiling']:.2f}"],
        [f"expressions evaluated per event ({kinds})", f"{evaluations:.2f}"],
    ]
    return [row], split


E2E_HEADER = [
    "pystator engine, order lifecycle",
    "pystator µs/event",
    "ferrostator (install()) µs/event",
    "ceiling µs/event",
    "ferrostator speed-up",
    "ceiling speed-up",
    "gain kept",
]
EXPR_SPLIT_HEADER = ["expression machine: where the time goes", "µs/event"]
INTEROP_HEADER = [
    "executor alone, on the stream's transitions",
    "actions",
    "µs/event",
    "÷ ferrostator on its own objects, same actions",
]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--machine",
        choices=(ORDERS, EXPR_MACHINE),
        default=ORDERS,
        help="orders: the order-lifecycle machine (three rows, interop); expr: its twin "
        "driven by expressions (tests/_engine.py's expr_machine_config), one row and its "
        "split",
    )
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    if args.machine == EXPR_MACHINE:
        rows, split = measure_expr(*settings)
        print(_table(E2E_HEADER, rows))
        print()
        print(_table(EXPR_SPLIT_HEADER, split))
        return 0
    rows, interop = measure(*settings)
    print(_table(E2E_HEADER, rows))
    print()
    print(_table(INTEROP_HEADER, interop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
