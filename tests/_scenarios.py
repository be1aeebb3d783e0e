"""Scenario model, hypothesis strategies and runner for ``test_differential.py``.

A *scenario* is plain, implementation-neutral data (frozen dataclasses with readable
reprs, so hypothesis prints a falsifying example that can be pasted back into a
test).  :func:`observe` runs one scenario against one implementation namespace (see
``conftest._pystator_ns`` / ``conftest._ferrostator_ns``) and returns everything that
can be seen from the outside, in a canonical, type-sensitive form: registry probes,
spec construction, results and raised exceptions (type, message, args, chain, and
whether it is the very object an action raised), the context after every operation
(in key order), the specs' params afterwards, warnings, and one ordered event log:
the actions' events, the retry sleeps the executor requested (``time.sleep`` and
``asyncio.sleep`` are patched), log records (level, message, exc_info type), dict
method calls on a dict-subclass context, ticks of a concurrent Task and
cancellations.  Two implementations agree on a scenario when their observations are
equal.

Known, deliberate differences between ferrostator and pystator are kept out of the
generated scenarios (see the comments marked "DELIBERATE DIFFERENCE").
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import dataclasses
import difflib
import functools
import gc
import logging
import pprint
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from typing import Any
from unittest import mock

from _reference import is_reference_deprecation
from hypothesis import strategies as st

# Saved before anything is patched: actions suspend with the *real* asyncio.sleep(0),
# so the patched ``asyncio.sleep`` only ever sees the executors' retry sleeps.
_real_sleep = asyncio.sleep

PARAMS_KEY = "_action_params"  # ACTION_PARAMS_KEY of both implementations (asserted)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


class _Token:
    """A named singleton that survives deepcopy and prints as its name."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __copy__(self) -> _Token:
        return self

    def __deepcopy__(self, memo: dict) -> _Token:
        return self


OMIT = _Token("OMIT")  # "do not pass this argument / config key at all"
ABSENT = _Token("ABSENT")  # "key not present in the context"


class Lit:
    """Canonical scalar: compares by repr, so 1, 1.0 and True stay distinct."""

    __slots__ = ("r",)

    def __init__(self, r: str) -> None:
        self.r = r

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lit) and other.r == self.r

    def __hash__(self) -> int:
        return hash(self.r)

    def __repr__(self) -> str:
        return self.r


_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$")


def canon(x: Any) -> Any:
    """Canonical, type-sensitive form; UTC ISO timestamps become ``<timestamp>``."""
    if isinstance(x, str):
        return "<timestamp>" if _TS.match(x) else x
    if isinstance(x, Lit):
        return x
    if isinstance(x, list):
        return [canon(v) for v in x]
    if isinstance(x, tuple):
        return tuple(canon(v) for v in x)
    if isinstance(x, dict):
        # keep insertion order visible: dict order is observable behaviour
        return ("dict", [(canon(k), canon(v)) for k, v in x.items()])
    return Lit(repr(x))


class CustomError(Exception):
    """A permanent (non-transient) user exception."""


class CustomOSError(OSError):
    """A transient user exception (OSError subclass)."""


class AbortRun(BaseException):
    """Not an ``Exception``: escapes every ``except Exception`` in the executors."""


EXCEPTIONS: dict[str, type[BaseException]] = {
    "ValueError": ValueError,
    "StopIteration": StopIteration,
    "CancelledError": asyncio.CancelledError,
    "KeyError": KeyError,
    "RuntimeError": RuntimeError,
    "CustomError": CustomError,
    "OSError": OSError,
    "ConnectionError": ConnectionError,
    "TimeoutError": TimeoutError,
    "ConnectionResetError": ConnectionResetError,
    "FileNotFoundError": FileNotFoundError,
    "CustomOSError": CustomOSError,
    "AbortRun": AbortRun,
}
PERMANENT = ("ValueError", "KeyError", "RuntimeError", "CustomError", "StopIteration")
TRANSIENT = (
    "OSError",
    "ConnectionError",
    "TimeoutError",
    "ConnectionResetError",
    "FileNotFoundError",
    "CustomOSError",
)


# ---------------------------------------------------------------------------
# Scenario model
# ---------------------------------------------------------------------------

SYNC_KINDS = ("def", "lambda", "sync_obj", "partial_sync")
ASYNC_KINDS = ("async_def", "async_obj", "async_method", "partial_async")


@dataclass(frozen=True)
class ActionDef:
    """A registered action.  Its n-th call (counted across the whole scenario):

    1. logs ``("enter", name, n, snapshot)`` before anything else;
    2. (async kinds) suspends ``suspend_before`` times (``suspend_with``: the real
       ``asyncio.sleep(0)``, a Future resolved by ``call_soon``, or a Task),
       logging ``("resumed", name, n)`` afterwards if it suspended;
    3. applies ``mutations``: ``("set", key, value)``, ``("incr", key)``,
       ``("del", key)``, ``("unregister", name or "<self>")``, ``("nested", name,
       with_params)`` (a nested ``execute_action_spec`` / awaited
       ``async_execute_action_spec`` call, one level deep), and in sequential
       scenarios ``("set_params", value)``, ``("del_params",)``,
       ``("touch_params",)`` (mutates the params dict in place);
    4. (async kinds) suspends ``suspend_after`` times;
    5. logs ``("end", name, n, snapshot)``;
    6. raises ``fail_exc`` if ``n < fail_first``, otherwise performs ``final``:
       ``("return", value)`` (value ``"<fresh>"``: a new list, identity-tracked;
       ``"<ctx>"``: the context itself) or ``("raise", exception name)``.

    Async kinds log ``("interrupted", name, n, type)`` when cancelled.
    """

    name: str
    kind: str = "def"
    fail_first: int = 0
    fail_exc: str = "OSError"
    final: tuple = ("return", None)
    mutations: tuple = ()
    suspend_before: int = 0
    suspend_after: int = 0
    suspend_with: str = "sleep0"


@dataclass(frozen=True)
class SpecDef:
    """How to build an ActionSpec.

    ``how``: ``"ctor"`` (``ActionSpec(name=..., <non-OMIT fields>)``), ``"config"``
    (``ActionSpec.from_config({"name": ..., <non-OMIT keys>})``), ``"config_str"``
    (``ActionSpec.from_config(name)``), ``"effect_config"``
    (``ActionSpec.from_config(config)``) or ``"effect_ctor"``
    (``ActionSpec(name="_effect.<x>", params=...)``).
    """

    how: str
    name: Any = OMIT
    params: Any = OMIT
    timeout: Any = OMIT
    retry: Any = OMIT
    retry_backoff: Any = OMIT
    config: Any = OMIT


