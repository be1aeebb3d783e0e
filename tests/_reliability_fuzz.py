"""Hypothesis fuzz of ferrostator's public API, meant to run in a child interpreter
(tests/test_reliability_fuzz.py and tests/stress/test_stress_fuzz.py start it), so
that a segfault or an abort is reported as a test failure instead of ending the test
run.

Each example is a short program: a few calls of public entry points (registry,
executor sync and async paths, ActionSpec / TransitionResult / result constructors
and properties) with arguments drawn from a pool of wrong and odd values (None,
numbers including NaN / inf / huge ints, bytes, lone surrogates, containers, objects
whose dunder methods raise, objects missing spec or transition attributes, contexts
that refuse writes, callables that fail, suspend or return odd awaitables).

A call may raise an ``Exception`` (that is the point); the example fails if a call
raises a pyo3 PanicException, a SystemError, any BaseException that is not an
Exception (none of the generated objects raises one), a TypeError/ValueError with an
empty message, or if an unraisable PanicException/SystemError is reported, or if the
registry's views disagree afterwards.

Usage: python tests/_reliability_fuzz.py --examples N [--seed S] [--last-call FILE]
       [--allow action-escape]   (switch an oracle off to look past a known bug)
Prints "FUZZ OK <examples> <calls>" and an outcome histogram on success.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import logging
import math
import os
import sys
import types
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hseed
from hypothesis import strategies as st

import ferrostator as fs
from ferrostator import actions as fs_actions

# ---------------------------------------------------------------------------
# Hostile objects
# ---------------------------------------------------------------------------


class Boom(Exception):
    """Raised by the hostile objects."""


class ActionBoom(Exception):
    """Raised by an action (or the awaitable it returns): an executor must turn it
    into a failed result, never let it escape."""


class Hostile:
    """Every protocol method raises Boom."""

    def __bool__(self):
        raise Boom("__bool__")

    def __eq__(self, other):
        raise Boom("__eq__")

    def __hash__(self):
        raise Boom("__hash__")

    def __iter__(self):
        raise Boom("__iter__")

    def __len__(self):
        raise Boom("__len__")

    def __index__(self):
        raise Boom("__index__")

    def __float__(self):
        raise Boom("__float__")

    def __str__(self):
        raise Boom("__str__")

    def __repr__(self):
        raise Boom("__repr__")

    def __getattr__(self, name):
        raise Boom(f"__getattr__({name})")


class HostileStr(str):
    def __hash__(self):
        raise Boom("str hash")

    def __eq__(self, other):
        raise Boom("str eq")

    __ne__ = __eq__


class RefusingDict(dict):
    def __setitem__(self, key, value):
        raise Boom("refuses writes")

    def __delitem__(self, key):
        raise Boom("refuses deletes")

    def pop(self, *args):
        raise Boom("refuses pop")


class Mapping2:
    """A mapping-ish object without dict's methods."""

    def __getitem__(self, key):
        raise KeyError(key)


class RaisingAwait:
    def __await__(self):
        raise ActionBoom("__await__")


class NonIterAwait:
    def __await__(self):
        return 5


class Weird:
    pass


def spec_like(draw_attrs: dict) -> types.SimpleNamespace:
    return types.SimpleNamespace(**draw_attrs)


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

NAMES = [
    "ok",
    "fail",
    "flaky",
    "aok",
    "afail",
    "asusp",
    "odd_await",
    "missing",
    "",
    "_effect.set",
    "_effect.increment",
]


