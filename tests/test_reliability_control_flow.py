"""Reliability: control flow. Only ``Exception`` subclasses raised by an action become
failed results; KeyboardInterrupt, SystemExit, GeneratorExit and
asyncio.CancelledError propagate, in the sync, async sequential, parallel and phased
paths (and the registry's own entry points). Cancelling an execution while its
actions are suspended cancels those actions, leaves no pending Task, no "Task was
destroyed but it is pending", no "coroutine ... was never awaited", and no params key
in the context.

Every expectation is checked against pystator too (``impl``).
"""

from __future__ import annotations

import asyncio

import _reliability as R
import pytest

_FRESH_LOOP = pytest.mark.thread_unsafe(
    reason="R.run_in_fresh_loop swaps sys.unraisablehook and records warnings, both process-wide"
)

BASE_EXCEPTIONS = [KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError]

# entry point -> how to call it (executor, registry, ns, spec, tr, ctx) -> awaitable or value
SYNC_PATHS = {
    "executor.execute": lambda ex, reg, ns, spec, tr, ctx: ex.execute(tr, ctx),
    "executor.execute_action_spec": lambda ex, reg, ns, spec, tr, ctx: ex.execute_action_spec(
        spec, ctx
    ),
    "executor.execute_action_specs": lambda ex, reg, ns, spec, tr, ctx: ex.execute_action_specs(
        [spec], ctx
    ),
    "executor.execute_specific": lambda ex, reg, ns, spec, tr, ctx: ex.execute_specific(
        [spec.name], ctx
    ),
    "registry.execute": lambda ex, reg, ns, spec, tr, ctx: reg.execute(spec.name, ctx),
    "registry.execute_all": lambda ex, reg, ns, spec, tr, ctx: reg.execute_all(
        ["ok", spec.name], ctx
    ),
}
ASYNC_PATHS = {
    "async_execute": lambda ex, reg, ns, spec, tr, ctx: ex.async_execute(tr, ctx),
    "async_execute_parallel": lambda ex, reg, ns, spec, tr, ctx: ex.async_execute_parallel(tr, ctx),
    "async_execute_phased": lambda ex, reg, ns, spec, tr, ctx: ex.async_execute_phased(tr, ctx),
    "async_execute_action_spec": lambda ex, reg, ns, spec, tr, ctx: ex.async_execute_action_spec(
        spec, ctx
    ),
    "async_execute_action_specs_parallel": lambda ex, reg, ns, spec, tr, ctx: (
        ex.async_execute_action_specs_parallel([ns.ActionSpec("ok"), spec], ctx)
    ),
    "async_execute_specific_parallel": lambda ex, reg, ns, spec, tr, ctx: (
        ex.async_execute_specific_parallel(["ok", spec.name], ctx)
    ),
    "registry.async_execute": lambda ex, reg, ns, spec, tr, ctx: reg.async_execute(spec.name, ctx),
    "registry.async_execute_all": lambda ex, reg, ns, spec, tr, ctx: reg.async_execute_all(
        ["ok", spec.name], ctx
    ),
}


def _setup(ns, action):
    reg = ns.ActionRegistry()
    ex = ns.ActionExecutor(reg, log_execution=False)
    reg.register("ok", lambda ctx: "ok")
    reg.register("x", action)
    spec = ns.ActionSpec("x", params={"p": 1})
    tr = R.tr_of(ns, on_exit=("ok",), actions=(spec,), on_enter=("ok",))
    return reg, ex, spec, tr


def _raiser(kind, exc):
    if kind == "sync":

        def action(ctx):
            raise exc

    elif kind == "async":

        async def action(ctx):
            raise exc

    else:

        async def action(ctx):
            await asyncio.sleep(0)
            raise exc

    return action