@dataclass(frozen=True)
class OpDef:
    """One call of an entry point.

    ``entry`` is ``"registry.<method>"`` or ``"executor.<method>"``.  ``names`` feed
    name-based entry points, ``specs`` spec-based ones; for TransitionResult-based
    ones ``specs`` is split at ``split`` into (on_exit, actions_to_execute,
    on_enter).  ``flag`` is ``raise_on_error`` / ``stop_on_error`` of the registry
    methods (OMIT: not passed), ``mode`` the mode of ``async_execute_with_mode``
    (an ExecutionMode member name, a raw string, or OMIT), ``as_tuple`` passes
    sequences as tuples instead of lists, ``style`` passes the arguments
    positionally or by keyword (pystator's parameter names), ``cancel_after``
    (async entry points) cancels the call after that many loop iterations, and
    ``ticker`` runs a concurrent Task logging one tick per loop iteration.
    """

    entry: str
    names: tuple = ()
    specs: tuple = ()
    split: tuple = (0, 0)
    tr_success: bool = True
    flag: Any = OMIT
    mode: Any = OMIT
    as_tuple: bool = False
    style: str = "positional"
    cancel_after: Any = OMIT
    ticker: bool = False


@dataclass(frozen=True)
class Scenario:
    """``parallel``: the scenario may use parallel/phased entry points, and therefore
    follows the parallel rules (see ``scenarios``)."""

    actions: tuple = ()
    ops: tuple = ()
    initial_context: tuple = ()
    context_class: str = "dict"
    executor_style: str = "keyword"
    stop_on_error: Any = OMIT
    strict: Any = OMIT
    log_execution: Any = OMIT
    parallel: bool = False


SYNC_ENTRIES = (
    "registry.execute",
    "registry.execute_all",
    "executor.execute",
    "executor.execute_specific",
    "executor.execute_action_spec",
    "executor.execute_action_specs",
)
ASYNC_SEQUENTIAL_ENTRIES = (
    "registry.async_execute",
    "registry.async_execute_all",
    "executor.async_execute",
    "executor.async_execute_with_mode",  # with a sequential mode only
    "executor.async_execute_action_spec",
)
ASYNC_PARALLEL_ENTRIES = (
    "executor.async_execute_parallel",
    "executor.async_execute_phased",
    "executor.async_execute_with_mode",
    "executor.async_execute_specific_parallel",
    "executor.async_execute_action_specs_parallel",
)
SEQUENTIAL_MODES = (OMIT, "SEQUENTIAL", "raw:sequential", "raw:bogus")
ALL_MODES = SEQUENTIAL_MODES + ("PARALLEL", "PHASED", "raw:parallel", "raw:phased")

REGISTERED = ("a0", "a1", "a2", "a3")
MISSING = ("m0", "m1")
EFFECT_NAMES = (
    "_effect.set",
    "_effect.increment",
    "_effect.append",
    "_effect.clear",
    "_effect.nope",
    "_effect.",
)
CTX_KEYS = ("k0", "k1", "f0")


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.sampled_from(["x", "", "yy"]),
    st.sampled_from([0.5, -1.25]),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2)
    ),
    max_leaves=4,
)
_params = st.dictionaries(st.sampled_from(["p", "q", "touched"]), _values, min_size=1, max_size=2)
_timeouts = st.sampled_from([OMIT, None, 1000, 3600.0, 1e6])
_retries = st.sampled_from([1, 2, 0, 3, OMIT, 1, 2])
_backoffs = st.sampled_from([OMIT, 1, 0.5, 0, 2, 0.25, 1.0, 3])


def _keys(parallel: bool) -> tuple:
    # DELIBERATE DIFFERENCE 3 (params isolation in parallel/phased modes): in
    # parallel scenarios nothing but the executor (and the nested executes actions
    # run) writes the params key.
    return CTX_KEYS if parallel else CTX_KEYS + (PARAMS_KEY,)


def _mutations(parallel: bool) -> st.SearchStrategy:
    keys = st.sampled_from(_keys(parallel))
    options = [
        st.tuples(st.just("set"), keys, _values),
        st.tuples(st.just("incr"), keys),
        st.tuples(st.just("del"), keys),
        st.tuples(st.just("set"), keys, _values),
        st.tuples(st.just("incr"), keys),
        # unregister an action (often the running one: its next retry's lookup fails)
        st.tuples(st.just("unregister"), st.sampled_from(("<self>",) * 4 + REGISTERED + MISSING)),
        # a nested executor call (execute_action_spec / async_execute_action_spec)
        # of the named action, with params {"nested_by": <caller>} if the flag is set
        st.tuples(st.just("nested"), st.sampled_from(REGISTERED), st.booleans()),
    ]
    if not parallel:
        # DELIBERATE DIFFERENCE 3: only sequential scenarios write the params key
        # or mutate the params dict they were given.
        options += [
            st.tuples(st.just("set_params"), _values),
            st.tuples(st.just("del_params")),
            st.tuples(st.just("touch_params")),
        ]
    return st.one_of(*options)


@st.composite
def action_defs(
    draw: Any, name: str, sync_only: bool, parallel: bool, sync_base_exc: bool = True
) -> ActionDef:
    # DELIBERATE DIFFERENCE 1: scenarios that use sync entry points register only
    # sync actions.  DELIBERATE DIFFERENCE 2: no sync callable returns an awaitable.
    kind = draw(st.sampled_from(SYNC_KINDS if sync_only else SYNC_KINDS + ASYNC_KINDS))
    is_async = kind in ASYNC_KINDS
    # AbortRun and CancelledError are BaseExceptions: they escape the executors.
    # (sync_base_exc=False: DELIBERATE DIFFERENCE 6, see fan_out_differs)
    raisable = PERMANENT + TRANSIENT
    if is_async or sync_base_exc:
        raisable += ("AbortRun", "CancelledError")
    final = draw(
        st.one_of(
            st.tuples(
                st.just("return"),
                st.one_of(_scalars, st.sampled_from(["<fresh>", "<ctx>", (1, "t")])),
            ),
            st.tuples(st.just("raise"), st.sampled_from(raisable)),
        )
    )
    return ActionDef(
        name=name,
        kind=kind,
        fail_first=draw(st.sampled_from([1, 0, 2, 1, 3, 0])),
        fail_exc=draw(st.sampled_from(TRANSIENT + PERMANENT + TRANSIENT)),
        final=final,
        mutations=tuple(draw(st.lists(_mutations(parallel), max_size=2))),
        suspend_before=draw(st.integers(0, 2)) if is_async else 0,
        suspend_after=draw(st.integers(0, 2)) if is_async else 0,
        suspend_with=draw(st.sampled_from(["sleep0", "future", "task"])) if is_async else "sleep0",
    )


