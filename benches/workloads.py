"""Workloads shared by the pytest-benchmark suite and ``benches/report.py``.

Every workload is built the same way for each implementation, from that
implementation's own public API (its ``ActionRegistry``, ``ActionExecutor``,
``ActionSpec`` and ``TransitionResult``), so the two are measured doing exactly
the same work in the same process:

========  =====================================================================
reg1      ``ActionRegistry.execute`` of one sync action
sync9     ``ActionExecutor.execute``: 3 exit + 3 transition + 3 enter sync actions
sync9p    same, with params (``{"k": 1}``) on every spec
sync9r    sync9, then reading ``action_results`` (the list of ActionResult
          objects; ferrostator builds it on first read)
seq9a     ``await async_execute`` of 9 async actions that never suspend
par9s     ``await async_execute_parallel`` of 9 sync actions
par9a     ``await async_execute_parallel`` of 9 async actions
phased9a  ``await async_execute_phased`` of 9 async actions
mixed     ``await async_execute_parallel`` of 8 sync + 1 really suspending action
stream    a long run of sync9-shaped transitions (plain, with params, with
          declarative effects) over many contexts
floor     a bare Python loop calling the same action functions (the floor);
          for par9a and phased9a, ``asyncio.gather`` of the same coroutines
========  =====================================================================

Nothing here times anything: the callers do.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import logging
import os
import time
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

IMPLEMENTATIONS = ("pystator", "ferrostator")

#: The contract benchmarked: "seed" (ferrostator against pystator 0.0.25) or "v47"
#: (ferrostator.v47 against pystator 0.0.47, run in the .venvs/v47 venv). Set by
#: ``report.py --contract`` through the environment, so child processes see it too.
CONTRACT = os.environ.get("FERROSTATOR_BENCH_CONTRACT", "seed")

# The names both implementations export (ferrostator from its top-level package,
# pystator from pystator.actions / pystator._types).
PUBLIC_NAMES = (
    "ACTION_PARAMS_KEY",
    "ActionExecutor",
    "ActionRegistry",
    "ActionResult",
    "ActionSpec",
    "ActionStatus",
    "ExecutionMode",
    "ExecutionResult",
    "TransitionResult",
)


#: The loggers the actions' records go to: pystator's (also ferrostator's while
#: installed) and ferrostator's.
ACTION_LOGGERS = ("pystator", "ferrostator")


@contextlib.contextmanager
def records_dropped() -> Iterator[None]:
    """Skipped actions log a WARNING and failing ones an ERROR with a traceback: inside
    this block their records are dropped by the loggers' level check (the same check
    for pystator and ferrostator), so that the logging framework's formatting and
    output, which a ceiling or a floor does not do, is not counted. The levels are
    restored after."""
    loggers = [logging.getLogger(name) for name in ACTION_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class ImplementationUnavailable(Exception):
    """An implementation cannot be imported (the message says why)."""


def load_implementation(name: str) -> types.SimpleNamespace:
    """The public API of ``name`` ("pystator" or "ferrostator") as a namespace.

    The namespace also carries ``name`` and ``version``. Raises
    ImplementationUnavailable when the implementation does not import.
    """
    if name == "ferrostator":
        modules = ["ferrostator.v47"] if CONTRACT == "v47" else ["ferrostator"]
    elif name == "pystator":
        modules = ["pystator.actions", "pystator._types"]
    else:
        raise ValueError(f"unknown implementation {name!r}")
    try:
        loaded = [importlib.import_module(m) for m in modules]
    except ImportError as exc:
        raise ImplementationUnavailable(
            f"{name}: not importable ({type(exc).__name__}: {exc})"
        ) from exc

    values: dict[str, Any] = {}
    for public in PUBLIC_NAMES:
        for module in loaded:
            if hasattr(module, public):
                values[public] = getattr(module, public)
                break
        else:
            if public == "ACTION_PARAMS_KEY" and CONTRACT == "v47":
                continue  # pystator 0.0.47 passes params as keyword arguments
            raise ImplementationUnavailable(f"{name}: does not export {public}")
    ns = types.SimpleNamespace(**values)
    ns.name = name
    ns.version = _version_of(name)
    return ns


def _version_of(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def has_execute_many(ns: types.SimpleNamespace) -> bool:
    """True when the implementation offers the batch API (ferrostator only)."""
    return hasattr(ns.ActionExecutor, "execute_many")


def has_async_execute_many(ns: types.SimpleNamespace) -> bool:
    return hasattr(ns.ActionExecutor, "async_execute_many")


# ---------------------------------------------------------------------------
# The action functions (shared by both implementations and by the floor)
# ---------------------------------------------------------------------------


def _make_sync_action(i: int) -> Callable[[dict[str, Any]], None]:
    def action(ctx: dict[str, Any]) -> None:
        return None

    action.__name__ = action.__qualname__ = f"s{i}"
    return action


def _make_async_action(i: int) -> Callable[[dict[str, Any]], Any]:
    async def action(ctx: dict[str, Any]) -> None:
        return None

    action.__name__ = action.__qualname__ = f"a{i}"
    return action


async def suspending_action(ctx: dict[str, Any]) -> None:
    """An async action that really yields to the event loop once."""
    await asyncio.sleep(0)


#: ``def sN(ctx): return None`` for N in 0..8, registered as "s0".."s8".
SYNC_ACTIONS = tuple(_make_sync_action(i) for i in range(9))
#: ``async def aN(ctx): return None`` for N in 0..8, registered as "a0".."a8".
ASYNC_ACTIONS = tuple(_make_async_action(i) for i in range(9))


def _make_kwargs_action(i: int) -> Callable[..., None]:
    def action(ctx: dict[str, Any], **params: Any) -> None:
        return None

    action.__name__ = action.__qualname__ = f"k{i}"
    return action


#: ``def kN(ctx, **params): return None`` for N in 0..8, registered as "k0".."k8": the
#: v47 contract's params workloads (pystator 0.0.47 passes params as keyword arguments).
KWARGS_ACTIONS = tuple(_make_kwargs_action(i) for i in range(9))

SYNC_NAMES = tuple(f.__name__ for f in SYNC_ACTIONS)
KWARGS_NAMES = tuple(f.__name__ for f in KWARGS_ACTIONS)
#: The actions of the params workloads (sync9p, the stream's params shape).
PARAMS_NAMES = KWARGS_NAMES if CONTRACT == "v47" else SYNC_NAMES
ASYNC_NAMES = tuple(f.__name__ for f in ASYNC_ACTIONS)
MIXED_NAMES = SYNC_NAMES[:4] + ("sleepy",) + SYNC_NAMES[4:8]

PARAMS = {"k": 1}


def new_context() -> dict[str, Any]:
    return {"order_id": 1, "customer": "alice", "amount": 42.0}


# ---------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One workload bound to one implementation: ``func(*args)`` is the
    operation to time (a coroutine function when ``is_async``)."""

    workload: str
    implementation: str
    func: Callable[..., Any]
    args: tuple[Any, ...]
    is_async: bool