@pytest.mark.parametrize("exc_type", BASE_EXCEPTIONS, ids=lambda e: e.__name__)
@pytest.mark.parametrize("path", list(SYNC_PATHS))
def test_base_exceptions_propagate_from_sync_paths(impl, path, exc_type):
    exc = exc_type("boom")
    reg, ex, spec, tr = _setup(impl, _raiser("sync", exc))
    ctx: dict = {}
    with pytest.raises(exc_type) as info:
        SYNC_PATHS[path](ex, reg, impl, spec, tr, ctx)
    assert info.value is exc
    assert R.PARAMS_KEY not in ctx


@_FRESH_LOOP
@pytest.mark.parametrize("exc_type", BASE_EXCEPTIONS, ids=lambda e: e.__name__)
@pytest.mark.parametrize("kind", ["sync", "async", "async-suspending"])
@pytest.mark.parametrize("path", list(ASYNC_PATHS))
def test_base_exceptions_propagate_from_async_paths(impl, path, kind, exc_type):
    exc = exc_type("boom")
    reg, ex, spec, tr = _setup(impl, _raiser(kind, exc))
    ctx: dict = {}

    async def main():
        return await ASYNC_PATHS[path](ex, reg, impl, spec, tr, ctx)

    value, error, _report = R.run_in_fresh_loop(main, collect=False)
    assert error is not None, f"{path} returned {value!r} instead of raising"
    assert isinstance(error, exc_type), repr(error)
    assert R.PARAMS_KEY not in ctx


class Custom(Exception):
    pass


# Async actions do not run on sync entry points; a coroutine cannot raise
# StopIteration (Python turns it into RuntimeError): those pairings are left out.
FAILURE_CASES = [
    (path, kind, exc_type)
    for path in list(ASYNC_PATHS) + list(SYNC_PATHS)
    for kind in ("sync", "async", "async-suspending")
    for exc_type in (ValueError, Custom, RecursionError, StopIteration)
    if not (path in SYNC_PATHS and kind != "sync")
    and not (kind != "sync" and exc_type is StopIteration)
]


@_FRESH_LOOP
@pytest.mark.parametrize("path,kind,exc_type", FAILURE_CASES)
def test_exceptions_become_failed_results(impl, path, kind, exc_type):
    exc = exc_type("boom")
    reg, ex, spec, tr = _setup(impl, _raiser(kind, exc))
    ctx: dict = {}

    async def main():
        return await ASYNC_PATHS[path](ex, reg, impl, spec, tr, ctx)

    if path in SYNC_PATHS:
        value = SYNC_PATHS[path](ex, reg, impl, spec, tr, ctx)
    else:
        value, error, report = R.run_in_fresh_loop(main, collect=False)
        assert error is None, repr(error)
        assert report.problems() == []
    results = value.action_results if hasattr(value, "action_results") else value
    results = results if isinstance(results, list) else [results]
    failed = [r for r in results if r.action_name == "x"]
    assert len(failed) == 1 and failed[0].success is False
    assert failed[0].error is exc
    assert R.PARAMS_KEY not in ctx


# ---------------------------------------------------------------------------
# Cancellation while actions are suspended
# ---------------------------------------------------------------------------

CANCEL_MODES = [
    "async_execute",
    "async_execute_parallel",
    "async_execute_phased",
    "async_execute_action_specs_parallel",
    "async_execute_specific_parallel",
]