def make_callable(kind: str):
    state = {"calls": 0}
    if kind == "ok":
        return lambda ctx: "ok"
    if kind == "fail":

        def fail(ctx):
            raise ActionBoom("fail")

        return fail
    if kind == "flaky":

        def flaky(ctx):
            state["calls"] += 1
            if state["calls"] <= 3:
                raise ConnectionError("transient")
            raise ActionBoom("permanent")

        return flaky
    if kind == "aok":

        async def aok(ctx):
            return "aok"

        return aok
    if kind == "afail":

        async def afail(ctx):
            raise ActionBoom("afail")

        return afail
    if kind == "asusp":

        async def asusp(ctx):
            await asyncio.sleep(0)
            return ctx.get("_action_params") if isinstance(ctx, dict) else None

        return asusp
    if kind == "odd_await":
        return lambda ctx: RaisingAwait()
    if kind == "non_iter_await":
        return lambda ctx: NonIterAwait()
    if kind == "reads_ctx":
        return lambda ctx: ctx["x"]
    raise AssertionError(kind)


CALLABLE_KINDS = [
    "ok",
    "fail",
    "flaky",
    "aok",
    "afail",
    "asusp",
    "odd_await",
    "non_iter_await",
    "reads_ctx",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**100, -(10**100), 2**63, 2**64, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["\udc80", "a\ud800b", "a\x00b", "ok", "fail", "missing", "_effect.bogus"]),
    st.binary(max_size=4),
)
hostiles = st.sampled_from(
    ["Hostile", "HostileStr", "RefusingDict", "Mapping2", "Weird", "object", "type"]
).map(
    lambda k: {
        "Hostile": Hostile,
        "HostileStr": lambda: HostileStr("ok"),
        "RefusingDict": RefusingDict,
        "Mapping2": Mapping2,
        "Weird": Weird,
        "object": object,
        "type": lambda: int,
    }[k]()
)
callables = st.sampled_from(CALLABLE_KINDS).map(make_callable)

spec_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(NAMES), scalars),
        "has_params": st.one_of(st.booleans(), scalars, hostiles),
        "params": st.one_of(
            st.dictionaries(st.text(max_size=3), scalars, max_size=2), scalars, hostiles
        ),
        "timeout": st.one_of(
            st.none(), st.sampled_from([0, 0.001, 1, -1, math.inf, math.nan, 10**100]), scalars
        ),
        "retry": st.one_of(st.integers(-3, 3), st.sampled_from([10**100, 2**64]), scalars),
        "retry_backoff": st.one_of(
            st.sampled_from([0, 0.0, -1, 1, math.inf, math.nan, 10**100]), scalars
        ),
    },
)


@st.composite
def real_specs(draw):
    name = draw(st.sampled_from([n for n in NAMES if n and not n.startswith("_")]))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["params"] = draw(st.dictionaries(st.sampled_from(["p", "q"]), scalars, max_size=2))
    if draw(st.booleans()):
        kwargs["timeout"] = draw(st.sampled_from([0, 0.001, 5, -1, math.inf, 10**100]))
    if draw(st.booleans()):
        kwargs["retry"] = draw(st.sampled_from([0, 1, 2, -1, 10**100]))
        kwargs["retry_backoff"] = draw(st.sampled_from([0, 1, -1, math.inf, 10**100]))
    return fs.ActionSpec(name, **kwargs)


effect_configs = st.one_of(
    st.fixed_dictionaries(
        {"set": st.one_of(st.dictionaries(st.text(max_size=2), scalars, max_size=2), scalars)}
    ),
    st.fixed_dictionaries({"increment": st.one_of(st.sampled_from(["n", "x"]), scalars)}),
    st.fixed_dictionaries({"decrement": st.one_of(st.sampled_from(["n"]), scalars)}),
    st.fixed_dictionaries(
        {
            "append": st.one_of(
                st.fixed_dictionaries({"field": st.sampled_from(["l", "n"]), "value": scalars}),
                scalars,
            )
        }
    ),
    st.fixed_dictionaries({"clear": st.one_of(st.sampled_from(["n"]), scalars)}),
    st.fixed_dictionaries({"timestamp": st.one_of(st.sampled_from(["t"]), scalars)}),
)