def _effect_configs(parallel: bool) -> st.SearchStrategy:
    keys = st.sampled_from(_keys(parallel))
    # Exactly one effect key per config: with several, pystator picks one by
    # iterating a frozenset of str (hash-seed dependent), which is not a contract.
    forms = st.one_of(
        st.fixed_dictionaries({"set": st.dictionaries(keys, _values, max_size=2)}),
        st.fixed_dictionaries({"timestamp": keys}),
        st.fixed_dictionaries({"increment": keys}),
        st.fixed_dictionaries({"decrement": keys}),
        st.fixed_dictionaries({"clear": keys}),
        st.fixed_dictionaries({"append": st.fixed_dictionaries({"field": keys, "value": _values})}),
        # invalid forms: from_config raises ValueError
        st.sampled_from(
            [
                {"set": "not-a-mapping"},
                {"increment": 3},
                {"append": {"field": "k0"}},
                {"nope": "k0"},
                {},
            ]
        ),
    )
    extras = st.fixed_dictionaries(
        {},
        optional={
            "retry": st.integers(0, 2),
            "timeout": st.sampled_from([None, 1000]),
            "retry_backoff": st.sampled_from([0.5, 2]),
        },
    )
    return st.builds(lambda f, e: {**f, **e}, forms, extras)


def _action_names(registered: tuple) -> st.SearchStrategy:
    """Mostly registered names (when there are any), sometimes missing ones."""
    return st.sampled_from(registered * 4 + MISSING)


@st.composite
def spec_defs(draw: Any, parallel: bool, registered: tuple) -> SpecDef:
    how = draw(
        st.sampled_from(
            ["ctor", "config", "ctor", "config", "effect_config", "effect_ctor", "config_str"]
        )
    )
    if how == "config_str":
        return SpecDef(how, name=draw(_action_names(registered)))
    if how == "effect_config":
        return SpecDef(how, config=draw(_effect_configs(parallel)))
    if how == "effect_ctor":
        keys = st.sampled_from(_keys(parallel))
        params = draw(
            st.one_of(
                st.just(OMIT),
                st.just({}),
                st.fixed_dictionaries({"field": keys}),
                st.fixed_dictionaries({"field": keys, "value": _values}),
                st.dictionaries(keys, _values, min_size=1, max_size=2),
            )
        )
        return SpecDef(
            how,
            name=draw(st.sampled_from(EFFECT_NAMES)),
            params=params,
            retry=draw(_retries),
        )
    return SpecDef(
        how,
        name=draw(st.sampled_from(registered * 6 + MISSING + ("",))),
        params=draw(st.one_of(st.just(OMIT), st.just({}), _params)),
        timeout=draw(_timeouts),
        retry=draw(_retries),
        retry_backoff=draw(_backoffs),
    )


_flags = st.sampled_from([OMIT, False, True])


def _some(elements: st.SearchStrategy, max_size: int) -> st.SearchStrategy:
    """Lists of 1..max_size elements, and sometimes an empty one."""
    nonempty = st.lists(elements, min_size=1, max_size=max_size)
    return st.one_of(nonempty, nonempty, nonempty, nonempty, st.just([])).map(tuple)


@st.composite
def op_defs(
    draw: Any,
    entries: tuple,
    parallel: bool,
    registered: tuple,
    tasked: frozenset | None = None,
) -> OpDef:
    """``tasked``: if not None, a fan-out op gets a ticker or a cancellation only if
    every item of its batches is in ``tasked`` (DELIBERATE DIFFERENCE 6)."""
    op = draw(_op_core(entries, parallel, registered))
    style = draw(st.sampled_from(["positional", "keyword"]))
    if op.entry in SYNC_ENTRIES:
        return dataclasses.replace(op, style=style)
    if tasked is not None and fans_out(op) and not _only_tasked_items(op, tasked):
        return dataclasses.replace(op, style=style)
    return dataclasses.replace(
        op,
        style=style,
        cancel_after=draw(st.sampled_from([OMIT, OMIT, OMIT, OMIT, OMIT, 0, 1, 2, 3, 5])),
        ticker=draw(st.sampled_from([False, False, True])),
    )


FAN_OUT_ENTRIES = (
    "executor.async_execute_parallel",
    "executor.async_execute_phased",
    "executor.async_execute_specific_parallel",
    "executor.async_execute_action_specs_parallel",
)


def fans_out(op: OpDef) -> bool:
    """Whether the operation runs a parallel or phased batch."""
    if op.entry in FAN_OUT_ENTRIES:
        return True
    return op.entry == "executor.async_execute_with_mode" and op.mode in (
        "PARALLEL",
        "PHASED",
        "raw:parallel",
        "raw:phased",
    )


def _tasked_names(actions: tuple) -> frozenset:
    """Names whose batch items pystator and ferrostator both run in Tasks that start
    alike: async actions, provided no action unregisters anything (a missing name is
    skipped inline). None on Python 3.12+, where ferrostator's Tasks start eagerly
    (docs/contracts.md: "On Python 3.12+ tasks start eagerly") and pystator's on the next loop
    iteration."""
    if sys.version_info >= (3, 12):
        return frozenset()
    if any(m[0] == "unregister" for a in actions for m in a.mutations):
        return frozenset()
    return frozenset(a.name for a in actions if a.kind in ASYNC_KINDS)


def _only_tasked_items(op: OpDef, tasked: frozenset) -> bool:
    if op.entry == "executor.async_execute_specific_parallel":
        return all(n in tasked for n in op.names)
    return all(d.how in ("ctor", "config", "config_str") and d.name in tasked for d in op.specs)