#: workload name -> (one-line description, is_async)
WORKLOADS: dict[str, tuple[str, bool]] = {
    "reg1": ("ActionRegistry.execute, 1 sync action", False),
    "sync9": ("execute, 3+3+3 sync actions", False),
    "sync9p": ("execute, 3+3+3 sync actions with params", False),
    "sync9r": ("execute, 3+3+3 sync actions, then read action_results", False),
    "seq9a": ("await async_execute, 9 async actions, none suspends", True),
    "par9s": ("await async_execute_parallel, 9 sync actions", True),
    "par9a": ("await async_execute_parallel, 9 async actions", True),
    "phased9a": ("await async_execute_phased, 9 async actions", True),
    "mixed": ("await async_execute_parallel, 8 sync + 1 suspending", True),
}


class Bench:
    """A registry, an executor and the transitions of every workload, built
    with one implementation's public API."""

    def __init__(self, ns: types.SimpleNamespace, fresh_actions: bool = False) -> None:
        """``fresh_actions``: register new function objects (made by the calling
        thread) instead of the module's, so that nothing is shared with other Benches."""
        self.ns = ns
        self.registry = ns.ActionRegistry()
        actions = SYNC_ACTIONS + ASYNC_ACTIONS + KWARGS_ACTIONS
        if fresh_actions:
            actions = tuple(_make_sync_action(i) for i in range(9))
            actions += tuple(_make_async_action(i) for i in range(9))
            actions += tuple(_make_kwargs_action(i) for i in range(9))
        for func in actions:
            self.registry.register(func.__name__, func)
        self.registry.register("sleepy", suspending_action)
        self.executor = ns.ActionExecutor(self.registry)
        self.context = new_context()

        self.tr_sync9 = self.transition(SYNC_NAMES)
        self.tr_sync9p = self.transition(PARAMS_NAMES, params=PARAMS)
        self.tr_async9 = self.transition(ASYNC_NAMES)
        self.tr_mixed = self.transition(MIXED_NAMES)
        # The stream also uses a transition whose middle phase is declarative
        # effects instead of registered functions.
        self.tr_effects = self.transition(
            PARAMS_NAMES[:3] + PARAMS_NAMES[6:],
            params=PARAMS,
            middle=(
                ns.ActionSpec.from_config({"increment": "paid_count"}),
                ns.ActionSpec.from_config({"set": {"status": "paid"}}),
                ns.ActionSpec.from_config({"increment": "touches"}),
            ),
        )

    def spec(self, name: str, params: dict[str, Any] | None = None) -> Any:
        if params:
            return self.ns.ActionSpec(name=name, params=dict(params))
        return self.ns.ActionSpec(name=name)

    def transition(
        self,
        names: Iterable[str],
        params: dict[str, Any] | None = None,
        middle: tuple[Any, ...] | None = None,
    ) -> Any:
        """A successful TransitionResult. ``names`` are split evenly into exit,
        transition and enter actions; with ``middle``, ``names`` are the exit
        and enter actions and ``middle`` the transition actions."""
        specs = tuple(self.spec(n, params) for n in names)
        if middle is None:
            third = len(specs) // 3
            exit_, middle, enter = specs[:third], specs[third:-third], specs[-third:]
        else:
            half = len(specs) // 2
            exit_, enter = specs[:half], specs[half:]
        return self.ns.TransitionResult(
            success=True,
            source_state="created",
            target_state="paid",
            trigger="pay",
            on_exit_actions=exit_,
            actions_to_execute=middle,
            on_enter_actions=enter,
        )

    def case(self, workload: str) -> Case:
        ex, ctx = self.executor, self.context
        table: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
            "reg1": (self.registry.execute, ("s0", ctx)),
            "sync9": (ex.execute, (self.tr_sync9, ctx)),
            "sync9p": (ex.execute, (self.tr_sync9p, ctx)),
            "sync9r": (execute_and_read, (ex, self.tr_sync9, ctx)),
            "seq9a": (ex.async_execute, (self.tr_async9, ctx)),
            "par9s": (ex.async_execute_parallel, (self.tr_sync9, ctx)),
            "par9a": (ex.async_execute_parallel, (self.tr_async9, ctx)),
            "phased9a": (ex.async_execute_phased, (self.tr_async9, ctx)),
            "mixed": (ex.async_execute_parallel, (self.tr_mixed, ctx)),
        }
        func, args = table[workload]
        return Case(workload, self.ns.name, func, args, WORKLOADS[workload][1])

    def stream_items(self, n: int, contexts: int = 256) -> list[tuple[Any, Any]]:
        """``n`` (transition_result, context) pairs, cycling through plain,
        with-params and with-effects sync9-shaped transitions over ``contexts``
        distinct context dicts. Deterministic."""
        shapes = (self.tr_sync9, self.tr_sync9p, self.tr_effects)
        ctxs = [new_context() for _ in range(contexts)]
        return [(shapes[i % 3], ctxs[i % contexts]) for i in range(n)]

    def async_items(self, n: int, contexts: int = 256) -> list[tuple[Any, Any]]:
        """``n`` pairs of the seq9a transition over ``contexts`` context dicts."""
        ctxs = [new_context() for _ in range(contexts)]
        return [(self.tr_async9, ctxs[i % contexts]) for i in range(n)]