def _effect_spec(config):
    try:
        return fs.ActionSpec.from_config(config)
    except Exception:
        return fs.ActionSpec("ok")


specs = st.one_of(
    real_specs(),
    spec_fields.map(spec_like),
    effect_configs.map(_effect_spec),
    scalars,
    hostiles,
)
spec_tuples = st.one_of(st.lists(specs, max_size=4).map(tuple), scalars, hostiles)


@st.composite
def transitions(draw):
    kind = draw(st.sampled_from(["real", "real", "foreign", "odd"]))
    if kind == "real":
        try:
            return fs.TransitionResult(
                draw(st.one_of(st.booleans(), scalars)),
                "a",
                "b",
                "t",
                actions_to_execute=draw(st.lists(specs, max_size=3)),
                on_exit_actions=draw(st.lists(specs, max_size=2)),
                on_enter_actions=draw(st.lists(specs, max_size=2)),
            )
        except Exception:
            return fs.TransitionResult(True, "a", "b", "t")
    if kind == "foreign":
        attrs = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "success": st.one_of(st.booleans(), scalars, hostiles),
                    "all_action_specs": spec_tuples,
                    "on_exit_actions": spec_tuples,
                    "actions_to_execute": spec_tuples,
                    "on_enter_actions": spec_tuples,
                },
            )
        )
        return types.SimpleNamespace(**attrs)
    return draw(st.one_of(scalars, hostiles))


contexts = st.one_of(
    st.builds(dict),
    st.builds(lambda: {"n": 1, "l": [], "x": 1}),
    st.builds(RefusingDict),
    st.builds(Mapping2),
    scalars,
    hostiles,
    st.builds(lambda: types.MappingProxyType({"n": 1})),
)


def _run(coro_factory):
    """Runs an async entry point to completion in a fresh loop."""
    return asyncio.run(coro_factory())


anything = st.one_of(scalars, hostiles, callables, specs, contexts, transitions())


def mostly(valid):
    """Usually (3 in 4) a valid value for the slot, sometimes anything at all (a
    plain one_of would be flattened with anything's own branches and pick the valid
    one rarely). Shrinks towards the valid value."""
    return st.integers(0, 3).flatmap(lambda i: anything if i == 3 else valid)


names = st.sampled_from(NAMES)
SLOTS = {
    "name": mostly(names),
    "names": mostly(st.lists(names, max_size=4)),
    "func": mostly(callables),
    "meta": mostly(st.one_of(st.none(), st.dictionaries(st.text(max_size=3), scalars, max_size=2))),
    "ctx": mostly(contexts),
    "flag": mostly(st.booleans()),
    "tr": mostly(transitions()),
    "spec": mostly(specs),
    "specs": mostly(st.lists(specs, max_size=4)),
    "mode": mostly(st.sampled_from(list(fs.ExecutionMode))),
    "registry": mostly(st.builds(fs.ActionRegistry)),
    "items": mostly(st.lists(st.tuples(transitions(), contexts), max_size=3)),
    "any": anything,
}