def _eager_start_shows(sc: Scenario, op: OpDef) -> bool:
    """Python 3.12+ only: ferrostator's Tasks start eagerly (docs/contracts.md, "Deliberate
    differences"), pystator's gather Tasks on the next loop iteration, so once an item
    of a batch of several may suspend (an async action, a retry's sleep, a timeout's
    wait), the order in which the items resume may differ."""
    if sys.version_info < (3, 12) or len(op.names) + len(op.specs) < 2:
        return False
    suspending_action = any(
        a.kind in ASYNC_KINDS or a.suspend_before or a.suspend_after or a.fail_first
        for a in sc.actions
    )
    waiting_spec = any(d.timeout is not OMIT or d.retry is not OMIT for d in op.specs)
    return suspending_action or waiting_spec


def fan_out_differs(sc: Scenario) -> bool:
    """DELIBERATE DIFFERENCE 6 (docs/contracts.md, "Deliberate differences"): parallel/phased
    batches run their leading sync items (sync actions, effects, skips of missing
    actions) inline, in the caller's step, where pystator gives every item a gather
    Task that starts on the next loop iteration.  A concurrent Task (the ticker) or a
    cancellation of the caller sees that, and a batch with no suspending item
    finishes without yielding at all; a BaseException raised by an inline sync
    action propagates before the later items of the batch start.  True if the
    scenario may show that: a fan-out op with a ticker or a cancellation whose
    items are not all async actions, or any fan-out op in a scenario where a sync
    action raises a BaseException; on 3.12+ also the batches that eager task start
    may reorder (`_eager_start_shows`).  Everything else in a fan-out must match."""
    base = ("AbortRun", "CancelledError")
    sync_base = any(
        a.kind in SYNC_KINDS and a.final[0] == "raise" and a.final[1] in base for a in sc.actions
    )
    tasked = _tasked_names(sc.actions)
    for op in sc.ops:
        if not fans_out(op):
            continue
        if sync_base or _eager_start_shows(sc, op):
            return True
        if (op.ticker or op.cancel_after is not OMIT) and not _only_tasked_items(op, tasked):
            return True
    return False


@st.composite
def _op_core(draw: Any, entries: tuple, parallel: bool, registered: tuple) -> OpDef:
    entry = draw(st.sampled_from(entries))
    _names = st.sampled_from(registered * 6 + MISSING + EFFECT_NAMES)
    spec_defs_ = spec_defs(parallel, registered)
    method = entry.split(".", 1)[1]
    if method in ("execute", "async_execute") and entry.startswith("registry"):
        return OpDef(entry, names=(draw(_names),), flag=draw(_flags))
    if method in ("execute_all", "async_execute_all"):
        return OpDef(
            entry,
            names=draw(_some(_names, 5)),
            flag=draw(_flags),
            as_tuple=draw(st.booleans()),
        )
    if method in ("execute_specific", "async_execute_specific_parallel"):
        return OpDef(
            entry,
            names=draw(_some(_names, 5)),
            as_tuple=draw(st.booleans()),
        )
    if method in ("execute_action_spec", "async_execute_action_spec"):
        return OpDef(entry, specs=(draw(spec_defs_),))
    if method in ("execute_action_specs", "async_execute_action_specs_parallel"):
        return OpDef(
            entry,
            specs=draw(_some(spec_defs_, 5)),
            as_tuple=draw(st.booleans()),
        )
    # TransitionResult-based entry points
    specs = draw(_some(spec_defs_, 6))
    i = draw(st.integers(0, len(specs)))
    j = draw(st.integers(i, len(specs)))
    mode = OMIT
    if method == "async_execute_with_mode":
        mode = draw(st.sampled_from(ALL_MODES if parallel else SEQUENTIAL_MODES))
    return OpDef(
        entry,
        specs=specs,
        split=(i, j),
        tr_success=draw(st.sampled_from([True, True, True, False])),
        mode=mode,
    )


@st.composite
def scenarios(draw: Any, flavour: str | None = None, deliberate_fan_out: bool = True) -> Scenario:
    """Three flavours.  "sync": only sync actions, sync and sequential async entry
    points (DELIBERATE DIFFERENCE 1).  "sequential": any actions, sequential async
    entry points.  "parallel": every async entry point, with the parallel rules
    (DELIBERATE DIFFERENCE 3): the params key is absent from the initial context
    and written by nobody but the executor (and nested executes); in fan-outs the
    actions' views of it are checked against the isolation rule, not compared.
    ``deliberate_fan_out=False``
    also keeps parallel scenarios out of DELIBERATE DIFFERENCE 6
    (``fan_out_differs``)."""
    if flavour is None:
        flavour = draw(st.sampled_from(["parallel", "sync", "sequential"]))
    parallel = flavour == "parallel"
    sync_only = flavour == "sync"
    if parallel:
        entries = ASYNC_SEQUENTIAL_ENTRIES + ASYNC_PARALLEL_ENTRIES + ASYNC_PARALLEL_ENTRIES
    elif sync_only:
        entries = SYNC_ENTRIES + SYNC_ENTRIES + ASYNC_SEQUENTIAL_ENTRIES
    else:
        entries = ASYNC_SEQUENTIAL_ENTRIES
    # favour the executor's spec-based entry points (retries, timeouts, effects)
    entries += tuple(e for e in entries if e.startswith("executor.") and "specific" not in e)
    n_actions = draw(st.sampled_from([2, 3, 4, 1, 2, 3, 4, 1, 0]))
    registered = REGISTERED[:n_actions]
    # deliberate_fan_out=False: generate no scenario where fan_out_differs
    avoid = parallel and not deliberate_fan_out
    actions = tuple(
        draw(action_defs(name, sync_only, parallel, sync_base_exc=not avoid)) for name in registered
    )
    tasked = _tasked_names(actions) if avoid else None
    initial = draw(
        st.lists(
            st.tuples(st.sampled_from(_keys(parallel)), _values),
            max_size=3,
            unique_by=lambda kv: kv[0],
        )
    )
    return Scenario(
        actions=actions,
        ops=tuple(
            draw(
                st.lists(
                    op_defs(entries, parallel, registered, tasked),
                    min_size=1,
                    max_size=4,
                )
            )
        ),
        initial_context=tuple(initial),
        context_class=draw(st.sampled_from(["dict", "dict", "dict", "TrackingDict"])),
        executor_style=draw(st.sampled_from(["keyword", "positional"])),
        stop_on_error=draw(st.sampled_from([True, False, OMIT, True])),
        strict=draw(st.sampled_from([OMIT, False, True])),
        log_execution=draw(_flags),
        parallel=parallel,
    )


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------


