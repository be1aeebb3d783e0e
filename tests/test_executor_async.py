"""ActionExecutor asynchronous paths: sequential, parallel, phased, with_mode,
specific/spec variants, timeouts, retries and task/context isolation."""

from __future__ import annotations

import asyncio
import logging
import re
from unittest.mock import AsyncMock, call, patch

import pytest
from _executor_helpers import VAR, Gate, executor_records
from _reliability import tr_of

# ---------------------------------------------------------------------------
# async_execute (sequential)
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_execute_runs_one_after_another(impl):
    reg = impl.ActionRegistry()
    log = []

    def make(label, delay):
        async def act(ctx):
            log.append(f"start {label}")
            await asyncio.sleep(delay)
            log.append(f"end {label}")
            return label

        return act

    reg.register("a", make("a", 0.03))
    reg.register("b", make("b", 0))
    reg.register("s", lambda ctx: log.append("sync") or "s")
    tr = tr_of(impl, ["b"], on_exit=["a"], on_enter=["s"])
    res = await impl.ActionExecutor(reg).async_execute(tr, {})
    assert log == ["start a", "end a", "start b", "end b", "sync"]
    assert [r.result for r in res.action_results] == ["a", "b", "s"]
    assert res.execution_mode is impl.ExecutionMode.SEQUENTIAL
    assert res.started_at <= res.completed_at
    assert res.duration_ms >= 0


@pytest.mark.asyncio
async def test_async_execute_failed_transition(impl):
    reg = impl.ActionRegistry()
    called = []
    reg.register("a", lambda ctx: called.append(1))
    tr = impl.TransitionResult(False, "s", None, "t", actions_to_execute=(impl.ActionSpec("a"),))
    for run in (
        impl.ActionExecutor(reg).async_execute,
        impl.ActionExecutor(reg).async_execute_parallel,
        impl.ActionExecutor(reg).async_execute_phased,
    ):
        res = await run(tr, {})
        assert res.action_results == []
        assert res.completed_at is not None
        assert res.transition_result is tr
    assert called == []


@pytest.mark.asyncio
async def test_async_execute_empty(impl):
    ex = impl.ActionExecutor(impl.ActionRegistry())
    for mode in impl.ExecutionMode:
        res = await ex.async_execute_with_mode(tr_of(impl), {}, mode)
        assert res.action_results == []
        assert res.execution_mode is mode
        assert res.completed_at is not None
    assert await ex.async_execute_specific_parallel([], {}) == []
    assert await ex.async_execute_action_specs_parallel([], {}) == []
    assert await ex.async_execute_action_specs_parallel((), {}) == []


@pytest.mark.asyncio
async def test_async_execute_stop_on_error(impl):
    reg = impl.ActionRegistry()
    calls = []

    async def bad(ctx):
        calls.append("bad")
        raise ValueError("x")

    reg.register("bad", bad)
    reg.register("after", lambda ctx: calls.append("after"))
    res = await impl.ActionExecutor(reg, stop_on_error=True).async_execute(
        tr_of(impl, ["bad", "after"]), {}
    )
    assert calls == ["bad"]
    assert [r.action_name for r in res.action_results] == ["bad"]
    assert isinstance(res.action_results[0].error, ValueError)
    res = await impl.ActionExecutor(reg).async_execute(tr_of(impl, ["bad", "after"]), {})
    assert [r.success for r in res.action_results] == [False, True]


@pytest.mark.asyncio
async def test_async_execute_params_during_call(impl):
    reg = impl.ActionRegistry()
    seen = []

    async def act(ctx):
        seen.append(ctx.get("_action_params"))
        await asyncio.sleep(0)
        seen.append(ctx.get("_action_params"))

    reg.register("a", act)
    reg.register("b", lambda ctx: seen.append(ctx.get("_action_params", "absent")))
    ctx = {"k": 1}
    await impl.ActionExecutor(reg).async_execute(
        tr_of(impl, [impl.ActionSpec("a", {"p": 1}), "b"]), ctx
    )
    assert seen == [{"p": 1}, {"p": 1}, "absent"]
    assert ctx == {"k": 1}


