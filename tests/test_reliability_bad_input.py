"""Reliability: bad input and reachable Rust panics.

Every public entry point fed the wrong thing answers with an ordinary Python
exception (TypeError / ValueError, or the error of the user's own object) whose
message names the problem; never a segfault, a SystemError or a pyo3 PanicException
(a BaseException: ``except Exception`` does not catch it). The randomized version of
this is test_reliability_fuzz.py; here are the cases one by one, so a failure points
straight at the culprit.
"""

from __future__ import annotations

import asyncio
import math
import pickle
import re
import types
from pathlib import Path

import _reliability as R
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _fs_world(fs):
    reg = fs.ActionRegistry()
    ex = fs.ActionExecutor(reg, log_execution=False)
    reg.register("ok", lambda ctx: "ok")
    return reg, ex


def _spec_like(**fields):
    """A foreign spec object (read through its attributes, as pystator's are)."""
    base = dict(name="ok", has_params=False, params={}, timeout=None, retry=0, retry_backoff=1.0)
    base.update(fields)
    return types.SimpleNamespace(**{k: v for k, v in base.items() if v is not _MISSING})


_MISSING = object()


# (call, expected exception type, regex the message must match)
CASES = {
    "register: int name": (
        lambda reg, ex, fs: reg.register(123, lambda c: 1),
        TypeError,
        r"name must be a str, got int",
    ),
    "register: bytes name": (
        lambda reg, ex, fs: reg.register(b"x", lambda c: 1),
        TypeError,
        r"name must be a str, got bytes",
    ),
    "register: empty name": (
        lambda reg, ex, fs: reg.register("", lambda c: 1),
        ValueError,
        r"name cannot be empty",
    ),
    "register: None func": (
        lambda reg, ex, fs: reg.register("x", None),
        TypeError,
        r"'x' must be callable, got NoneType",
    ),
    "register: str func": (
        lambda reg, ex, fs: reg.register("x", "ok"),
        TypeError,
        r"'x' must be callable, got str",
    ),
    "register: list metadata": (
        lambda reg, ex, fs: reg.register("x", lambda c: 1, [1]),
        TypeError,
        r"metadata must be a dict or None, got list",
    ),
    "register: duplicate": (
        lambda reg, ex, fs: reg.register("ok", lambda c: 1),
        ValueError,
        r"'ok' is already registered",
    ),
    "unregister: None": (
        lambda reg, ex, fs: reg.unregister(None),
        TypeError,
        r"name must be a str, got NoneType",
    ),
    "get: float": (
        lambda reg, ex, fs: reg.get(math.nan),
        TypeError,
        r"name must be a str, got float",
    ),
    "execute: int name": (
        lambda reg, ex, fs: reg.execute(1, {}),
        TypeError,
        r"name must be a str, got int",
    ),
    "execute_all: int": (
        lambda reg, ex, fs: reg.execute_all(5, {}),
        TypeError,
        r"'int' object is not iterable",
    ),
    "execute_all: int item": (
        lambda reg, ex, fs: reg.execute_all([5], {}),
        TypeError,
        r"name must be a str, got int",
    ),
    "ActionExecutor: registry None": (
        lambda reg, ex, fs: fs.ActionExecutor(None),
        TypeError,
        r"registry must be a ferrostator.actions.ActionRegistry or .*, got NoneType",
    ),
    "executor.registry = dict": (
        lambda reg, ex, fs: setattr(ex, "registry", {}),
        TypeError,
        r"registry must be a ferrostator.actions.ActionRegistry or .*, got dict",
    ),
    "execute: None transition": (
        lambda reg, ex, fs: ex.execute(None, {}),
        TypeError,
        r"transition_result must have a 'success' attribute, got NoneType",
    ),
    "execute: transition without specs": (
        lambda reg, ex, fs: ex.execute(types.SimpleNamespace(success=True), {}),
        TypeError,
        r"transition_result must have a 'all_action_specs' attribute",
    ),
    "execute: specs not a tuple": (
        lambda reg, ex, fs: ex.execute(types.SimpleNamespace(success=True, all_action_specs=5), {}),
        TypeError,
        r"all_action_specs must be a tuple of ActionSpec, got int",
    ),
    "execute: spec is an int": (
        lambda reg, ex, fs: ex.execute(
            fs.TransitionResult(True, "a", "b", "t", actions_to_execute=(7,)), {}
        ),
        TypeError,
        r"action spec must have a 'name' attribute, got int",
    ),
    "execute: spec without retry": (
        lambda reg, ex, fs: ex.execute_action_spec(_spec_like(retry=_MISSING), {}),
        TypeError,
        r"action spec must have a 'retry' attribute",
    ),
    "execute: spec with str retry": (
        lambda reg, ex, fs: ex.execute_action_spec(_spec_like(retry="3"), {}),
        TypeError,
        r"retry must be an int, got str",
    ),
    "execute: spec with float retry": (
        lambda reg, ex, fs: ex.execute_action_spec(_spec_like(retry=2.0), {}),
        TypeError,
        r"retry must be an int, got float",
    ),
    "execute: spec with NaN backoff": (
        lambda reg, ex, fs: ex.execute_action_spec(_spec_like(retry=1, retry_backoff=math.nan), {}),
        ValueError,
        r"retry_backoff must not be NaN",
    ),
    "execute: spec with int name": (
        lambda reg, ex, fs: ex.execute_action_spec(_spec_like(name=3), {}),
        TypeError,
        r"name must be a str, got int",
    ),
    "async: spec with NaN timeout": (
        lambda reg, ex, fs: asyncio.run(
            ex.async_execute_action_spec(_spec_like(timeout=math.nan), {})
        ),
        ValueError,
        r"timeout must not be NaN",
    ),
    "async: spec with str timeout": (
        lambda reg, ex, fs: asyncio.run(ex.async_execute_action_spec(_spec_like(timeout="1"), {})),
        TypeError,
        r"timeout must be an int or float, got str",
    ),
    "execute_many: not pairs": (
        lambda reg, ex, fs: ex.execute_many([1]),
        TypeError,
        r"execute_many item must be a \(transition_result, context\) pair, got int",
    ),
    "execute_specific: None item": (
        lambda reg, ex, fs: ex.execute_specific([None], {}),
        TypeError,
        r"name must be a str, got NoneType",
    ),
    "ActionSpec: int name": (
        lambda reg, ex, fs: fs.ActionSpec(1),
        TypeError,
        r"ActionSpec.name must be a str, got int",
    ),
    "ActionSpec: no name": (
        lambda reg, ex, fs: fs.ActionSpec(),
        ValueError,
        r"must have a 'name' or 'effect'",
    ),
    "ActionSpec: list params": (
        lambda reg, ex, fs: fs.ActionSpec("a", params=[1]),
        TypeError,
        r"params must be a dict, got list",
    ),
    "ActionSpec: float retry": (
        lambda reg, ex, fs: fs.ActionSpec("a", retry=1.5),
        TypeError,
        r"ActionSpec.retry must be an int, got float",
    ),
    "ActionSpec: None retry": (
        lambda reg, ex, fs: fs.ActionSpec("a", retry=None),
        TypeError,
        r"ActionSpec.retry must be an int, got NoneType",
    ),
    "ActionSpec: NaN timeout": (
        lambda reg, ex, fs: fs.ActionSpec("a", timeout=math.nan),
        ValueError,
        r"ActionSpec.timeout must not be NaN",
    ),
    "ActionSpec: NaN backoff": (
        lambda reg, ex, fs: fs.ActionSpec("a", retry_backoff=math.nan),
        ValueError,
        r"retry_backoff must not be NaN",
    ),
    "ActionSpec: str timeout": (
        lambda reg, ex, fs: fs.ActionSpec("a", timeout="5"),
        TypeError,
        r"ActionSpec.timeout must be an int or float, got str",
    ),
    "ActionSpec: bool backoff": (
        lambda reg, ex, fs: fs.ActionSpec("a", retry_backoff=True),
        TypeError,
        r"retry_backoff must be an int or float, got bool",
    ),
    "ActionSpec.from_config: int": (
        lambda reg, ex, fs: fs.ActionSpec.from_config(5),
        ValueError,
        r"Invalid action config: 5",
    ),
    "ActionSpec.from_config: bad set": (
        lambda reg, ex, fs: fs.ActionSpec.from_config({"set": 1}),
        ValueError,
        r"'set' effect requires a mapping",
    ),
    "TransitionResult: int actions": (
        lambda reg, ex, fs: fs.TransitionResult(True, "a", "b", "t", actions_to_execute=3),
        TypeError,
        r"actions_to_execute must be a tuple of ActionSpec, got int",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_raises_a_clear_python_error(fs, case):
    call, exc_type, pattern = CASES[case]
    reg, ex = _fs_world(fs)
    with pytest.raises(exc_type, match=pattern):
        call(reg, ex, fs)


@pytest.mark.parametrize("value", [math.inf, -1, 0, 10**100, 2**64, -(10**100)], ids=repr)
def test_odd_but_valid_numbers_are_accepted(impl, value):
    """Infinite, negative, zero and huge numbers are valid timeouts / backoffs /
    retry counts in pystator: accepted at construction, like pystator does."""
    impl.ActionSpec("a", timeout=value)
    impl.ActionSpec("a", retry_backoff=value)
    if isinstance(value, int):
        impl.ActionSpec("a", retry=value)


@pytest.mark.parametrize("context", [None, 5, "ctx", [], (), types.MappingProxyType({})], ids=repr)
@pytest.mark.parametrize("with_params", [False, True])
def test_odd_contexts_reach_the_action_or_fail_its_result(impl, context, with_params):
    """The context is handed to the action as it is; a context that cannot take
    the params key gives a failed result (pystator's ``except Exception``), never a
    crash, in the sync and async paths."""
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg, log_execution=False)
    seen = []
    reg.register("see", lambda ctx: seen.append(ctx) or "seen")

    async def asee(ctx):
        seen.append(ctx)
        return "seen"

    reg.register("asee", asee)
    params = {"p": 1} if with_params else {}
    tr = R.tr_of(impl, actions=(impl.ActionSpec("see", params=params),))
    atr = R.tr_of(impl, actions=(impl.ActionSpec("asee", params=params),))
    results = [ex.execute(tr, context).action_results[0]]
    for mode in ("async_execute", "async_execute_parallel", "async_execute_phased"):
        results.append(asyncio.run(getattr(ex, mode)(atr, context)).action_results[0])
    for r in results:
        if with_params and not isinstance(context, dict):
            if r.success is False:
                assert isinstance(r.error, Exception)
                continue
        assert r.success is True and r.result == "seen", r
    assert all(s is context for s in seen)


# ---------------------------------------------------------------------------
# Compatibility gaps found while fuzzing (ferrostator fails these, pystator passes)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [1, 0, None, "yes", ""], ids=repr)
def test_raise_on_error_and_stop_on_error_take_any_truthy_value(impl, flag):
    """pystator tests ``if raise_on_error:`` / ``if stop_on_error:``: 1, 0, None and
    strings are valid flags. A strict-bool argument rejects them with
    "'int' object is not an instance of 'bool'", a message that does not even name
    the argument."""
    reg = impl.ActionRegistry()

    def bad(ctx):
        raise ZeroDivisionError("bad")

    reg.register("bad", bad)
    reg.register("ok", lambda ctx: "ok")
    if flag:
        with pytest.raises(ZeroDivisionError):
            reg.execute("bad", {}, flag)
        with pytest.raises(ZeroDivisionError):
            asyncio.run(reg.async_execute("bad", {}, flag))
        assert len(reg.execute_all(["bad", "ok"], {}, flag)) == 1
        assert len(asyncio.run(reg.async_execute_all(["bad", "ok"], {}, flag))) == 1
    else:
        assert reg.execute("bad", {}, flag).success is False
        assert asyncio.run(reg.async_execute("bad", {}, flag)).success is False
        assert len(reg.execute_all(["bad", "ok"], {}, flag)) == 2
        assert len(asyncio.run(reg.async_execute_all(["bad", "ok"], {}, flag))) == 2


def test_names_with_lone_surrogates_are_ordinary_names(impl):
    """Any str is a valid name in pystator, including one with a lone surrogate (it
    can come from os.fsdecode or JSON). Encoding names to UTF-8 for the table makes
    ``in``/``has``/``get_metadata``/``is_async``/``register`` raise
    UnicodeEncodeError instead."""
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg, log_execution=False)
    name = "bad\udc80name"
    assert (name in reg) is False
    assert reg.has(name) is False
    assert reg.get_metadata(name) == {}
    assert reg.is_async(name) is False
    er = ex.execute(R.tr_of(impl, actions=(name,)), {})
    assert er.action_results[0].result == "not_registered"
    reg.register(name, lambda ctx: "ran")
    assert reg.execute(name, {}).result == "ran"
    assert ex.execute(R.tr_of(impl, actions=(name,)), {}).action_results[0].result == "ran"
    reg.unregister(name)
    assert reg.list_actions() == []