class TrackingDict(dict):
    """A context of a dict subclass that logs (as events) the calls of the dict
    methods pystator's actions module uses on contexts, and ``__getitem__`` /
    ``__contains__`` / ``__delitem__``: which overrides run, with which keys, in
    which order is observable behaviour for such contexts."""

    def __init__(self, items: Any, env: _Env) -> None:
        super().__init__(items)
        self._env = env

    def _log(self, method: str, *key: Any) -> None:
        self._env.event("ctx." + method, *key)

    def __getitem__(self, key: Any) -> Any:
        self._log("__getitem__", key)
        return super().__getitem__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._log("__setitem__", key)
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self._log("__delitem__", key)
        super().__delitem__(key)

    def __contains__(self, key: Any) -> bool:
        self._log("__contains__", key)
        return super().__contains__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._log("get", key)
        return super().get(key, default)

    def pop(self, key: Any, *default: Any) -> Any:
        self._log("pop", key)
        return super().pop(key, *default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._log("setdefault", key)
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._log("update")
        super().update(*args, **kwargs)


class _Env:
    """Per-implementation state of one scenario run."""

    def __init__(self, ns: Any, parallel: bool) -> None:
        self.ns = ns
        self.parallel = parallel
        self.events: list = []
        self.raised: list[BaseException] = []
        self.returned: list[Any] = []
        self.registry: Any = None
        self.context: dict | None = None
        self.trs: list[Any] = []
        self.executor: Any = None
        self.kinds: dict[str, str] = {}
        self.depth = 0
        # DELIBERATE DIFFERENCE 3: during a fan-out on a dict context, the actions'
        # views of the params key are checked against the isolation rule instead of
        # compared (``views``: action name -> the params of the op's specs naming it,
        # ABSENT for a spec without; ``expect``: (name, call) -> the view that call
        # must keep).
        self.views: dict[str, list] | None = None
        self.expect: dict[tuple, Any] = {}
        self.violations: list = []

    def event(self, *ev: Any) -> None:
        self.events.append(ev)

    def snapshot(self, ctx: dict, with_params: bool = True, call: tuple | None = None) -> tuple:
        others = [(k, copy.deepcopy(v)) for k, v in dict.items(ctx) if k != PARAMS_KEY]
        if not with_params:
            return ("ctx", others)
        if self.views is not None:
            self.check_view(ctx, call, "snapshot")
            return ("params", "<checked against the isolation rule>", "ctx", others)
        return ("params", copy.deepcopy(dict.get(ctx, PARAMS_KEY, ABSENT)), "ctx", others)

    def begin_view(self, ctx: dict, call: tuple) -> None:
        """At a call's start: its view must be its spec's params (one of the op's specs
        naming the action; ABSENT for a spec without params) or, for a nested call,
        what ``_NESTED_VIEW`` says; later views of the call must be the same."""
        if self.views is None:
            return
        seen = dict.get(ctx, PARAMS_KEY, ABSENT)
        nested = _NESTED_VIEW.get()
        if nested is not None:
            nested[1] = True
        allowed = [nested[0]] if nested is not None else self.views.get(call[0], [])
        if not any(seen is a for a in allowed):
            self.violations.append((call, "enter", seen, "expected one of", allowed))
        self.expect[call] = seen

    def check_view(self, ctx: dict, call: tuple | None, stage: str) -> None:
        """``call`` None: outside every action, where the key must be absent."""
        if self.views is None:
            return
        seen = dict.get(ctx, PARAMS_KEY, ABSENT)
        expected = ABSENT if call is None else self.expect.get(call, ABSENT)
        if seen is not expected:
            self.violations.append((call, stage, seen, "expected", expected))


# The view of the params key a nested execute's action must start with.
_NESTED_VIEW: contextvars.ContextVar[Any] = contextvars.ContextVar("nested_view", default=None)


def _make_action(defn: ActionDef, env: _Env) -> Callable[..., Any]:
    calls = [0]
    name = defn.name

    def begin(ctx: dict) -> int:
        n = calls[0]
        calls[0] += 1
        env.begin_view(ctx, (name, n))
        env.event("enter", name, n, env.snapshot(ctx, call=(name, n)))
        return n

    def nested_spec(m: tuple) -> Any:
        params = {"nested_by": name} if m[2] else {}
        return env.ns.ActionSpec(name=m[1], params=params)

    def nested_view(ctx: dict, spec: Any) -> contextvars.Token:
        # The nested action sees its params, or (without) what its caller sees; the
        # list's second item tells whether it was called.
        view = spec.params if spec.params else dict.get(ctx, PARAMS_KEY, ABSENT)
        return _NESTED_VIEW.set([view, False])

    def after_nested(n: int, spec: Any, token: contextvars.Token) -> None:
        called = _NESTED_VIEW.get()[1]
        _NESTED_VIEW.reset(token)
        if spec.params and called and env.views is not None:
            # pystator's ``finally`` popped the key in this action's own flow (however
            # the nested execute ended)
            env.expect[(name, n)] = ABSENT

    def nested_skipped() -> bool:
        if env.depth:
            env.event("nested call skipped (depth)", name)
            return True
        return False

    def mutate(ctx: dict, n: int) -> None:
        for m in defn.mutations:
            if m[0] != "nested":
                apply(ctx, m)
            elif nested_skipped():
                pass
            elif env.kinds.get(m[1]) in ASYNC_KINDS:
                # DELIBERATE DIFFERENCE 1: no async action through a sync entry point
                env.event("nested call skipped (async target)", name)
            else:
                spec = nested_spec(m)
                env.depth += 1
                token = nested_view(ctx, spec)
                try:
                    r = env.executor.execute_action_spec(spec, ctx)
                finally:
                    after_nested(n, spec, token)
                    env.depth -= 1
                env.check_view(ctx, (name, n), "after nested")
                env.event("nested result", name, _norm(r, env))

    async def amutate(ctx: dict, n: int) -> None:
        for m in defn.mutations:
            if m[0] != "nested":
                apply(ctx, m)
            elif not nested_skipped():
                spec = nested_spec(m)
                env.depth += 1
                token = nested_view(ctx, spec)
                try:
                    r = await env.executor.async_execute_action_spec(spec, ctx)
                finally:
                    after_nested(n, spec, token)
                    env.depth -= 1
                env.check_view(ctx, (name, n), "after nested")
                env.event("nested result", name, _norm(r, env))

    def apply(ctx: dict, m: tuple) -> None:
        op = m[0]
        if op == "set":
            ctx[m[1]] = copy.deepcopy(m[2])
        elif op == "incr":
            v = ctx.get(m[1], 0)
            ctx[m[1]] = (v if type(v) is int else 0) + 1
        elif op == "del":
            ctx.pop(m[1], None)
        elif op == "unregister":
            env.registry.unregister(name if m[1] == "<self>" else m[1])  # may raise
        elif op == "set_params":
            ctx[PARAMS_KEY] = copy.deepcopy(m[1])
        elif op == "del_params":
            ctx.pop(PARAMS_KEY, None)
        elif op == "touch_params":
            p = ctx.get(PARAMS_KEY)
            if isinstance(p, dict):
                touched = p.get("touched", 0)
                p["touched"] = (touched if type(touched) is int else 0) + 1
        else:  # pragma: no cover
            raise AssertionError(m)

    def end(ctx: dict, n: int) -> Any:
        env.event("end", name, n, env.snapshot(ctx, call=(name, n)))
        if n < defn.fail_first:
            exc = EXCEPTIONS[defn.fail_exc](f"{name}#{n}")
            env.raised.append(exc)
            raise exc
        what, value = defn.final
        if what == "raise":
            exc = EXCEPTIONS[value](f"{name}#{n}")
            env.raised.append(exc)
            raise exc
        if value == "<fresh>":
            obj = [name, n]
            env.returned.append(obj)
            return obj
        if value == "<ctx>":
            return ctx
        return value

    def sync_body(ctx: dict) -> Any:
        n = begin(ctx)
        mutate(ctx, n)
        return end(ctx, n)

    async def suspend() -> None:
        if defn.suspend_with == "future":
            fut = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(fut.set_result, None)
            await fut
        elif defn.suspend_with == "task":
            await asyncio.ensure_future(_real_sleep(0))
        else:
            await _real_sleep(0)

    async def async_body(ctx: dict) -> Any:
        n = begin(ctx)
        try:
            for _ in range(defn.suspend_before):
                await suspend()
                env.check_view(ctx, (name, n), "resumed")
            if defn.suspend_before:
                env.event("resumed", name, n)
            await amutate(ctx, n)
            for _ in range(defn.suspend_after):
                await suspend()
                env.check_view(ctx, (name, n), "resumed")
        except asyncio.CancelledError:
            env.check_view(ctx, (name, n), "interrupted")
            env.event("interrupted", name, n, "CancelledError")
            raise
        return end(ctx, n)

    kind = defn.kind
    if kind == "def":
        return sync_body
    if kind == "lambda":
        return lambda ctx: sync_body(ctx)
    if kind == "async_def":
        return async_body
    if kind == "sync_obj":

        class SyncAction:
            def __call__(self, ctx: dict) -> Any:
                return sync_body(ctx)

        return SyncAction()
    if kind == "async_obj":

        class AsyncAction:
            async def __call__(self, ctx: dict) -> Any:
                return await async_body(ctx)

        return AsyncAction()
    if kind == "async_method":

        class Holder:
            async def run(self, ctx: dict) -> Any:
                return await async_body(ctx)

        return Holder().run
    if kind == "partial_sync":

        def tagged(tag: str, ctx: dict) -> Any:
            return sync_body(ctx)

        return functools.partial(tagged, "tag")
    if kind == "partial_async":

        async def atagged(tag: str, ctx: dict) -> Any:
            return await async_body(ctx)

        return functools.partial(atagged, "tag")
    raise AssertionError(kind)  # pragma: no cover


def _chain(e: BaseException) -> tuple:
    """What a traceback print would show of the exception's chain."""
    return (
        "cause",
        type(e.__cause__).__name__,
        "context",
        type(e.__context__).__name__,
        e.__suppress_context__,
    )


def _norm_exc(e: BaseException, env: _Env) -> tuple:
    ns = env.ns
    ident = next((i for i, r in enumerate(env.raised) if r is e), None)
    if isinstance(e, ns.ActionNotFoundError):
        return (
            "ActionNotFoundError",
            _chain(e),
            type(e) is ns.ActionNotFoundError,
            isinstance(e, ns.FSMError),
            str(e),
            e.args,
            e.action_name,
            e.message,
            e.context,
            getattr(e.code, "value", e.code),
        )
    return (
        "exc",
        f"{type(e).__module__}.{type(e).__qualname__}",
        str(e),
        e.args,
        f"raised-by-action#{ident}" if ident is not None else "new",
        _chain(e),
    )


def _norm(x: Any, env: _Env) -> Any:
    ns = env.ns
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if x is env.context:
        return "<the context>"
    for i, r in enumerate(env.returned):
        if x is r:
            return ("<fresh>", i, copy.deepcopy(x))
    if isinstance(x, BaseException):
        return _norm_exc(x, env)
    if isinstance(x, ns.ActionResult):
        return (
            "ActionResult",
            type(x) is ns.ActionResult,
            x.success,
            x.action_name,
            _norm(x.result, env),
            isinstance(x.status, ns.ActionStatus),
            getattr(x.status, "value", x.status),
            x.status == getattr(x.status, "value", None),
            x.is_skipped,
            _norm(x.error, env),
        )
    if isinstance(x, ns.ExecutionResult):
        started, completed = x.started_at, x.completed_at
        tr_index = next((i for i, t in enumerate(env.trs) if t is x.transition_result), None)
        return (
            "ExecutionResult",
            type(x) is ns.ExecutionResult,
            type(x.action_results).__name__,
            [_norm(r, env) for r in x.action_results],
            isinstance(x.execution_mode, ns.ExecutionMode),
            getattr(x.execution_mode, "value", x.execution_mode),
            ("transition_result is op input", tr_index is not None),
            started.tzinfo == timezone.utc,
            completed is not None and completed.tzinfo == timezone.utc,
            completed is not None and started <= completed,
            x.all_succeeded,
            x.failed_actions,
            x.succeeded_actions,
            x.action_count,
            x.duration_ms is not None and x.duration_ms >= 0,
        )
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_norm(v, env) for v in x])
    if isinstance(x, dict):
        return {k: _norm(v, env) for k, v in x.items()}
    return ("<object>", type(x).__qualname__)