def execute_and_read(executor: Any, transition: Any, context: Any) -> Any:
    """``execute``, then read the results list (sync9r)."""
    return executor.execute(transition, context).action_results


# ---------------------------------------------------------------------------
# The floor: the same functions called by a bare Python loop
# ---------------------------------------------------------------------------


def floor9p(ctx: dict[str, Any]) -> None:
    """sync9p's floor under the v47 contract: the 9 kwargs actions called with the
    params as keyword arguments."""
    for func in KWARGS_ACTIONS:
        func(ctx, **PARAMS)


def floor9(ctx: dict[str, Any]) -> None:
    """Call the 9 sync action functions with the context: the least any
    executor can do for sync9."""
    for func in SYNC_ACTIONS:
        func(ctx)


async def floor9a(ctx: dict[str, Any]) -> None:
    """Await the 9 async action functions: the least any executor can do for
    seq9a."""
    for func in ASYNC_ACTIONS:
        await func(ctx)


async def floor_gather9a(ctx: dict[str, Any]) -> None:
    """``asyncio.gather`` of the 9 async action functions: what pystator's
    par9a costs at the least (a Task per async action, gather's bookkeeping)."""
    await asyncio.gather(*[func(ctx) for func in ASYNC_ACTIONS])


async def floor_phased9a(ctx: dict[str, Any]) -> None:
    """Three ``asyncio.gather`` of 3 (exit, transition, enter): the floor of
    phased9a."""
    for phase in (ASYNC_ACTIONS[:3], ASYNC_ACTIONS[3:6], ASYNC_ACTIONS[6:]):
        await asyncio.gather(*[func(ctx) for func in phase])