class RaisingAwait:
    def __await__(self):
        raise ValueError("cannot await this")


@pytest.mark.parametrize(
    "mode",
    ["async_execute", "async_execute_parallel", "async_execute_phased", "registry.async_execute"],
)
def test_awaitable_whose_await_raises_gives_a_failed_result(fs, mode):
    """ferrostator awaits the awaitable a sync callable returns (a deliberate
    difference from pystator). An Exception raised by that ``await`` belongs to the
    action: it must give a failed result, like any Exception of the action, not
    escape the executor (only BaseExceptions propagate)."""
    reg, ex = _fs_world(fs)
    reg.register("x", lambda ctx: RaisingAwait())
    tr = R.tr_of(fs, actions=(fs.ActionSpec("x", params={"p": 1}), "ok"))
    ctx: dict = {}
    if mode == "registry.async_execute":
        r = asyncio.run(reg.async_execute("x", ctx))
        results = [r]
    else:
        results = asyncio.run(getattr(ex, mode)(tr, ctx)).action_results
        assert [r.action_name for r in results] == ["x", "ok"]
    assert results[0].success is False
    assert isinstance(results[0].error, ValueError)
    assert ctx == {}


# ---------------------------------------------------------------------------
# Rust panics reachable from Python
# ---------------------------------------------------------------------------