# name: (slots, fn(world, *args)). Async entry points run to completion in a fresh loop.
ENTRY_POINTS: dict[str, tuple[tuple[str, ...], Any]] = {
    "register": (("name", "func", "meta"), lambda w, n, f, m: w.reg.register(n, f, m)),
    "decorator": (("name", "func"), lambda w, n, f: w.reg.decorator(n)(f)),
    "unregister": (("name",), lambda w, n: w.reg.unregister(n)),
    "get": (("name",), lambda w, n: w.reg.get(n)),
    "has": (("name",), lambda w, n: w.reg.has(n)),
    "contains": (("name",), lambda w, n: n in w.reg),
    "get_metadata": (("name",), lambda w, n: w.reg.get_metadata(n)),
    "is_async": (("name",), lambda w, n: w.reg.is_async(n)),
    "reg.execute": (("name", "ctx", "flag"), lambda w, n, c, r: w.reg.execute(n, c, r)),
    "reg.execute_all": (("names", "ctx", "flag"), lambda w, n, c, s: w.reg.execute_all(n, c, s)),
    "reg.async_execute": (
        ("name", "ctx", "flag"),
        lambda w, n, c, r: _run(lambda: w.reg.async_execute(n, c, r)),
    ),
    "reg.async_execute_all": (
        ("names", "ctx", "flag"),
        lambda w, n, c, s: _run(lambda: w.reg.async_execute_all(n, c, s)),
    ),
    "list_actions": ((), lambda w: w.reg.list_actions()),
    "clear": ((), lambda w: w.reg.clear()),
    "ActionExecutor": (
        ("registry", "flag", "flag", "mode", "flag"),
        lambda w, r, s, lg, m, st_: fs.ActionExecutor(r, s, lg, m, st_),
    ),
    "set_registry": (("registry",), lambda w, r: setattr(w.ex, "registry", r)),
    "set_flags": (
        ("flag", "flag", "flag"),
        lambda w, a, b, c: (
            setattr(w.ex, "stop_on_error", a),
            setattr(w.ex, "strict", b),
            setattr(w.ex, "log_execution", c),
        ),
    ),
    "set_default_mode": (("mode",), lambda w, m: setattr(w.ex, "default_mode", m)),
    "ex.execute": (("tr", "ctx"), lambda w, t, c: w.ex.execute(t, c)),
    "ex.execute_many": (("items",), lambda w, items: w.ex.execute_many(items)),
    "ex.execute_specific": (("names", "ctx"), lambda w, n, c: w.ex.execute_specific(n, c)),
    "ex.validate_actions_exist": (("tr",), lambda w, t: w.ex.validate_actions_exist(t)),
    "ex.execute_action_spec": (("spec", "ctx"), lambda w, s, c: w.ex.execute_action_spec(s, c)),
    "ex.execute_action_specs": (("specs", "ctx"), lambda w, s, c: w.ex.execute_action_specs(s, c)),
    "ex.async_execute": (("tr", "ctx"), lambda w, t, c: _run(lambda: w.ex.async_execute(t, c))),
    "ex.async_execute_parallel": (
        ("tr", "ctx"),
        lambda w, t, c: _run(lambda: w.ex.async_execute_parallel(t, c)),
    ),
    "ex.async_execute_phased": (
        ("tr", "ctx"),
        lambda w, t, c: _run(lambda: w.ex.async_execute_phased(t, c)),
    ),
    "ex.async_execute_with_mode": (
        ("tr", "ctx", "mode"),
        lambda w, t, c, m: _run(lambda: w.ex.async_execute_with_mode(t, c, m)),
    ),
    "ex.async_execute_specific_parallel": (
        ("names", "ctx"),
        lambda w, n, c: _run(lambda: w.ex.async_execute_specific_parallel(n, c)),
    ),
    "ex.async_execute_action_spec": (
        ("spec", "ctx"),
        lambda w, s, c: _run(lambda: w.ex.async_execute_action_spec(s, c)),
    ),
    "ex.async_execute_action_specs_parallel": (
        ("specs", "ctx"),
        lambda w, s, c: _run(lambda: w.ex.async_execute_action_specs_parallel(s, c)),
    ),
    "ex.async_execute_many": (
        ("items",),
        lambda w, items: _run(lambda: w.ex.async_execute_many(items)),
    ),
    "ActionSpec": (("name", "any", "any", "any", "any", "any"), lambda w, *a: fs.ActionSpec(*a)),
    "ActionSpec.from_config": (("any",), lambda w, c: fs.ActionSpec.from_config(c)),
    "ActionSpec ops": (
        ("spec", "any"),
        lambda w, s, o: (
            (repr(s), s == o, hash(s), s.is_effect, s.has_params)
            if isinstance(s, fs.ActionSpec)
            else None
        ),
    ),
    "TransitionResult": (
        ("flag", "any", "any", "any", "specs", "specs", "specs"),
        lambda w, *a: fs.TransitionResult(*a),
    ),
    "TransitionResult.success_result": (
        ("any", "any", "any", "specs", "specs", "specs"),
        lambda w, *a: fs.TransitionResult.success_result(*a),
    ),
    "TransitionResult.failure_result": (
        ("any", "any", "any", "meta"),
        lambda w, *a: fs.TransitionResult.failure_result(*a),
    ),
    "TransitionResult.no_op_result": (
        ("any", "any", "meta"),
        lambda w, *a: fs.TransitionResult.no_op_result(*a),
    ),
    "TransitionResult props": (
        ("tr",),
        lambda w, t: (
            (
                t.all_action_specs,
                t.all_actions,
                t.is_self_transition,
                t.state_changed,
                repr(t),
                hash(t),
            )
            if isinstance(t, fs.TransitionResult)
            else None
        ),
    ),
    "ActionResult": (("flag", "name", "any", "any", "any"), lambda w, *a: fs.ActionResult(*a)),
    "ActionResult.ok/fail/skipped": (
        ("name", "any"),
        lambda w, n, v: (
            fs.ActionResult.ok(n, v),
            fs.ActionResult.fail(n, v),
            fs.ActionResult.skipped(n, v),
        ),
    ),
    "ActionResult ops": (("any", "any", "any"), lambda w, a, b, c: _result_ops(a, b, c)),
    "ExecutionResult": (
        ("tr", "any", "mode", "any", "any"),
        lambda w, *a: _execution_result_ops(fs.ExecutionResult(*a)),
    ),
    "is_transient_error": (("any",), lambda w, e: fs.is_transient_error(e)),
    "_complete (private)": (("any",), lambda w, e: fs_actions._complete(e)),
}
# Entry points of the executor: an action's own Exception never escapes them.
EXECUTOR_ENTRIES = {e for e in ENTRY_POINTS if e.startswith("ex.")}