def _cancel_setup(ns, variant):
    """A registry whose async actions record start / cancellation / finally, plus a
    sync action and (variant "retry") an action sleeping between retries."""
    reg = ns.ActionRegistry()
    ex = ns.ActionExecutor(reg, log_execution=False)
    events: list = []
    attempts = {"flaky": 0}

    def waiter(name):
        async def action(ctx):
            events.append(("start", name))
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                events.append(("cancelled", name))
                raise
            finally:
                events.append(("finally", name))
            return name

        return action

    async def flaky(ctx):
        attempts["flaky"] += 1
        raise ConnectionError("try again")

    for n in ("w1", "w2", "w3"):
        reg.register(n, waiter(n))
    reg.register("flaky", flaky)
    reg.register("sync", lambda ctx: events.append(("sync",)))
    kw = {"timeout": 60} if variant == "timeout" else {}
    specs = {n: ns.ActionSpec(n, params={"who": n}, **kw) for n in ("w1", "w2", "w3")}
    exit_ = (specs["w1"], ns.ActionSpec("sync"))
    actions = (specs["w2"],)
    if variant == "retry":
        actions = (
            ns.ActionSpec("flaky", params={"who": "flaky"}, retry=5, retry_backoff=30),
        ) + actions
    enter = (specs["w3"],)
    tr = R.tr_of(ns, actions=actions, on_exit=exit_, on_enter=enter)
    return reg, ex, tr, specs, events, attempts


def _start(ex, ns, mode, tr, specs, ctx):
    if mode == "async_execute_action_specs_parallel":
        return ex.async_execute_action_specs_parallel(list(specs.values()), ctx)
    if mode == "async_execute_specific_parallel":
        return ex.async_execute_specific_parallel(list(specs), ctx)
    return getattr(ex, mode)(tr, ctx)


@_FRESH_LOOP
@pytest.mark.parametrize("variant", ["plain", "timeout", "retry"])
@pytest.mark.parametrize("mode", CANCEL_MODES)
def test_cancelling_a_suspended_execution(impl, mode, variant):
    reg, ex, tr, specs, events, attempts = _cancel_setup(impl, variant)
    ctx = {"user": 1}
    outcome = {}

    async def main():
        task = asyncio.ensure_future(_start(ex, impl, mode, tr, specs, ctx))
        for _ in range(10):
            await asyncio.sleep(0)
        assert not task.done()
        started = [e[1] for e in events if e[0] == "start"]
        outcome["started"] = started
        outcome["params_while_suspended"] = ctx.get(R.PARAMS_KEY, "absent")
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            outcome["cancelled"] = True
        tries = attempts["flaky"]
        for _ in range(10):
            await asyncio.sleep(0)
        outcome["more_attempts_after_cancel"] = attempts["flaky"] - tries

    _value, error, report = R.run_in_fresh_loop(main)
    assert error is None, repr(error)
    assert outcome.get("cancelled") is True
    started = outcome["started"]
    assert started, "no action had started"
    for name in started:
        assert ("cancelled", name) in events, events
        assert ("finally", name) in events, events
    assert outcome["more_attempts_after_cancel"] == 0
    assert report.problems() == []
    assert ctx == {"user": 1}


@_FRESH_LOOP
@pytest.mark.parametrize("mode", CANCEL_MODES)
def test_cancelling_before_the_first_step(impl, mode):
    """Cancelled before it ever ran: nothing starts, nothing is left behind."""
    reg, ex, tr, specs, events, _ = _cancel_setup(impl, "plain")
    ctx = {"user": 1}

    async def main():
        task = asyncio.ensure_future(_start(ex, impl, mode, tr, specs, ctx))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    _value, error, report = R.run_in_fresh_loop(main)
    assert error is None, repr(error)
    assert events == []
    assert report.problems() == []
    assert ctx == {"user": 1}


@_FRESH_LOOP
@pytest.mark.parametrize(
    "mode", ["async_execute", "async_execute_parallel", "async_execute_phased"]
)
def test_wait_for_timeout_cancels_nested_batches(impl, mode):
    """asyncio.wait_for around an execution whose action itself runs a nested parallel
    batch: the timeout cancels the whole tree."""
    reg, ex, tr, specs, events, _ = _cancel_setup(impl, "plain")
    inner_tr = R.tr_of(impl, actions=(specs["w2"], specs["w3"]))

    async def nester(ctx):
        events.append(("start", "nester"))
        try:
            return await ex.async_execute_parallel(inner_tr, ctx)
        except asyncio.CancelledError:
            events.append(("cancelled", "nester"))
            raise

    reg.register("nester", nester)
    outer_tr = R.tr_of(
        impl, actions=(impl.ActionSpec("nester", params={"who": "nester"}), specs["w1"])
    )
    ctx = {"user": 1}

    async def main():
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await asyncio.wait_for(getattr(ex, mode)(outer_tr, ctx), 0.05)

    _value, error, report = R.run_in_fresh_loop(main)
    assert error is None, repr(error)
    started = [e[1] for e in events if e[0] == "start"]
    assert "nester" in started and "w2" in started
    for name in started:
        assert ("cancelled", name) in events, events
    assert report.problems() == []
    assert ctx == {"user": 1}