def _panic_type():
    import pyo3_runtime  # noqa: F401  # pragma: no cover - exists once a panic happened

    return pyo3_runtime.PanicException


def _is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def _during_drop(obj, attr, probe):
    """Assigns ``attr`` of ``obj`` twice so the second assignment drops the only
    reference to a finalizer-bearing value *while the setter holds its mutable
    borrow*; the finalizer runs ``probe``. Returns what ``probe`` raised (or None)."""
    box: dict = {}

    class Finalizer:
        def __del__(self):
            try:
                probe()
                box["raised"] = None
            except BaseException as exc:  # noqa: BLE001 - inspected by the test
                box["raised"] = exc

    setattr(obj, attr, Finalizer())
    setattr(obj, attr, None)
    assert "raised" in box, "the finalizer did not run"
    return box["raised"]


PROBES = {
    "repr(ActionResult)": ("result", lambda r, er: repr(r)),
    "ActionResult ==": ("result", lambda r, er: r == r),
    "pickle ActionResult": ("result", lambda r, er: pickle.dumps(r)),
    "ExecutionResult.all_succeeded": ("result", lambda r, er: er.all_succeeded),
    "ExecutionResult.failed_actions": ("result", lambda r, er: er.failed_actions),
    "ExecutionResult.succeeded_actions": ("result", lambda r, er: er.succeeded_actions),
    "repr(ExecutionResult)": ("er", lambda r, er: repr(er)),
    "ExecutionResult ==": ("er", lambda r, er: er == er),
    "pickle ExecutionResult": ("er", lambda r, er: pickle.dumps(er)),
}