# ---------------------------------------------------------------------------
# Expressions at no cost: the floor and the ceiling of the expression rows
# ---------------------------------------------------------------------------

#: The expression of the expression micro rows (benches/expressions.py).
EXPR = "amount > 0 and qty <= 10"


def expr_context() -> dict[str, Any]:
    """``new_context()`` with the quantity EXPR reads."""
    return {**new_context(), "qty": 3}


#: The functions pystator 0.0.47 offers expressions (``pystator._expr._EXPR_BUILTINS``;
#: 0.0.25's guards offer the first five).
_FREE_FUNCTIONS: dict[str, Any] = {
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "sum": sum,
    "round": round,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "any": any,
    "all": all,
}


class FreeExpressions:
    """An expression evaluator that costs (next to) nothing, for floors and ceilings:
    each of a known set of expression strings is translated once, here, into a Python
    function of the namespace (``amount > 0 and qty <= 10`` becomes
    ``lambda ns: ns["amount"] > 0 and ns["qty"] <= 10``: every name read becomes a
    lookup in the namespace, called functions such as ``round`` stay Python's own), so
    that an evaluation is a dict lookup and a call (~0.1 µs) where simpleeval parses the
    text and walks the tree each time. For the plain comparisons, arithmetic and calls
    that the benchmarks' expressions use, Python's answer is simpleeval's
    (tests/test_bench_harness.py checks it against pystator's for each of them). An
    expression it was not given is a KeyError: a ceiling must never be asked something
    it did not precompute.

    ``patched()`` puts its functions in place of pystator's, where pystator looks
    them up at each call: ``pystator.guards._eval_expression`` (0.0.25 and 0.0.47)
    and ``pystator._expr.evaluate_expr`` / ``evaluate_bool_expr`` (0.0.47: ``when``
    conditions and ``compute`` effects, imported from there at each use)."""

    def __init__(self, expressions: Iterable[str]) -> None:
        compiled = {expr: _python_function(expr) for expr in expressions}

        def evaluate_expr(expr: str, namespace: dict[str, Any]) -> Any:
            return compiled[expr](namespace)

        def evaluate_bool_expr(expr: str, namespace: dict[str, Any]) -> bool:
            return bool(compiled[expr](namespace))

        self.expressions = tuple(compiled)
        self.evaluate_expr = evaluate_expr
        self.evaluate_bool_expr = evaluate_bool_expr

    @contextlib.contextmanager
    def patched(
        self, counts: dict[str, int] | None = None, guards_only: bool = False
    ) -> Iterator[None]:
        """pystator's expression functions replaced by these (restored after), or with
        ``guards_only`` its guards' ``_eval_expression`` only. With ``counts``, each call
        is also counted under "guard", "when" or "compute" (the function called: guards'
        ``_eval_expression``, ``evaluate_bool_expr``, ``evaluate_expr``) — for an
        untimed pass only."""
        guards = importlib.import_module("pystator.guards")
        try:
            expr_module: Any = importlib.import_module("pystator._expr")
        except ImportError:  # pystator 0.0.25: guards only
            expr_module = None
        plain, boolean = self.evaluate_expr, self.evaluate_bool_expr
        guard = boolean
        if counts is not None:
            plain = _counted(plain, counts, "compute")
            boolean = _counted(boolean, counts, "when")
            guard = _counted(guard, counts, "guard")
        replaced: list[tuple[Any, str, Any]] = [(guards, "_eval_expression", guard)]
        if expr_module is not None and not guards_only:
            replaced += [
                (expr_module, "evaluate_expr", plain),
                (expr_module, "evaluate_bool_expr", boolean),
            ]
        originals = [(module, name, getattr(module, name)) for module, name, _ in replaced]
        try:
            for module, name, func in replaced:
                setattr(module, name, func)
            yield
        finally:
            for module, name, original in originals:
                setattr(module, name, original)