def _outcome(fn: Callable[[], Any], env: _Env) -> tuple:
    try:
        value = fn()
    except BaseException as e:  # noqa: BLE001 - compared, not swallowed
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return ("raised", _norm_exc(e, env))
    return ("returned", _norm(value, env))


def _build_spec(ns: Any, d: SpecDef) -> Any:
    def present(**kw: Any) -> dict:
        return {k: copy.deepcopy(v) for k, v in kw.items() if v is not OMIT}

    if d.how in ("ctor", "config"):
        fields = present(
            name=d.name,
            params=d.params,
            timeout=d.timeout,
            retry=d.retry,
            retry_backoff=d.retry_backoff,
        )
        return ns.ActionSpec(**fields) if d.how == "ctor" else ns.ActionSpec.from_config(fields)
    if d.how == "config_str":
        return ns.ActionSpec.from_config(d.name)
    if d.how == "effect_config":
        return ns.ActionSpec.from_config(copy.deepcopy(d.config))
    if d.how == "effect_ctor":
        return ns.ActionSpec(**present(name=d.name, params=d.params, retry=d.retry))
    raise AssertionError(d.how)  # pragma: no cover


def _spec_view(spec: Any) -> tuple:
    return (
        spec.name,
        copy.deepcopy(spec.params),
        spec.effect,
        spec.timeout,
        spec.retry,
        spec.retry_backoff,
        spec.is_effect,
        spec.has_params,
    )


