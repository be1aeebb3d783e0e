"""ActionExecutor parallel and phased execution: concurrency, ordering, task and
ContextVar isolation, per-action params (a deliberate difference of ferrostator)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import sys
import types

import pytest
from _executor_helpers import VAR, Gate, executor_records
from _reliability import tr_of

# ---------------------------------------------------------------------------
# async_execute_parallel
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_parallel_all_actions_start_before_any_finishes(impl):
    reg = impl.ActionRegistry()
    gate = Gate(3)
    for n in ("a", "b", "c"):
        reg.register(n, gate.action(n))
    res = await impl.ActionExecutor(reg).async_execute_parallel(
        tr_of(impl, ["b"], on_exit=["a"], on_enter=["c"]), {}
    )
    assert [r.result for r in res.action_results] == ["a", "b", "c"]
    assert res.all_succeeded
    assert res.execution_mode is impl.ExecutionMode.PARALLEL
    assert res.started_at <= res.completed_at


@pytest.mark.asyncio
async def test_parallel_results_in_spec_order(impl):
    reg = impl.ActionRegistry()
    finished = []

    def make(label, delay):
        async def act(ctx):
            await asyncio.sleep(delay)
            finished.append(label)
            return label

        return act

    reg.register("slow", make("slow", 0.05))
    reg.register("fast", make("fast", 0))
    reg.register("sync", lambda ctx: finished.append("sync") or "sync")
    res = await impl.ActionExecutor(reg).async_execute_parallel(
        tr_of(impl, ["slow", "fast", "sync"]), {}
    )
    assert finished[-1] == "slow"
    assert [r.action_name for r in res.action_results] == ["slow", "fast", "sync"]
    assert [r.result for r in res.action_results] == ["slow", "fast", "sync"]


@pytest.mark.asyncio
async def test_parallel_failure_does_not_affect_siblings(impl):
    reg = impl.ActionRegistry()

    async def bad(ctx):
        await asyncio.sleep(0)
        raise RuntimeError("bad")

    async def good(ctx):
        await asyncio.sleep(0.01)
        return "good"

    reg.register("bad", bad)
    reg.register("good", good)
    reg.register("sync_bad", lambda ctx: 1 / 0)
    res = await impl.ActionExecutor(reg, stop_on_error=True).async_execute_parallel(
        tr_of(impl, ["bad", "sync_bad", "good"]), {}
    )
    assert [r.success for r in res.action_results] == [False, False, True]
    assert res.failed_actions == ["bad", "sync_bad"]
    assert res.action_results[2].result == "good"


@pytest.mark.asyncio
async def test_parallel_async_actions_run_in_their_own_tasks(impl):
    reg = impl.ActionRegistry()
    tasks = {}

    def make(label):
        async def act(ctx):
            tasks[label] = asyncio.current_task()
            await asyncio.sleep(0)

        return act

    for n in ("a", "b", "c"):
        reg.register(n, make(n))
    await impl.ActionExecutor(reg).async_execute_parallel(tr_of(impl, ["a", "b", "c"]), {})
    me = asyncio.current_task()
    assert len({id(t) for t in tasks.values()}) == 3
    assert all(t is not None and t is not me for t in tasks.values())


@pytest.mark.asyncio
async def test_parallel_context_vars_do_not_leak(impl):
    reg = impl.ActionRegistry()
    seen = {}

    async def setter(ctx):
        seen["setter_before"] = VAR.get()
        VAR.set("async-setter")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen["setter_after"] = VAR.get()

    async def reader(ctx):
        await asyncio.sleep(0)
        seen["async_reader"] = VAR.get()

    def sync_setter(ctx):
        seen["sync_setter_before"] = VAR.get()
        VAR.set("sync-setter")

    def sync_reader(ctx):
        seen["sync_reader"] = VAR.get()

    for name, fn in [
        ("setter", setter),
        ("reader", reader),
        ("sync_setter", sync_setter),
        ("sync_reader", sync_reader),
    ]:
        reg.register(name, fn)
    token = VAR.set("caller")
    try:
        res = await impl.ActionExecutor(reg).async_execute_parallel(
            tr_of(impl, ["setter", "sync_setter", "reader", "sync_reader"]), {}
        )
        assert res.all_succeeded
        assert VAR.get() == "caller"
    finally:
        VAR.reset(token)
    assert seen == {
        "setter_before": "caller",
        "setter_after": "async-setter",
        "sync_setter_before": "caller",
        "async_reader": "caller",
        "sync_reader": "caller",
    }


@pytest.mark.asyncio
@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout() is Python 3.11+")
async def test_asyncio_timeout_inside_one_action_cuts_only_that_action(impl):
    reg = impl.ActionRegistry()

    async def limited(ctx):
        async with asyncio.timeout(0.01):
            await asyncio.sleep(5)

    async def patient(ctx):
        await asyncio.sleep(0.05)
        return "patient"

    reg.register("limited", limited)
    reg.register("patient", patient)
    reg.register("sync", lambda ctx: "sync")
    res = await impl.ActionExecutor(reg).async_execute_parallel(
        tr_of(impl, ["limited", "patient", "sync"]), {}
    )
    limited_r, patient_r, sync_r = res.action_results
    assert limited_r.success is False
    assert isinstance(limited_r.error, TimeoutError)
    assert patient_r == impl.ActionResult.ok("patient", "patient")
    assert sync_r == impl.ActionResult.ok("sync", "sync")


@pytest.mark.asyncio
async def test_parallel_call_order(impl):
    reg = impl.ActionRegistry()
    order = []

    async def a(ctx):
        order.append("a1")
        await asyncio.sleep(0)
        order.append("a2")

    reg.register("A", a)
    reg.register("B", lambda ctx: order.append("b"))
    await impl.ActionExecutor(reg).async_execute_parallel(tr_of(impl, ["A", "B"]), {})
    assert order == ["a1", "b", "a2"]


@pytest.mark.asyncio
async def test_parallel_missing_and_strict(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    reg.register("a", lambda ctx: "a")
    res = await impl.ActionExecutor(reg).async_execute_parallel(tr_of(impl, ["ghost", "a"]), {})
    assert res.action_results == [
        impl.ActionResult.skipped("ghost"),
        impl.ActionResult.ok("a", "a"),
    ]
    assert [r.getMessage() for r in executor_records(caplog, impl)] == [
        "Action 'ghost' not registered, skipping"
    ]
    msg = re.escape("Action 'ghost' not registered (strict mode)")
    with pytest.raises(impl.ActionNotFoundError, match=msg):
        await impl.ActionExecutor(reg, strict=True).async_execute_parallel(
            tr_of(impl, ["a", "ghost"]), {}
        )


@pytest.mark.asyncio
async def test_parallel_params_seen_at_start(impl):
    reg = impl.ActionRegistry()
    seen = {}

    def make(label):
        async def act(ctx):
            seen[label] = ctx.get("_action_params")

        return act

    reg.register("a", make("a"))
    reg.register("b", make("b"))
    reg.register("s", lambda ctx: seen.setdefault("s", ctx.get("_action_params")))
    ctx = {}
    await impl.ActionExecutor(reg).async_execute_parallel(
        tr_of(
            impl,
            [
                impl.ActionSpec("a", {"p": "A"}),
                impl.ActionSpec("b", {"p": "B"}),
                impl.ActionSpec("s", {"p": "S"}),
            ],
        ),
        ctx,
    )
    assert seen == {"a": {"p": "A"}, "b": {"p": "B"}, "s": {"p": "S"}}
    assert "_action_params" not in ctx


@pytest.mark.asyncio
async def test_parallel_sees_callers_context_vars(impl):
    reg = impl.ActionRegistry()
    seen = []

    async def a(ctx):
        seen.append(VAR.get())

    reg.register("a", a)
    reg.register("s", lambda ctx: seen.append(VAR.get()))
    token = VAR.set("outer")
    try:
        await impl.ActionExecutor(reg).async_execute_parallel(tr_of(impl, ["a", "s"]), {})
    finally:
        VAR.reset(token)
    assert seen == ["outer", "outer"]


# ---------------------------------------------------------------------------
# async_execute_phased
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_phased_order_and_parallelism(impl):
    reg = impl.ActionRegistry()
    log = []
    exit_gate, trans_gate, enter_gate = Gate(2), Gate(2), Gate(2)
    reg.register("x1", exit_gate.action("x1", log))
    reg.register("x2", exit_gate.action("x2", log))
    reg.register("t1", trans_gate.action("t1", log))
    reg.register("t2", trans_gate.action("t2", log))
    reg.register("e1", enter_gate.action("e1", log))
    reg.register("e2", enter_gate.action("e2", log))
    res = await impl.ActionExecutor(reg).async_execute_phased(
        tr_of(impl, ["t1", "t2"], on_exit=["x1", "x2"], on_enter=["e1", "e2"]), {}
    )
    assert res.execution_mode is impl.ExecutionMode.PHASED
    assert [r.result for r in res.action_results] == ["x1", "x2", "t1", "t2", "e1", "e2"]
    assert res.all_succeeded
    phase_of = {"x": 0, "t": 1, "e": 2}
    phases = [phase_of[entry.split()[1][0]] for entry in log]
    assert phases == sorted(phases)
    assert res.completed_at is not None


@pytest.mark.asyncio
async def test_phased_stop_on_error_stops_after_the_phase(impl):
    reg = impl.ActionRegistry()
    calls = []

    async def bad(ctx):
        calls.append("bad")
        raise ValueError("bad")

    async def slow_ok(ctx):
        await asyncio.sleep(0.02)
        calls.append("slow_ok")
        return "ok"

    reg.register("bad", bad)
    reg.register("slow_ok", slow_ok)
    reg.register("t", lambda ctx: calls.append("t"))
    reg.register("e", lambda ctx: calls.append("e"))
    tr = tr_of(impl, ["t"], on_exit=["bad", "slow_ok"], on_enter=["e"])
    res = await impl.ActionExecutor(reg, stop_on_error=True).async_execute_phased(tr, {})
    assert sorted(calls) == ["bad", "slow_ok"]
    assert [r.action_name for r in res.action_results] == ["bad", "slow_ok"]
    assert [r.success for r in res.action_results] == [False, True]
    assert res.execution_mode is impl.ExecutionMode.PHASED
    assert res.completed_at is not None
    calls.clear()
    res = await impl.ActionExecutor(reg).async_execute_phased(tr, {})
    assert [r.action_name for r in res.action_results] == ["bad", "slow_ok", "t", "e"]
    assert calls[-2:] == ["t", "e"]


@pytest.mark.asyncio
async def test_phased_skips_empty_phases(impl):
    reg = impl.ActionRegistry()
    reg.register("e", lambda ctx: "e")
    res = await impl.ActionExecutor(reg).async_execute_phased(tr_of(impl, on_enter=["e"]), {})
    assert res.action_results == [impl.ActionResult.ok("e", "e")]


@pytest.mark.asyncio
async def test_phased_reads_phase_attributes_not_all_action_specs(impl):
    reg = impl.ActionRegistry()
    calls = []
    for n in ("a", "b", "c", "z"):
        reg.register(n, lambda ctx, n=n: calls.append(n))

    def duck(name):
        return types.SimpleNamespace(
            name=name, params={}, has_params=False, timeout=None, retry=0, retry_backoff=1.0
        )

    tr = types.SimpleNamespace(
        success=True,
        on_exit_actions=(duck("a"),),
        actions_to_execute=(duck("b"),),
        on_enter_actions=(duck("c"),),
        all_action_specs=(duck("z"),),
    )
    ex = impl.ActionExecutor(reg)
    await ex.async_execute_phased(tr, {})
    assert calls == ["a", "b", "c"]
    calls.clear()
    await ex.async_execute_parallel(tr, {})
    await ex.async_execute(tr, {})
    assert calls == ["z", "z"]


@pytest.mark.asyncio
async def test_async_paths_accept_pystator_objects(impl, ps):
    reg = impl.ActionRegistry()

    async def a(ctx):
        await asyncio.sleep(0)
        return ctx.get("_action_params")

    reg.register("a", a)
    tr = ps.TransitionResult.success_result(
        "s",
        "t",
        "go",
        actions=(ps.ActionSpec("a", {"p": 1}),),
        on_exit=(ps.ActionSpec.from_config({"increment": "n"}),),
    )
    ex = impl.ActionExecutor(reg)
    for mode in ps.ExecutionMode:
        ctx = {}
        res = await ex.async_execute_with_mode(tr, ctx, mode)
        assert [r.success for r in res.action_results] == [True, True]
        assert res.action_results[1].result == {"p": 1}
        assert ctx == {"n": 1}
    r = await ex.async_execute_action_spec(ps.ActionSpec("a", {"q": 2}), {})
    assert r.result == {"q": 2}


# ---------------------------------------------------------------------------
# Deliberate differences (ferrostator) and the matching pystator behaviour
# ---------------------------------------------------------------------------


def _params_probe(log):
    def make(label):
        async def act(ctx):
            await asyncio.sleep(0)
            log[label] = ctx.get("_action_params", "MISSING")
            await asyncio.sleep(0)
            return ctx["_action_params"]["p"]

        return act

    return make


@pytest.mark.asyncio
async def test_fs_parallel_params_isolated_across_awaits(fs):
    reg = fs.ActionRegistry()
    seen = {}
    make = _params_probe(seen)
    reg.register("a", make("a"))
    reg.register("b", make("b"))
    ex = fs.ActionExecutor(reg)
    specs = (fs.ActionSpec("a", {"p": "A"}), fs.ActionSpec("b", {"p": "B"}))
    ctx = {"keep": 1}
    res = await ex.async_execute_parallel(tr_of(fs, specs), ctx)
    assert seen == {"a": {"p": "A"}, "b": {"p": "B"}}
    assert [r.result for r in res.action_results] == ["A", "B"]
    assert ctx == {"keep": 1}
    seen.clear()
    res = await ex.async_execute_phased(tr_of(fs, on_exit=specs), ctx)
    assert [r.result for r in res.action_results] == ["A", "B"]
    assert ctx == {"keep": 1}
    rs = await ex.async_execute_action_specs_parallel(list(specs), ctx)
    assert [r.result for r in rs] == ["A", "B"]
    assert ctx == {"keep": 1}


@pytest.mark.asyncio
async def test_fs_parallel_removes_preexisting_params_key(fs):
    reg = fs.ActionRegistry()
    reg.register("a", _params_probe({})("a"))
    ctx = {"_action_params": "old"}
    tr = tr_of(fs, [fs.ActionSpec("a", {"p": 1})])
    await fs.ActionExecutor(reg).async_execute_parallel(tr, ctx)
    assert "_action_params" not in ctx


@pytest.mark.asyncio
async def test_pystator_parallel_params_clobbered_across_awaits(ps):
    reg = ps.ActionRegistry()
    seen = {}
    make = _params_probe(seen)
    reg.register("a", make("a"))
    reg.register("b", make("b"))
    specs = (ps.ActionSpec("a", {"p": "A"}), ps.ActionSpec("b", {"p": "B"}))
    res = await ps.ActionExecutor(reg).async_execute_parallel(tr_of(ps, specs), {})
    # a reads b's params; by the time b returns, a has removed the key
    assert seen["a"] == {"p": "B"}
    assert res.action_results[0].result == "B"
    assert isinstance(res.action_results[1].error, KeyError)


@pytest.mark.asyncio
async def test_fs_async_paths_await_awaitable_from_sync_callable(fs):
    async def inner(ctx):
        await asyncio.sleep(0)
        return "awaited"

    reg = fs.ActionRegistry()
    reg.register("x", lambda ctx: inner(ctx))
    ex = fs.ActionExecutor(reg)
    for mode in fs.ExecutionMode:
        res = await ex.async_execute_with_mode(tr_of(fs, ["x"]), {}, mode)
        assert res.action_results == [fs.ActionResult.ok("x", "awaited")]
    assert (await ex.async_execute_action_spec(fs.ActionSpec("x"), {})).result == "awaited"
    assert [r.result for r in await ex.async_execute_specific_parallel(["x"], {})] == ["awaited"]


@pytest.mark.asyncio
async def test_pystator_async_path_returns_awaitable_from_sync_callable(ps):
    async def inner(ctx):
        return "awaited"

    reg = ps.ActionRegistry()
    reg.register("x", lambda ctx: inner(ctx))
    r = await ps.ActionExecutor(reg).async_execute_action_spec(ps.ActionSpec("x"), {})
    assert inspect.iscoroutine(r.result)
    r.result.close()


@pytest.mark.asyncio
async def test_fs_parallel_sync_actions_run_inline(fs):
    reg = fs.ActionRegistry()
    seen = []
    reg.register("s", lambda ctx: seen.append(asyncio.current_task()) or VAR.set("inner"))
    token = VAR.set("caller")
    try:
        await fs.ActionExecutor(reg).async_execute_parallel(tr_of(fs, ["s"]), {})
        assert VAR.get() == "caller"
    finally:
        VAR.reset(token)
    assert seen == [asyncio.current_task()]


@pytest.mark.asyncio
async def test_pystator_parallel_sync_actions_run_in_their_own_task(ps):
    reg = ps.ActionRegistry()
    seen = []
    reg.register("s", lambda ctx: seen.append(asyncio.current_task()))
    await ps.ActionExecutor(reg).async_execute_parallel(tr_of(ps, ["s"]), {})
    assert seen[0] is not asyncio.current_task()


# ---------------------------------------------------------------------------
# gather's rules for the batch as a whole (ferrostator waits through its own
# gather-equivalent future: these pin it to asyncio.gather's behaviour)
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["async_execute_parallel", "async_execute_phased"])
async def test_a_cancelled_action_task_fails_the_batch_but_not_its_siblings(impl, mode):
    tasks, events = {}, []
    reg = impl.ActionRegistry()

    async def victim(ctx):
        tasks["victim"] = asyncio.current_task()
        await asyncio.sleep(10)

    async def killer(ctx):
        await asyncio.sleep(0)
        tasks["victim"].cancel()

    async def slow(ctx):
        for _ in range(5):
            await asyncio.sleep(0)
        events.append("slow finished")

    for name, fn in (("victim", victim), ("killer", killer), ("slow", slow)):
        reg.register(name, fn)
    ex = impl.ActionExecutor(reg)
    with pytest.raises(asyncio.CancelledError):
        await getattr(ex, mode)(tr_of(impl, ["victim", "killer", "slow"]), {})
    for _ in range(10):
        await asyncio.sleep(0)
    assert events == ["slow finished"]


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["async_execute_parallel", "async_execute_phased"])
async def test_cancelling_the_caller_waits_for_the_actions_and_keeps_the_message(impl, mode):
    events = []
    reg = impl.ActionRegistry()

    def make(name):
        async def action(ctx):
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError as exc:
                events.append((name, "cancelled", exc.args))
                await asyncio.sleep(0)  # still cleaning up when the caller is told
                events.append((name, "cleaned", ()))
                raise

        return action

    for name in ("a", "b"):
        reg.register(name, make(name))
    ex = impl.ActionExecutor(reg)
    caller = asyncio.ensure_future(getattr(ex, mode)(tr_of(impl, ["a", "b"]), {}))
    for _ in range(3):
        await asyncio.sleep(0)
    caller.cancel("stop now")
    with pytest.raises(asyncio.CancelledError) as raised:
        await caller
    assert sorted(events) == [
        ("a", "cancelled", ("stop now",)),
        ("a", "cleaned", ()),
        ("b", "cancelled", ("stop now",)),
        ("b", "cleaned", ()),
    ]
    # As asyncio.gather gives on each version (3.10 drops the message).
    assert raised.value.args == (("stop now",) if sys.version_info >= (3, 11) else ())