def _result_ops(a, b, c):
    r = fs.ActionResult(True, "a")
    r.success, r.result, r.error = a, b, c
    return repr(r), r == r, r.is_skipped


def _execution_result_ops(er):
    return (
        er.all_succeeded,
        er.failed_actions,
        er.succeeded_actions,
        er.action_count,
        er.duration_ms,
        repr(er),
    )


# ---------------------------------------------------------------------------
# The property
# ---------------------------------------------------------------------------


class World:
    def __init__(self):
        self.reg = fs.ActionRegistry()
        self.ex = fs.ActionExecutor(self.reg)
        for kind in ("ok", "fail", "flaky", "aok", "afail", "asusp", "odd_await"):
            self.reg.register(kind, make_callable(kind))


def safe_repr(obj) -> str:
    try:
        text = repr(obj)
    except BaseException:  # noqa: BLE001
        text = f"<{type(obj).__name__} with failing repr>"
    return text[:300]


OUTCOMES: collections.Counter = collections.Counter()
FIRST_MESSAGE: dict = {}
STATS = {"examples": 0, "calls": 0}
LAST_CALL_FD: int | None = None
UNRAISABLE: list[str] = []
#: oracles switched off with --allow (to look past a known bug while it is open)
ALLOW: set[str] = set()


def _note_call(text: str) -> None:
    if LAST_CALL_FD is not None:
        data = text.encode("utf-8", "backslashreplace")[:4000].ljust(4096)
        os.pwrite(LAST_CALL_FD, data, 0)


def _unraisable_hook(unraisable):
    name = type(unraisable.exc_value).__name__
    if name in ("PanicException", "SystemError") or (
        unraisable.exc_value is not None and not isinstance(unraisable.exc_value, Exception)
    ):
        UNRAISABLE.append(f"{name}: {unraisable.exc_value!r} ({unraisable.err_msg})")