class _Capture(logging.Handler):
    """Appends ``(tag, level, message, "exc_info", exception type)`` of each record
    to ``sink`` (the event log: so the order of records relative to the actions'
    events is compared too)."""

    def __init__(self, sink: list, tag: str, first_line_only: bool = False) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.tag = tag
        self.first_line_only = first_line_only

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if self.first_line_only:
            msg = msg.split("\n", 1)[0]
        # Object addresses (uvloop names callbacks by their repr) differ run to run.
        msg = re.sub(r" at 0x[0-9a-fA-F]+", " at 0x…", msg)
        exc = record.exc_info[0].__name__ if record.exc_info else None
        self.sink.append((self.tag, record.levelname, msg, "exc_info", exc))


def _sleep_patches(env: _Env) -> tuple:
    def fake_time_sleep(secs: Any) -> None:
        env.event("sleep", "time.sleep", Lit(repr(secs)))
        if not isinstance(secs, (int, float)):
            raise TypeError(f"'{type(secs).__name__}' object cannot be interpreted as an integer")
        if secs < 0:
            raise ValueError("sleep length must be non-negative")

    async def fake_asyncio_sleep(delay: Any, result: Any = None) -> Any:
        env.event("sleep", "asyncio.sleep", Lit(repr(delay)))
        await _real_sleep(0)  # one real suspension, like any non-trivial sleep
        return result

    return (
        mock.patch("time.sleep", new=fake_time_sleep),
        mock.patch("asyncio.sleep", new=fake_asyncio_sleep),
    )


def _run_async(
    env: _Env, make: Callable[[], Any], cancel_after: Any = OMIT, ticker: bool = False
) -> tuple:
    """Run ``await make()`` on a fresh loop; then let every task still pending (e.g.
    siblings of a gather that raised) run to completion, in loop order, so their
    side effects are observed deterministically (asyncio.run would instead cancel
    them in set-iteration order).  With ``cancel_after=k``, the entry point runs in
    its own Task, cancelled by another Task after k loop iterations.  With
    ``ticker``, a concurrent Task logs a tick per loop iteration while the entry
    point runs: action events then show in which loop iteration they happen."""
    box: dict = {}
    ctx = env.context

    async def tick() -> None:
        for i in range(20):
            if "outcome" in box:
                break
            # DELIBERATE DIFFERENCE 3: a concurrent Task does not compare the params
            # key (while an action is suspended, pystator leaves its params there;
            # ferrostator puts back what the key held before the action began): in a
            # fan-out, outside every action, the key must be absent.
            env.check_view(ctx, None, "tick")
            env.event("tick", i, env.snapshot(ctx, with_params=False))
            await _real_sleep(0)

    async def canceller(task: asyncio.Task, hops: int) -> None:
        for _ in range(hops):
            await _real_sleep(0)
        env.event("cancel entry point", task.cancel())

    async def run() -> Any:
        if ticker:
            asyncio.ensure_future(tick())
        if cancel_after is OMIT:
            return await make()
        task = asyncio.ensure_future(make())
        asyncio.ensure_future(canceller(task, cancel_after))
        return await task

    async def main() -> None:
        try:
            box["outcome"] = ("returned", _norm(await run(), env))
        except BaseException as e:  # noqa: BLE001 - AbortRun, strict-mode errors, ...
            box["outcome"] = ("raised", _norm_exc(e, env))
        finally:
            env.event("entry point finished", env.snapshot(ctx))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main())
        for _ in range(50):
            pending = asyncio.all_tasks(loop)
            if not pending:
                break
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        else:  # pragma: no cover
            box["outcome"] = ("tasks never finished",)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return box["outcome"]


def _seq(items: list, as_tuple: bool) -> Any:
    return tuple(items) if as_tuple else items