@pytest.mark.parametrize("probe", list(PROBES))
def test_no_panic_when_a_result_is_read_while_being_assigned(fs, probe):
    """ActionResult and ExecutionResult are mutable pyclasses. Assigning a field
    drops the old value inside the setter's mutable borrow; if that value's
    finalizer (or a GC pass it triggers) reads the same result through repr, ==,
    pickle or ExecutionResult's summaries, the Rust code calls ``.borrow()``, which
    panics ("Already mutably borrowed") instead of raising RuntimeError as the
    generated getters do. A PanicException is a BaseException: ``except Exception``
    does not catch it."""
    target, read = PROBES[probe]
    r = fs.ActionResult(True, "a")
    er = fs.ExecutionResult(None, action_results=[r])
    obj, attr = (r, "result") if target == "result" else (er, "execution_mode")
    raised = _during_drop(obj, attr, lambda: read(r, er))
    assert raised is None or (isinstance(raised, Exception) and not _is_panic(raised)), repr(raised)


def test_no_panic_when_complete_runs_while_a_summary_is_computed(fs):
    """The private ``_complete`` (exported by ferrostator.actions) borrows the result
    mutably with ``borrow_mut()``; called while ``all_succeeded`` iterates (a result
    whose ``success`` is a property), it panics ("Already borrowed")."""
    from ferrostator import actions

    seen: list = []

    class Late:
        @property
        def success(self):
            try:
                actions._complete(er)
            except BaseException as exc:  # noqa: BLE001
                seen.append(exc)
            return True

    er = fs.ExecutionResult(None, action_results=[Late()])
    assert er.all_succeeded is True
    assert not any(_is_panic(e) or not isinstance(e, Exception) for e in seen), seen