@_FRESH_LOOP
@pytest.mark.parametrize("mode", ["async_execute", "async_execute_action_spec"])
def test_closing_a_suspended_coroutine(impl, mode):
    """coroutine.close() on a suspended sequential execution (what happens when a
    suspended coroutine is dropped) throws GeneratorExit into the suspended action:
    its ``finally`` runs and the params key is gone; nothing is reported afterwards.
    (Closing a parallel batch's coroutine abandons its gather: asyncio itself then
    reports "_GatheringFuture exception was never retrieved", in both
    implementations; cancel the Task instead, as the tests above do.)"""
    reg, ex, tr, specs, events, _ = _cancel_setup(impl, "plain")
    ctx = {"user": 1}

    async def main():
        coro = (
            ex.async_execute(tr, ctx)
            if mode == "async_execute"
            else ex.async_execute_action_spec(specs["w1"], ctx)
        )
        fut = coro.send(None)  # runs up to the first suspension
        assert fut is not None
        coro.close()

    _value, error, report = R.run_in_fresh_loop(main)
    assert error is None, repr(error)
    assert ("finally", "w1") in events
    assert report.problems() == []
    assert ctx == {"user": 1}


class ContextFailingOnResume(dict):
    """A context (dict subclass) whose params-key writes fail from the second one on:
    the first write is the executor setting the action's params before the call. A
    second write would be ferrostator putting the params back as a suspended action
    resumes (its params isolation), which it does for exact dicts only."""

    def __init__(self, exc):
        super().__init__()
        self.exc = exc
        self.writes = 0

    def __setitem__(self, key, value):
        if key == R.PARAMS_KEY:
            self.writes += 1
            if self.writes >= 2:
                raise self.exc
        super().__setitem__(key, value)


@_FRESH_LOOP
@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, ValueError])
@pytest.mark.parametrize(
    "mode", ["async_execute", "async_execute_parallel", "async_execute_phased"]
)
def test_dict_subclass_contexts_see_only_pystators_params_writes(fs, mode, exc_type):
    """Params isolation reads and writes the key around every step of a suspended
    action; for a dict subclass (whose __setitem__ may run code, log, or refuse) that
    would be observable, so such contexts get exactly pystator's writes: one set
    before the call, one pop after it — nothing while the action is suspended, and no
    error can be swallowed on a resume."""
    reg = fs.ActionRegistry()
    ex = fs.ActionExecutor(reg, log_execution=False)
    seen = []

    async def action(ctx):
        await asyncio.sleep(0)
        seen.append(dict.get(ctx, R.PARAMS_KEY))
        return "done"

    reg.register("a", action)
    tr = R.tr_of(fs, actions=(fs.ActionSpec("a", params={"p": 1}),))
    ctx = ContextFailingOnResume(exc_type("context refused"))

    async def main():
        return await getattr(ex, mode)(tr, ctx)

    value, error, report = R.run_in_fresh_loop(main, collect=False)
    assert report.unraisable == [], f"swallowed as unraisable: {report.unraisable}"
    assert error is None, repr(error)
    result = value.action_results[0]
    assert result.success is True and result.result == "done", result
    assert seen == [{"p": 1}]
    assert ctx.writes == 1
    assert R.PARAMS_KEY not in ctx