def _run_op(env: _Env, executor: Any, op: OpDef, index: int) -> dict:
    ns, reg, ctx = env.ns, env.registry, env.context
    obs: dict = {"op": index, "entry": op.entry}

    # Build this implementation's specs from the shared data.
    built: list = []
    construction = []
    for d in op.specs:
        try:
            spec = _build_spec(ns, d)
        except Exception as e:  # noqa: BLE001
            construction.append(("raised", _norm_exc(e, env)))
            built.append(None)
        else:
            construction.append(("built", _spec_view(spec)))
            built.append(spec)
    if op.specs:
        obs["spec construction"] = construction
    ok = [s for s in built if s is not None]

    def tr() -> Any:
        i, j = op.split
        parts = [
            tuple(s for s in built[a:b] if s is not None)
            for a, b in ((0, i), (i, j), (j, len(built)))
        ]
        t = ns.TransitionResult(
            success=op.tr_success,
            source_state="s0",
            target_state="s1" if op.tr_success else None,
            trigger="go",
            on_exit_actions=parts[0],
            actions_to_execute=parts[1],
            on_enter_actions=parts[2],
        )
        env.trs.append(t)
        return t

    names = _seq(list(op.names), op.as_tuple)
    specs = _seq(ok, op.as_tuple)
    method = op.entry.split(".", 1)[1]
    target = reg if op.entry.startswith("registry.") else executor

    def mode() -> Any:
        if isinstance(op.mode, str) and op.mode.startswith("raw:"):
            return op.mode[4:]
        return op.mode if op.mode is OMIT else getattr(ns.ExecutionMode, op.mode)

    # (parameter name, value) in pystator's signature order; OMIT: not passed
    first: dict[str, Callable[[], tuple]] = {
        "execute": lambda: ("name", op.names[0]),
        "async_execute": lambda: ("name", op.names[0]),
        "execute_all": lambda: ("actions", names),
        "async_execute_all": lambda: ("actions", names),
        "execute_specific": lambda: ("action_names", names),
        "async_execute_specific_parallel": lambda: ("action_names", names),
        "execute_action_spec": lambda: ("action", ok[0]),
        "async_execute_action_spec": lambda: ("action", ok[0]),
        "execute_action_specs": lambda: ("actions", specs),
        "async_execute_action_specs_parallel": lambda: ("actions", specs),
    }
    if (
        target is executor
        and method in ("execute", "async_execute")
        or method
        in (
            "async_execute_parallel",
            "async_execute_phased",
            "async_execute_with_mode",
        )
    ):
        head = lambda: ("transition_result", tr())  # noqa: E731
    else:
        head = first[method]
    extra: list[tuple] = []
    if target is reg:
        extra = [("stop_on_error" if "all" in method else "raise_on_error", op.flag)]
    elif method == "async_execute_with_mode":
        extra = [("mode", OMIT)]

    def call() -> Any:
        args = [head(), ("context", ctx)] + [(k, mode() if k == "mode" else v) for k, v in extra]
        args = [(k, v) for k, v in args if v is not OMIT]
        fn = getattr(target, method)
        if op.style == "keyword":
            return fn(**dict(args))
        return fn(*(v for _, v in args))

    if method in ("execute_action_spec", "async_execute_action_spec") and not ok:
        obs["outcome"] = "skipped: spec construction failed"
    elif op.entry in SYNC_ENTRIES:
        obs["outcome"] = _outcome(call, env)
    else:
        if fans_out(op) and type(ctx) is dict:
            env.views = {}
            for spec in ok if op.specs else []:
                env.views.setdefault(spec.name, []).append(spec.params or ABSENT)
            for n in op.names:
                env.views.setdefault(n, []).append(ABSENT)
        try:
            obs["outcome"] = _run_async(env, call, op.cancel_after, op.ticker)
        finally:
            env.views = None
            env.expect.clear()
    obs["context after"] = [(k, copy.deepcopy(v)) for k, v in dict.items(ctx)]
    obs["specs after (params aliasing)"] = [_spec_view(s) for s in ok]
    return obs


def observe(ns: Any, sc: Scenario, violations: list | None = None) -> Any:
    """Run ``sc`` against the implementation ``ns``; return its canonical observation.
    ``violations`` receives the breaches of the params isolation rule in fan-outs (see
    ``_Env.views``): pystator 0.0.25 has some, ferrostator must have none."""
    env = _Env(ns, sc.parallel)
    logger = logging.getLogger(ns.LOGGER)
    alog = logging.getLogger("asyncio")
    # Records of the implementation's logger (DELIBERATE DIFFERENCE 4: the names
    # differ, so only level and message are kept) and of asyncio's (first line:
    # later lines name tasks and coroutines).
    handler = _Capture(env.events, "log")
    ahandler = _Capture(env.events, "asyncio log", first_line_only=True)
    old_level = logger.level
    logger.addHandler(handler)
    alog.addHandler(ahandler)
    logger.setLevel(logging.DEBUG)
    obs: dict = {}
    p_time, p_asyncio = _sleep_patches(env)
    try:
        with warnings.catch_warnings(record=True) as caught, p_time, p_asyncio:
            warnings.simplefilter("always")
            registry = ns.ActionRegistry()
            env.registry = registry
            env.kinds = {a.name: a.kind for a in sc.actions}
            setup = []
            for a in sc.actions:
                fn = _make_action(a, env)
                register = functools.partial(registry.register, a.name, fn)
                setup.append(("register", a.name, _outcome(register, env)))
            if sc.actions:
                setup.append(
                    (
                        "register duplicate",
                        _outcome(lambda: registry.register(sc.actions[0].name, len), env),
                    )
                )
            setup.append(("register empty", _outcome(lambda: registry.register("", len), env)))
            for name in REGISTERED + MISSING:
                setup.append(
                    ("probe", name, registry.has(name), name in registry, registry.is_async(name))
                )
            setup.append(("list", registry.list_actions(), len(registry)))
            obs["setup"] = setup

            kwargs = {
                k: v
                for k, v in (
                    ("stop_on_error", sc.stop_on_error),
                    ("strict", sc.strict),
                    ("log_execution", sc.log_execution),
                )
                if v is not OMIT
            }
            if sc.executor_style == "positional":
                executor = ns.ActionExecutor(
                    registry,
                    kwargs.get("stop_on_error", False),
                    kwargs.get("log_execution", True),
                    ns.ExecutionMode.SEQUENTIAL,
                    kwargs.get("strict", False),
                )
            else:
                executor = ns.ActionExecutor(registry=registry, **kwargs)
            env.executor = executor
            setup.append(
                (
                    "executor",
                    executor.registry is registry,
                    executor.stop_on_error,
                    executor.log_execution,
                    executor.strict,
                    getattr(executor.default_mode, "value", executor.default_mode),
                )
            )
            initial = copy.deepcopy(list(sc.initial_context))
            if sc.context_class == "TrackingDict":
                env.context = TrackingDict(initial, env=env)
            else:
                env.context = dict(initial)
            obs["ops"] = [_run_op(env, executor, op, i) for i, op in enumerate(sc.ops)]
            obs["registry after"] = registry.list_actions()
            gc.collect(1)  # young generations: cheap, and enough for objects of this run
        obs["warnings"] = [
            (w.category.__name__, str(w.message).split("\n")[0])
            for w in caught
            if not is_reference_deprecation(w)
        ]
    finally:
        logger.removeHandler(handler)
        alog.removeHandler(ahandler)
        logger.setLevel(old_level)
    obs["events"] = env.events
    if violations is not None:
        violations.extend(env.violations)
    return canon(obs)


def diff(ref: Any, cand: Any, ref_name: str = "pystator", cand_name: str = "candidate") -> str:
    """Unified diff of two observations (empty if equal)."""
    if ref == cand:
        return ""
    a = pprint.pformat(ref, width=110).splitlines()
    b = pprint.pformat(cand, width=110).splitlines()
    return "\n".join(difflib.unified_diff(a, b, ref_name, cand_name, lineterm="", n=4))