class _NamesToLookups(ast.NodeTransformer):
    """``name`` -> ``__ns["name"]``, except the function a call names."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node.args = [self.visit(arg) for arg in node.args]
        node.keywords = [self.visit(keyword) for keyword in node.keywords]
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        lookup = ast.Subscript(
            value=ast.Name(id="__ns", ctx=ast.Load()), slice=ast.Constant(node.id), ctx=ast.Load()
        )
        return ast.copy_location(lookup, node)


def _python_function(expression: str) -> Callable[[Any], Any]:
    """``expression`` as a Python function of the namespace (see FreeExpressions)."""
    body = _NamesToLookups().visit(ast.parse(expression, mode="eval").body)
    tree = ast.Expression(
        ast.Lambda(
            args=ast.arguments(
                posonlyargs=[],
                args=[ast.arg(arg="__ns")],
                kwonlyargs=[],
                kw_defaults=[],
                defaults=[],
            ),
            body=body,
        )
    )
    code = compile(ast.fix_missing_locations(tree), f"<{expression}>", "eval")
    return eval(code, {"__builtins__": {}, **_FREE_FUNCTIONS})  # type: ignore[no-any-return]  # noqa: S307


def _counted(func: Callable[..., Any], counts: dict[str, int], key: str) -> Callable[..., Any]:
    def counting(expr: str, namespace: dict[str, Any]) -> Any:
        counts[key] = counts.get(key, 0) + 1
        return func(expr, namespace)

    return counting


# ---------------------------------------------------------------------------
# Clocks for pytest-benchmark
# ---------------------------------------------------------------------------

#: Awaits per benchmark round of an async workload (see benches/conftest.py),
#: and transitions per call of the execute_many benchmarks.
ASYNC_BATCH = 100


def per_await_clock() -> float:
    """``time.perf_counter`` in units of ASYNC_BATCH seconds: a round that does
    ASYNC_BATCH operations is reported as the time of one operation."""
    return time.perf_counter() / ASYNC_BATCH


#: ``@pytest.mark.benchmark(**PER_AWAIT)`` for benchmarks whose rounds do
#: ASYNC_BATCH operations. pytest-benchmark measures its time budget with the
#: benchmark's clock, so the budget (1 s of real time) is scaled as well.
PER_AWAIT: dict[str, Any] = {"timer": per_await_clock, "max_time": 1.0 / ASYNC_BATCH}