def _call(entry):
    slots, _fn = ENTRY_POINTS[entry]
    return st.tuples(st.just(entry), st.tuples(*[SLOTS[slot] for slot in slots]))


calls_strategy = st.lists(
    st.sampled_from(sorted(ENTRY_POINTS)).flatmap(_call), min_size=1, max_size=6
)


#: self-test of the harness: crash the child (segfault) at this call number
CRASH_AT = int(os.environ.get("RELIABILITY_FUZZ_SELFTEST_CRASH_AT", "0") or 0)


def check_program(program):
    STATS["examples"] += 1
    world = World()
    for entry, args in program:
        _slots, fn = ENTRY_POINTS[entry]
        STATS["calls"] += 1
        _note_call(f"{entry}({', '.join(safe_repr(a) for a in args)})")
        if CRASH_AT and STATS["calls"] == CRASH_AT:
            import ctypes

            ctypes.string_at(0)  # segfault on purpose
        try:
            fn(world, *args)
            OUTCOMES[(entry, "ok")] += 1
        except Exception as exc:  # noqa: BLE001 - the point of the fuzz
            name = type(exc).__name__
            OUTCOMES[(entry, name)] += 1
            FIRST_MESSAGE.setdefault((entry, name), safe_repr(exc)[:150])
            if name in ("PanicException", "SystemError"):
                raise AssertionError(f"{entry}: {name}: {exc}") from exc
            if isinstance(exc, (TypeError, ValueError)) and not str(exc).strip():
                raise AssertionError(f"{entry}: {name} with an empty message") from exc
            if (
                isinstance(exc, ActionBoom)
                and entry in EXECUTOR_ENTRIES
                and "action-escape" not in ALLOW
            ):
                raise AssertionError(
                    f"{entry}: the action's own {exc!r} escaped the executor"
                ) from exc
        except BaseException as exc:  # noqa: BLE001
            raise AssertionError(f"{entry}: a {type(exc).__name__} escaped: {exc!r}") from exc
        if UNRAISABLE:
            problems = list(UNRAISABLE)
            UNRAISABLE.clear()
            raise AssertionError(f"{entry}: unraisable {problems}")
    # the registry's views agree
    listed = world.reg.list_actions()
    assert len(listed) == len(set(listed)) == len(world.reg), listed
    for name in listed:
        assert name in world.reg and world.reg.has(name), name


def main(argv=None):
    global LAST_CALL_FD
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--last-call", default=None)
    parser.add_argument("--allow", action="append", default=[], help="e.g. action-escape")
    args = parser.parse_args(argv)
    ALLOW.update(args.allow)
    if args.last_call:
        LAST_CALL_FD = os.open(args.last_call, os.O_RDWR | os.O_CREAT, 0o600)

    # Retry sleeps must not really sleep (backoffs are fuzzed up to 1e100 s).
    import time

    real_sleep = asyncio.sleep
    time.sleep = lambda seconds: None

    async def fast_sleep(delay, result=None):
        return await real_sleep(0, result)

    asyncio.sleep = fast_sleep
    # Logging runs (the executors log failures) and formats into a buffer.
    logging.raiseExceptions = False
    handler = logging.StreamHandler(io.StringIO())
    for name in ("ferrostator", "asyncio"):
        log = logging.getLogger(name)
        log.addHandler(handler)
        log.propagate = False
    sys.unraisablehook = _unraisable_hook

    test = settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        derandomize=args.seed is None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )(given(calls_strategy)(check_program))
    if args.seed is not None:
        test = hseed(args.seed)(test)
    test()
    print(f"FUZZ OK {STATS['examples']} {STATS['calls']}")
    for (entry, outcome), n in sorted(OUTCOMES.items()):
        example = FIRST_MESSAGE.get((entry, outcome), "")
        print(f"  {n:7d}  {entry} -> {outcome}  {example}")


if __name__ == "__main__":
    main()