@pytest.mark.asyncio
async def test_async_execute_missing_and_strict(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    res = await impl.ActionExecutor(reg).async_execute(tr_of(impl, ["ghost"]), {})
    assert res.action_results == [impl.ActionResult.skipped("ghost")]
    assert [(r.levelno, r.getMessage()) for r in executor_records(caplog, impl)] == [
        (logging.WARNING, "Action 'ghost' not registered, skipping")
    ]
    msg = re.escape("Action 'ghost' not registered (strict mode)")
    with pytest.raises(impl.ActionNotFoundError, match=msg):
        await impl.ActionExecutor(reg, strict=True).async_execute(tr_of(impl, ["ghost"]), {})


@pytest.mark.asyncio
async def test_async_execute_sequential_runs_in_callers_task(impl):
    reg = impl.ActionRegistry()
    seen = []

    async def act(ctx):
        seen.append(asyncio.current_task())
        VAR.set("from-action")

    reg.register("a", act)
    token = VAR.set("caller")
    try:
        await impl.ActionExecutor(reg).async_execute(tr_of(impl, ["a"]), {})
        assert seen == [asyncio.current_task()]
        assert VAR.get() == "from-action"
    finally:
        VAR.reset(token)


@pytest.mark.asyncio
async def test_effects_in_async_paths(impl):
    ex = impl.ActionExecutor(impl.ActionRegistry())
    inc = impl.ActionSpec.from_config({"increment": "n"})
    setter = impl.ActionSpec.from_config({"set": {"flag": True}})
    ctx = {}
    await ex.async_execute(tr_of(impl, [inc, setter]), ctx)
    await ex.async_execute_parallel(tr_of(impl, [inc, inc]), ctx)
    await ex.async_execute_phased(tr_of(impl, [inc], on_exit=[inc], on_enter=[inc]), ctx)
    r = await ex.async_execute_action_spec(impl.ActionSpec("_effect.nope"), ctx)
    assert ctx == {"n": 6, "flag": True}
    assert r.success is False
    assert str(r.error) == "Unknown effect type: nope"
    rs = await ex.async_execute_specific_parallel(["_effect.increment"], ctx)
    assert isinstance(rs[0].error, KeyError)


# ---------------------------------------------------------------------------
# Timeouts and retries
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("timeout", [0.05, 0.001, 0.02])
async def test_timeout_message(impl, timeout, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    state = []

    async def slow(ctx):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            state.append("cancelled")
            raise

    reg.register("x", slow)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    r = await impl.ActionExecutor(reg).async_execute_action_spec(
        impl.ActionSpec("x", timeout=timeout), {}
    )
    assert loop.time() - t0 < 2
    assert r.success is False
    assert r.status is impl.ActionStatus.FAILED
    assert type(r.error) is TimeoutError
    assert str(r.error) == f"Action 'x' timed out after {timeout}s"
    assert state == ["cancelled"]
    assert executor_records(caplog, impl) == []


@pytest.mark.asyncio
async def test_no_timeout_when_none(impl):
    reg = impl.ActionRegistry()

    async def act(ctx):
        await asyncio.sleep(0.02)
        return "done"

    reg.register("x", act)
    r = await impl.ActionExecutor(reg).async_execute_action_spec(impl.ActionSpec("x"), {})
    assert r.result == "done"
    r = await impl.ActionExecutor(reg).async_execute_action_spec(
        impl.ActionSpec("x", timeout=5.0), {}
    )
    assert r.result == "done"


@pytest.mark.asyncio
async def test_timeout_is_retried_as_transient(impl):
    reg = impl.ActionRegistry()
    attempts = []

    async def hang(ctx):
        attempts.append(1)
        await asyncio.Event().wait()

    reg.register("x", hang)
    with patch("asyncio.sleep", new_callable=AsyncMock) as sleep:
        r = await impl.ActionExecutor(reg).async_execute_action_spec(
            impl.ActionSpec("x", timeout=0.01, retry=2, retry_backoff=0.5), {}
        )
    assert len(attempts) == 3
    assert sleep.call_args_list == [call(0.5), call(1.0)]
    assert sleep.await_count == 2
    assert str(r.error) == "Action 'x' timed out after 0.01s"


@pytest.mark.asyncio
async def test_timeout_then_success(impl):
    reg = impl.ActionRegistry()
    attempts = []

    async def sometimes(ctx):
        attempts.append(1)
        if len(attempts) == 1:
            await asyncio.Event().wait()
        return "second"

    reg.register("x", sometimes)
    with patch("asyncio.sleep", new_callable=AsyncMock):
        r = await impl.ActionExecutor(reg).async_execute_action_spec(
            impl.ActionSpec("x", timeout=0.01, retry=1), {}
        )
    assert r == impl.ActionResult.ok("x", "second")


@pytest.mark.asyncio
async def test_action_raising_timeout_error_itself(impl):
    reg = impl.ActionRegistry()
    err = TimeoutError("own")

    async def act(ctx):
        raise err

    reg.register("x", act)
    r = await impl.ActionExecutor(reg).async_execute_action_spec(
        impl.ActionSpec("x", timeout=5.0), {}
    )
    assert r.error is err


@pytest.mark.asyncio
async def test_async_retries_with_backoff(impl):
    reg = impl.ActionRegistry()
    attempts = []

    async def flaky(ctx):
        attempts.append(ctx.get("_action_params"))
        raise ConnectionError(f"e{len(attempts)}")

    reg.register("x", flaky)
    ctx = {}
    with patch("asyncio.sleep", new_callable=AsyncMock) as sleep:
        res = await impl.ActionExecutor(reg).async_execute(
            tr_of(impl, [impl.ActionSpec("x", {"p": 1}, retry=3, retry_backoff=0.25)]), ctx
        )
    assert attempts == [{"p": 1}] * 4
    assert sleep.call_args_list == [call(0.25), call(0.5), call(1.0)]
    assert sleep.await_count == 3
    assert str(res.action_results[0].error) == "e4"
    assert ctx == {}


@pytest.mark.asyncio
async def test_async_retry_success_and_sync_actions(impl):
    reg = impl.ActionRegistry()
    attempts = []

    def flaky(ctx):
        attempts.append(1)
        if len(attempts) < 2:
            raise OSError("once")
        return "fine"

    reg.register("x", flaky)
    with patch("asyncio.sleep", new_callable=AsyncMock) as sleep:
        r = await impl.ActionExecutor(reg).async_execute_action_spec(
            impl.ActionSpec("x", retry=4, retry_backoff=2.0), {}
        )
    assert r == impl.ActionResult.ok("x", "fine")
    assert sleep.call_args_list == [call(2.0)]


@pytest.mark.asyncio
async def test_async_permanent_error_stops_retries(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    attempts = []

    async def bad(ctx):
        attempts.append(1)
        raise ValueError("perm")

    reg.register("x", bad)
    with patch("asyncio.sleep", new_callable=AsyncMock) as sleep:
        r = await impl.ActionExecutor(reg).async_execute_action_spec(
            impl.ActionSpec("x", retry=3), {}
        )
    assert attempts == [1]
    sleep.assert_not_called()
    assert str(r.error) == "perm"
    assert [(x.levelno, x.getMessage()) for x in executor_records(caplog, impl)] == [
        (logging.INFO, "Action 'x' failed with permanent error, skipping retries")
    ]


@pytest.mark.asyncio
async def test_parallel_retries_and_timeouts_are_per_spec(impl):
    reg = impl.ActionRegistry()
    counts = {"a": 0, "b": 0}

    async def a(ctx):
        counts["a"] += 1
        if counts["a"] < 3:
            raise ConnectionError()
        return "a"

    async def b(ctx):
        counts["b"] += 1
        await asyncio.Event().wait()

    reg.register("a", a)
    reg.register("b", b)
    with patch("asyncio.sleep", new_callable=AsyncMock) as sleep:
        res = await impl.ActionExecutor(reg).async_execute_parallel(
            tr_of(
                impl,
                [
                    impl.ActionSpec("a", retry=5, retry_backoff=0.1),
                    impl.ActionSpec("b", timeout=0.01),
                ],
            ),
            {},
        )
    assert counts == {"a": 3, "b": 1}
    assert sorted(c.args[0] for c in sleep.call_args_list) == [0.1, 0.2]
    assert res.action_results[0] == impl.ActionResult.ok("a", "a")
    assert str(res.action_results[1].error) == "Action 'b' timed out after 0.01s"


# ---------------------------------------------------------------------------
# async_execute_with_mode
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_with_mode_dispatch(impl):
    reg = impl.ActionRegistry()
    reg.register("a", lambda ctx: "a")
    ex = impl.ActionExecutor(reg)
    tr = tr_of(impl, ["a"])
    for mode in impl.ExecutionMode:
        res = await ex.async_execute_with_mode(tr, {}, mode)
        assert res.execution_mode is mode
        assert res.action_results == [impl.ActionResult.ok("a", "a")]
    res = await ex.async_execute_with_mode(tr, {}, mode=impl.ExecutionMode.PHASED)
    assert res.execution_mode is impl.ExecutionMode.PHASED


@pytest.mark.asyncio
async def test_with_mode_default_is_sequential_regardless_of_default_mode(impl):
    reg = impl.ActionRegistry()
    reg.register("a", lambda ctx: "a")
    ex = impl.ActionExecutor(reg, default_mode=impl.ExecutionMode.PARALLEL)
    res = await ex.async_execute_with_mode(tr_of(impl, ["a"]), {})
    assert res.execution_mode is impl.ExecutionMode.SEQUENTIAL


@pytest.mark.asyncio
async def test_with_mode_accepts_plain_strings(impl):
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg)
    for text in ("parallel", "phased", "sequential"):
        res = await ex.async_execute_with_mode(tr_of(impl), {}, text)
        assert res.execution_mode is impl.ExecutionMode(text)


# ---------------------------------------------------------------------------
# async_execute_specific_parallel / action_spec / action_specs_parallel
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_specific_parallel(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    gate = Gate(2)
    reg.register("a", gate.action("a"))
    reg.register("b", gate.action("b"))
    reg.register("p", lambda ctx: ctx.get("_action_params", "absent"))
    rs = await impl.ActionExecutor(reg).async_execute_specific_parallel(
        ("b", "ghost", "a", "p"), {"k": 1}
    )
    assert [r.action_name for r in rs] == ["b", "ghost", "a", "p"]
    assert [r.result for r in rs] == ["b", "not_registered", "a", "absent"]
    assert rs[1].is_skipped
    assert [r.getMessage() for r in executor_records(caplog, impl)] == [
        "Action 'ghost' not registered, skipping"
    ]


@pytest.mark.asyncio
async def test_specific_parallel_does_not_retry(impl):
    reg = impl.ActionRegistry()
    attempts = []

    async def flaky(ctx):
        attempts.append(1)
        raise ConnectionError()

    reg.register("a", flaky)
    with patch("asyncio.sleep", new_callable=AsyncMock) as sleep:
        rs = await impl.ActionExecutor(reg).async_execute_specific_parallel(["a"], {})
    assert attempts == [1]
    sleep.assert_not_called()
    assert rs[0].success is False


@pytest.mark.asyncio
async def test_async_execute_action_spec(impl):
    reg = impl.ActionRegistry()

    async def act(ctx):
        await asyncio.sleep(0)
        return ctx["_action_params"]["v"] * 2

    reg.register("a", act)
    ctx = {}
    ex = impl.ActionExecutor(reg)
    r = await ex.async_execute_action_spec(impl.ActionSpec("a", {"v": 21}), ctx)
    assert r == impl.ActionResult.ok("a", 42)
    assert ctx == {}
    assert (await ex.async_execute_action_spec(impl.ActionSpec("zz"), {})).is_skipped


@pytest.mark.asyncio
async def test_action_specs_parallel(impl):
    reg = impl.ActionRegistry()
    gate = Gate(3)
    for n in ("a", "b", "c"):
        reg.register(n, gate.action(n))
    specs = [impl.ActionSpec("c"), impl.ActionSpec("a"), impl.ActionSpec("b", {"p": 1})]
    ctx = {}
    rs = await impl.ActionExecutor(reg).async_execute_action_specs_parallel(specs, ctx)
    assert [r.result for r in rs] == ["c", "a", "b"]
    assert "_action_params" not in ctx
    with pytest.raises(impl.ActionNotFoundError):
        await impl.ActionExecutor(reg, strict=True).async_execute_action_specs_parallel(
            (impl.ActionSpec("nope"),), {}
        )