# ---------------------------------------------------------------------------
# Static audit of the Rust sources
# ---------------------------------------------------------------------------

# pattern -> why it can panic
PANICKY = {
    r"\.unwrap\(\)": "unwrap() panics on Err/None",
    r"\.expect\(": "expect() panics on Err/None",
    r"\bpanic!\(": "explicit panic",
    r"\bunreachable!\(": "unreachable!() panics",
    r"\btodo!\(|\bunimplemented!\(": "todo!/unimplemented! panic",
    r"\.borrow\(\)": "pyo3 borrow() panics if the object is mutably borrowed (use try_borrow()?)",
    r"\.borrow_mut\(": "pyo3 borrow_mut() panics if the object is borrowed (use try_borrow_mut()?)",
}
# Reviewed exceptions: (file, line text) pairs that cannot panic at run time.
ALLOWED = {
    # evaluated in a `const` initializer: a NUL in prelude.py fails the build
    ("defs.rs", 'Err(_) => panic!("prelude.py must not contain NUL bytes"),'),
}


def _non_test_lines(path: Path):
    """Lines of a Rust file outside ``#[cfg(test)]`` items (brace-matched)."""
    lines = path.read_text().splitlines()
    skip_depth = None
    pending_cfg_test = False
    depth = 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("#[cfg(test)]"):
            pending_cfg_test = True
            continue
        opens, closes = line.count("{"), line.count("}")
        if pending_cfg_test and opens:
            skip_depth = depth
            pending_cfg_test = False
        depth += opens - closes
        if skip_depth is not None:
            if depth <= skip_depth:
                skip_depth = None
            continue
        if stripped.startswith("//"):
            continue
        yield number, line


def test_rust_sources_have_no_panicking_calls_outside_tests():
    """grep rust/*.rs (tests.rs and #[cfg(test)] modules excluded) for calls that
    can panic; every hit is reported with its line."""
    hits = []
    for path in sorted((ROOT / "rust").glob("*.rs")):
        if path.name == "tests.rs":
            continue
        for number, line in _non_test_lines(path):
            for pattern, why in PANICKY.items():
                if re.search(pattern, line) and (path.name, line.strip()) not in ALLOWED:
                    hits.append(f"rust/{path.name}:{number}: {line.strip()}  <- {why}")
    assert hits == [], "\n" + "\n".join(hits)
