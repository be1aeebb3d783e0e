"""ActionExecutor synchronous paths: execute, execute_specific,
validate_actions_exist, execute_action_spec(s), retries, effects, interop."""

from __future__ import annotations

import collections
import copy
import inspect
import logging
import pickle
import re
import threading
import types
import weakref
from datetime import datetime, timedelta, timezone
from unittest.mock import AsyncMock, call, patch

import pytest
from _executor_helpers import Flaky, executor_records
from _reliability import tr_of
from conftest import COLLECTS_GARBAGE, PATCHES_SLEEP, collect_until

UTC = timezone.utc  # datetime.UTC is Python 3.11+


def _recorder(impl, *names, calls=None):
    """Registry whose actions append their name to ``calls`` and return it."""
    reg = impl.ActionRegistry()
    calls = [] if calls is None else calls
    for n in names:
        reg.register(n, lambda ctx, n=n: calls.append(n) or n)
    return reg, calls


# ---------------------------------------------------------------------------
# Constructor
# ---------------------------------------------------------------------------


def test_constructor_defaults(impl):
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg)
    assert ex.registry is reg
    assert ex.stop_on_error is False
    assert ex.log_execution is True
    assert ex.default_mode is impl.ExecutionMode.SEQUENTIAL
    assert ex.strict is False


def test_constructor_arguments(impl):
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg, True, False, impl.ExecutionMode.PHASED, True)
    assert (ex.stop_on_error, ex.log_execution, ex.default_mode, ex.strict) == (
        True,
        False,
        impl.ExecutionMode.PHASED,
        True,
    )
    kw = impl.ActionExecutor(registry=reg, strict=True, default_mode=impl.ExecutionMode.PARALLEL)
    assert kw.strict is True
    assert kw.default_mode is impl.ExecutionMode.PARALLEL


def test_attributes_are_settable_and_take_effect(impl):
    reg_a, calls_a = _recorder(impl, "x")
    reg_b, calls_b = _recorder(impl, "x")
    ex = impl.ActionExecutor(reg_a)
    ex.registry = reg_b
    ex.execute(tr_of(impl, ["x"]), {})
    assert (calls_a, calls_b) == ([], ["x"])
    ex.strict = True
    with pytest.raises(impl.ActionNotFoundError):
        ex.execute(tr_of(impl, ["ghost"]), {})
    ex.strict = False
    reg_b.register("bad", lambda ctx: 1 / 0)
    ex.stop_on_error = True
    res = ex.execute(tr_of(impl, ["bad", "x"]), {})
    assert [r.action_name for r in res.action_results] == ["bad"]
    ex.default_mode = impl.ExecutionMode.PHASED
    assert ex.default_mode is impl.ExecutionMode.PHASED
    ex.log_execution = False
    assert ex.log_execution is False


# ---------------------------------------------------------------------------
# execute
# ---------------------------------------------------------------------------


def test_failed_transition_executes_nothing(impl):
    reg, calls = _recorder(impl, "a")
    tr = impl.TransitionResult(
        False, "idle", None, "go", actions_to_execute=(impl.ActionSpec("a"),)
    )
    before = datetime.now(UTC)
    res = impl.ActionExecutor(reg).execute(tr, {})
    assert isinstance(res, impl.ExecutionResult)
    assert calls == []
    assert res.action_results == []
    assert res.transition_result is tr
    assert res.execution_mode is impl.ExecutionMode.SEQUENTIAL
    assert res.completed_at is not None
    assert before <= res.started_at <= res.completed_at
    assert res.all_succeeded is True


def test_execute_order_exit_transition_enter(impl):
    reg, calls = _recorder(impl, "x1", "x2", "t1", "e1", "e2")
    tr = tr_of(impl, ["t1"], on_exit=["x1", "x2"], on_enter=["e1", "e2"])
    res = impl.ActionExecutor(reg).execute(tr, {})
    assert calls == ["x1", "x2", "t1", "e1", "e2"]
    assert [r.action_name for r in res.action_results] == calls
    assert [r.result for r in res.action_results] == calls
    assert all(isinstance(r, impl.ActionResult) for r in res.action_results)


def test_execute_result_fields(impl):
    reg, _ = _recorder(impl, "a", "b")
    tr = tr_of(impl, ["a", "b"])
    before = datetime.now(UTC)
    res = impl.ActionExecutor(reg).execute(tr, {})
    after = datetime.now(UTC)
    assert res.transition_result is tr
    assert res.execution_mode is impl.ExecutionMode.SEQUENTIAL
    assert before <= res.started_at <= res.completed_at <= after
    assert res.started_at.utcoffset() == timedelta(0)
    assert res.duration_ms >= 0
    assert res.action_count == 2
    assert res.all_succeeded is True
    assert res.succeeded_actions == ["a", "b"]


def test_execute_passes_the_same_context_to_each_action(impl):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("a", lambda ctx: seen.append(ctx) or ctx.setdefault("n", 0))
    reg.register("b", lambda ctx: seen.append(ctx))
    ctx = {}
    impl.ActionExecutor(reg).execute(tr_of(impl, ["a", "b"]), ctx)
    assert seen[0] is ctx and seen[1] is ctx


def test_execute_continues_after_failure_by_default(impl):
    reg, calls = _recorder(impl, "a", "c")
    err = ValueError("bad")

    def bad(ctx):
        raise err

    reg.register("bad", bad)
    res = impl.ActionExecutor(reg).execute(tr_of(impl, ["a", "bad", "c"]), {})
    assert calls == ["a", "c"]
    assert [r.success for r in res.action_results] == [True, False, True]
    assert res.action_results[1].error is err
    assert res.failed_actions == ["bad"]


def test_execute_stop_on_error(impl):
    reg, calls = _recorder(impl, "x", "t", "e")
    reg.register("bad", lambda ctx: {}["missing"])
    ex = impl.ActionExecutor(reg, stop_on_error=True)
    res = ex.execute(tr_of(impl, ["bad", "t"], on_exit=["x"], on_enter=["e"]), {})
    assert calls == ["x"]
    assert [r.action_name for r in res.action_results] == ["x", "bad"]
    assert isinstance(res.action_results[-1].error, KeyError)
    assert res.completed_at is not None


def test_stop_on_error_does_not_stop_on_skipped(impl):
    reg, calls = _recorder(impl, "a")
    ex = impl.ActionExecutor(reg, stop_on_error=True, log_execution=False)
    res = ex.execute(tr_of(impl, ["ghost", "a"]), {})
    assert calls == ["a"]
    assert [r.status for r in res.action_results] == [
        impl.ActionStatus.SKIPPED,
        impl.ActionStatus.OK,
    ]


def test_empty_transition(impl):
    res = impl.ActionExecutor(impl.ActionRegistry()).execute(tr_of(impl), {})
    assert res.action_results == []
    assert res.completed_at is not None


# ---------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------


def test_action_params_key(impl):
    assert impl.ACTION_PARAMS_KEY == "_action_params"


def test_params_visible_during_call_and_removed_after(impl):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("a", lambda ctx: seen.append(dict(ctx)))
    ctx = {"user": 1}
    spec = impl.ActionSpec("a", {"to": "ops", "n": 2})
    impl.ActionExecutor(reg).execute(tr_of(impl, [spec]), ctx)
    assert seen == [{"user": 1, "_action_params": {"to": "ops", "n": 2}}]
    assert ctx == {"user": 1}


def test_params_absent_when_spec_has_none(impl):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("a", lambda ctx: seen.append("_action_params" in ctx))
    ctx = {}
    impl.ActionExecutor(reg).execute(tr_of(impl, [impl.ActionSpec("a", {})]), ctx)
    assert seen == [False]
    assert ctx == {}


def test_params_do_not_leak_to_the_next_action(impl):
    reg = impl.ActionRegistry()
    seen = {}
    reg.register("a", lambda ctx: seen.setdefault("a", ctx.get("_action_params")))
    reg.register("b", lambda ctx: seen.setdefault("b", ctx.get("_action_params", "absent")))
    impl.ActionExecutor(reg).execute(tr_of(impl, [impl.ActionSpec("a", {"p": 1}), "b"]), {})
    assert seen == {"a": {"p": 1}, "b": "absent"}


def test_preexisting_params_key_is_replaced_then_removed(impl):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("a", lambda ctx: seen.append(ctx["_action_params"]))
    ctx = {"_action_params": "caller's"}
    impl.ActionExecutor(reg).execute(tr_of(impl, [impl.ActionSpec("a", {"p": 1})]), ctx)
    assert seen == [{"p": 1}]
    assert "_action_params" not in ctx


def test_preexisting_params_key_untouched_when_spec_has_no_params(impl):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("a", lambda ctx: seen.append(ctx["_action_params"]))
    ctx = {"_action_params": "caller's"}
    impl.ActionExecutor(reg).execute(tr_of(impl, ["a"]), ctx)
    assert seen == ["caller's"]
    assert ctx == {"_action_params": "caller's"}


def test_params_removed_when_action_raises(impl):
    reg = impl.ActionRegistry()

    def bad(ctx):
        assert ctx["_action_params"] == {"p": 1}
        raise RuntimeError("x")

    reg.register("bad", bad)
    ctx = {}
    res = impl.ActionExecutor(reg).execute(tr_of(impl, [impl.ActionSpec("bad", {"p": 1})]), ctx)
    assert isinstance(res.action_results[0].error, RuntimeError)
    assert ctx == {}


def test_action_may_delete_its_params_key(impl):
    reg = impl.ActionRegistry()
    reg.register("a", lambda ctx: ctx.pop("_action_params"))
    ctx = {}
    res = impl.ActionExecutor(reg).execute(tr_of(impl, [impl.ActionSpec("a", {"p": 1})]), ctx)
    assert res.action_results[0] == impl.ActionResult.ok("a", {"p": 1})
    assert ctx == {}


@PATCHES_SLEEP
def test_params_on_every_retry_attempt(impl):
    reg = impl.ActionRegistry()
    seen = []

    def flaky(ctx):
        seen.append(ctx.get("_action_params"))
        if len(seen) < 3:
            raise ConnectionError()
        return "ok"

    reg.register("a", flaky)
    ctx = {}
    with patch("time.sleep"):
        r = impl.ActionExecutor(reg).execute_action_spec(
            impl.ActionSpec("a", {"p": 1}, retry=3), ctx
        )
    assert r.result == "ok"
    assert seen == [{"p": 1}] * 3
    assert ctx == {}


def test_context_may_be_any_mutable_mapping(impl):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("a", lambda ctx: seen.append((ctx, dict(ctx))))
    ctx = collections.UserDict({"k": 1})
    impl.ActionExecutor(reg).execute(tr_of(impl, [impl.ActionSpec("a", {"p": 1})]), ctx)
    assert seen[0][0] is ctx
    assert seen[0][1] == {"k": 1, "_action_params": {"p": 1}}
    assert dict(ctx) == {"k": 1}


def test_context_dict_subclass_hooks_are_used(impl):
    writes = []

    class Tracking(dict):
        def __setitem__(self, key, value):
            writes.append(key)
            super().__setitem__(key, value)

    reg = impl.ActionRegistry()
    reg.register("a", lambda ctx: None)
    ctx = Tracking()
    impl.ActionExecutor(reg).execute(tr_of(impl, [impl.ActionSpec("a", {"p": 1})]), ctx)
    assert writes == ["_action_params"]
    assert ctx == {}


# ---------------------------------------------------------------------------
# Missing actions and strict mode
# ---------------------------------------------------------------------------


def test_missing_action_is_skipped_with_warning(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg, calls = _recorder(impl, "a")
    res = impl.ActionExecutor(reg).execute(tr_of(impl, ["ghost", "a"]), {})
    skipped = res.action_results[0]
    assert skipped == impl.ActionResult.skipped("ghost")
    assert skipped.result == "not_registered"
    assert skipped.success is True
    assert calls == ["a"]
    assert res.all_succeeded is True
    recs = executor_records(caplog, impl)
    assert [(r.levelno, r.getMessage()) for r in recs] == [
        (logging.WARNING, "Action 'ghost' not registered, skipping")
    ]


def test_missing_action_not_logged_when_log_execution_false(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    ex = impl.ActionExecutor(impl.ActionRegistry(), log_execution=False)
    res = ex.execute(tr_of(impl, ["ghost"]), {})
    assert res.action_results[0].is_skipped
    assert executor_records(caplog, impl) == []


def test_strict_mode_raises(impl):
    reg, calls = _recorder(impl, "a", "b")
    ex = impl.ActionExecutor(reg, strict=True)
    with pytest.raises(impl.ActionNotFoundError) as info:
        ex.execute(tr_of(impl, ["a", "ghost", "b"]), {})
    assert info.value.message == "Action 'ghost' not registered (strict mode)"
    assert info.value.action_name == "ghost"
    assert calls == ["a"]


def test_strict_mode_other_paths(impl):
    ex = impl.ActionExecutor(impl.ActionRegistry(), strict=True)
    msg = re.escape("Action 'g' not registered (strict mode)")
    with pytest.raises(impl.ActionNotFoundError, match=msg):
        ex.execute_specific(["g"], {})
    with pytest.raises(impl.ActionNotFoundError, match=msg):
        ex.execute_action_spec(impl.ActionSpec("g"), {})
    with pytest.raises(impl.ActionNotFoundError, match=msg):
        ex.execute_action_specs([impl.ActionSpec("g")], {})


def test_strict_mode_allows_effects(impl):
    ex = impl.ActionExecutor(impl.ActionRegistry(), strict=True)
    ctx = {}
    res = ex.execute(tr_of(impl, [impl.ActionSpec.from_config({"set": {"k": 1}})]), ctx)
    assert res.action_results[0].success is True
    assert ctx == {"k": 1}


# ---------------------------------------------------------------------------
# execute_specific / validate_actions_exist / execute_action_spec(s)
# ---------------------------------------------------------------------------


def test_execute_specific(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg, calls = _recorder(impl, "a", "b")
    ctx = {"_action_params": "kept"}
    rs = impl.ActionExecutor(reg).execute_specific(("b", "ghost", "a"), ctx)
    assert calls == ["b", "a"]
    assert [r.action_name for r in rs] == ["b", "ghost", "a"]
    assert rs[1].is_skipped
    assert ctx == {"_action_params": "kept"}
    assert [x.getMessage() for x in executor_records(caplog, impl)] == [
        "Action 'ghost' not registered, skipping"
    ]
    assert impl.ActionExecutor(reg).execute_specific([], {}) == []


def test_execute_specific_ignores_stop_on_error(impl):
    reg, calls = _recorder(impl, "b")
    reg.register("bad", lambda ctx: 1 / 0)
    rs = impl.ActionExecutor(reg, stop_on_error=True).execute_specific(["bad", "b"], {})
    assert [r.success for r in rs] == [False, True]
    assert calls == ["b"]


def test_validate_actions_exist(impl):
    reg, _ = _recorder(impl, "a")
    ex = impl.ActionExecutor(reg)
    tr = tr_of(
        impl,
        ["a", "m1", impl.ActionSpec.from_config({"set": {"k": 1}}), "_effect.bogus"],
        on_exit=["m0"],
        on_enter=["m1", "a"],
    )
    assert ex.validate_actions_exist(tr) == ["m0", "m1", "m1"]
    assert ex.validate_actions_exist(tr_of(impl, ["a"])) == []
    failed = impl.TransitionResult(
        False, "s", None, "t", actions_to_execute=(impl.ActionSpec("z"),)
    )
    assert ex.validate_actions_exist(failed) == ["z"]


def test_execute_action_spec(impl):
    reg = impl.ActionRegistry()
    reg.register("a", lambda ctx: ctx.get("_action_params"))
    ex = impl.ActionExecutor(reg)
    ctx = {}
    r = ex.execute_action_spec(impl.ActionSpec("a", {"p": 1}), ctx)
    assert r == impl.ActionResult.ok("a", {"p": 1})
    assert ctx == {}
    assert ex.execute_action_spec(impl.ActionSpec("ghost"), {}).is_skipped


def test_execute_action_specs(impl):
    reg, calls = _recorder(impl, "a", "b")
    reg.register("bad", lambda ctx: 1 / 0)
    specs = [impl.ActionSpec("a"), impl.ActionSpec("bad"), impl.ActionSpec("b")]
    rs = impl.ActionExecutor(reg).execute_action_specs(specs, {})
    assert [r.success for r in rs] == [True, False, True]
    assert calls == ["a", "b"]
    calls.clear()
    rs = impl.ActionExecutor(reg, stop_on_error=True).execute_action_specs(tuple(specs), {})
    assert [r.action_name for r in rs] == ["a", "bad"]
    assert calls == ["a"]
    assert impl.ActionExecutor(reg).execute_action_specs([], {}) == []


# ---------------------------------------------------------------------------
# Interop with pystator objects and duck-typed objects
# ---------------------------------------------------------------------------


def test_executor_accepts_pystator_objects(impl, ps):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("a", lambda ctx: seen.append(ctx.get("_action_params")) or "A")
    reg.register("b", lambda ctx: "B")
    tr = ps.TransitionResult.success_result(
        "s",
        "t",
        "go",
        actions=(ps.ActionSpec("a", {"p": 1}),),
        on_exit=(ps.ActionSpec.from_config({"set": {"k": 1}}),),
        on_enter=(ps.ActionSpec("b"),),
    )
    ex = impl.ActionExecutor(reg)
    ctx = {}
    res = ex.execute(tr, ctx)
    assert res.transition_result is tr
    assert [r.result for r in res.action_results] == [None, "A", "B"]
    assert seen == [{"p": 1}]
    assert ctx == {"k": 1}
    assert ex.execute_action_spec(ps.ActionSpec("b"), {}).result == "B"
    assert [r.result for r in ex.execute_action_specs((ps.ActionSpec("b"),), {})] == ["B"]
    assert ex.validate_actions_exist(tr) == []


def _duck_spec(name, params=None, retry=0, retry_backoff=1.0, timeout=None, has_params=None):
    params = params or {}
    return types.SimpleNamespace(
        name=name,
        params=params,
        has_params=bool(params) if has_params is None else has_params,
        timeout=timeout,
        retry=retry,
        retry_backoff=retry_backoff,
    )


def _duck_tr(exit_=(), actions=(), enter=(), success=True, all_specs=None):
    return types.SimpleNamespace(
        success=success,
        on_exit_actions=tuple(exit_),
        actions_to_execute=tuple(actions),
        on_enter_actions=tuple(enter),
        all_action_specs=tuple(exit_) + tuple(actions) + tuple(enter)
        if all_specs is None
        else tuple(all_specs),
    )


def test_executor_accepts_duck_typed_objects(impl):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("a", lambda ctx: seen.append(("a", ctx.get("_action_params"))))
    reg.register("b", lambda ctx: seen.append(("b", ctx.get("_action_params"))))
    tr = _duck_tr(exit_=[_duck_spec("a", {"p": 1})], enter=[_duck_spec("b")])
    res = impl.ActionExecutor(reg).execute(tr, {})
    assert res.transition_result is tr
    assert seen == [("a", {"p": 1}), ("b", None)]
    assert res.all_succeeded


def test_duck_typed_sequential_path_reads_all_action_specs(impl):
    reg, calls = _recorder(impl, "a", "b", "c")
    tr = _duck_tr(exit_=[_duck_spec("a")], actions=[_duck_spec("b")], all_specs=[_duck_spec("c")])
    impl.ActionExecutor(reg).execute(tr, {})
    assert calls == ["c"]


def test_duck_typed_has_params_false_means_no_injection(impl):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("a", lambda ctx: seen.append("_action_params" in ctx))
    spec = _duck_spec("a", {"p": 1}, has_params=False)
    impl.ActionExecutor(reg).execute(_duck_tr(actions=[spec]), {})
    assert seen == [False]


def test_duck_typed_failed_transition_needs_only_success(impl):
    reg, calls = _recorder(impl, "a")
    tr = types.SimpleNamespace(success=False)
    res = impl.ActionExecutor(reg).execute(tr, {})
    assert res.action_results == []
    assert res.completed_at is not None


@PATCHES_SLEEP
def test_duck_typed_spec_retry(impl):
    reg = impl.ActionRegistry()
    flaky = Flaky(OSError(), value="x")
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        r = impl.ActionExecutor(reg).execute_action_spec(
            _duck_spec("a", retry=2, retry_backoff=0.3), {}
        )
    assert r.result == "x"
    assert sleep.call_args_list == [call(0.3)]


def test_duck_typed_validate_actions_exist(impl):
    reg, _ = _recorder(impl, "a")
    tr = _duck_tr(actions=[_duck_spec("a"), _duck_spec("z"), _duck_spec("_effect.set")])
    assert impl.ActionExecutor(reg).validate_actions_exist(tr) == ["z"]


# ---------------------------------------------------------------------------
# Deliberate differences: async actions in sync executor paths
# ---------------------------------------------------------------------------

_ASYNC_MSG = "Action 'x' is async and cannot be executed synchronously"


def test_fs_sync_paths_refuse_async_actions(fs):
    reg = fs.ActionRegistry()
    mock = AsyncMock(return_value=1)
    reg.register("x", mock)
    reg.register("y", lambda ctx: "y")
    ex = fs.ActionExecutor(reg)
    results = [
        ex.execute(tr_of(fs, ["x", "y"]), {}).action_results[0],
        ex.execute_specific(["x"], {})[0],
        ex.execute_action_spec(fs.ActionSpec("x"), {}),
        ex.execute_action_specs([fs.ActionSpec("x")], {})[0],
    ]
    for r in results:
        assert r.success is False
        assert type(r.error) is RuntimeError
        assert str(r.error) == _ASYNC_MSG
    assert mock.call_count == 0
    assert ex.execute(tr_of(fs, ["x", "y"]), {}).action_results[1].result == "y"


@PATCHES_SLEEP
def test_fs_sync_path_async_action_is_not_retried(fs):
    reg = fs.ActionRegistry()
    mock = AsyncMock()
    reg.register("x", mock)
    with patch("time.sleep") as sleep:
        r = fs.ActionExecutor(reg).execute_action_spec(fs.ActionSpec("x", retry=3), {})
    assert str(r.error) == _ASYNC_MSG
    sleep.assert_not_called()
    assert mock.call_count == 0


def test_fs_sync_path_closes_returned_awaitable(fs):
    made = []

    async def inner():
        return 1

    def sneaky(ctx):
        coro = inner()
        made.append(coro)
        return coro

    reg = fs.ActionRegistry()
    reg.register("x", sneaky)
    res = fs.ActionExecutor(reg).execute(tr_of(fs, ["x"]), {})
    r = res.action_results[0]
    assert r.success is False
    assert type(r.error) is RuntimeError
    assert str(r.error) == "Action 'x' returned an awaitable in synchronous execution"
    assert inspect.getcoroutinestate(made[0]) == inspect.CORO_CLOSED


# ---------------------------------------------------------------------------
# The ExecutionResult of execute: aggregates, the list, and its identity
# (ferrostator keeps the results as records until the list is first read)
# ---------------------------------------------------------------------------


def _mixed_execution(impl):
    reg = impl.ActionRegistry()
    reg.register("ok", lambda c: "fine")
    reg.register("bad", Flaky(ValueError("no")))
    ex = impl.ActionExecutor(reg, log_execution=False)
    return ex.execute(tr_of(impl, ["ok", "bad", "missing"]), {})


def test_execute_aggregates_before_and_after_reading_the_list(impl):
    er = _mixed_execution(impl)
    before = (er.all_succeeded, er.failed_actions, er.succeeded_actions, er.action_count)
    assert before == (False, ["bad"], ["ok", "missing"], 3)
    results = er.action_results
    assert results is er.action_results
    assert [(r.action_name, r.success, r.status) for r in results] == [
        ("ok", True, impl.ActionStatus.OK),
        ("bad", False, impl.ActionStatus.FAILED),
        ("missing", True, impl.ActionStatus.SKIPPED),
    ]
    assert (er.all_succeeded, er.failed_actions, er.succeeded_actions, er.action_count) == before
    results.pop(1)  # the list is the result's own: editing it is seen
    assert (er.all_succeeded, er.action_count) == (True, 2)


def test_execute_result_compares_pickles_and_copies_before_the_list_is_read(impl):
    a, b = _mixed_execution(impl), _mixed_execution(impl)
    b.transition_result = a.transition_result
    b.started_at, b.completed_at = a.started_at, a.completed_at
    assert [r.error for r in a.action_results] != [None, None, None]
    b.action_results[1].error = a.action_results[1].error  # exceptions compare by identity
    assert a == b
    c = _mixed_execution(impl)
    assert "ActionResult(success=True, action_name='ok', result='fine'" in repr(c)
    d = _mixed_execution(impl)
    clone = pickle.loads(pickle.dumps(d))
    assert [(r.action_name, r.result) for r in clone.action_results] == [
        ("ok", "fine"),
        ("bad", None),
        ("missing", "not_registered"),
    ]
    e = _mixed_execution(impl)
    shallow = copy.copy(e)
    assert shallow.action_results is e.action_results


def test_execute_result_list_assigned_before_it_is_read(impl):
    er = _mixed_execution(impl)
    er.action_results = []
    assert (er.action_results, er.action_count, er.all_succeeded) == ([], 0, True)


def test_fs_first_reads_of_the_list_from_many_threads_agree(fs):
    reg = fs.ActionRegistry()
    reg.register("a", lambda c: object())
    ex = fs.ActionExecutor(reg)
    for _ in range(50):
        er = ex.execute(tr_of(fs, ["a"] * 20), {})
        barrier = threading.Barrier(6)
        seen = []

        def read(er=er, barrier=barrier, seen=seen):
            barrier.wait()
            seen.append(er.action_results)

        threads = [threading.Thread(target=read) for _ in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert all(lst is seen[0] for lst in seen)
        assert len(seen[0]) == 20 and len({id(r) for r in seen[0]}) == 20


@COLLECTS_GARBAGE
def test_fs_cycle_through_an_unread_result_is_collected(fs):
    class Holder:
        er = None

    reg = fs.ActionRegistry()
    reg.register("a", lambda c: c["holder"])
    ex = fs.ActionExecutor(reg)
    holder = Holder()
    er = ex.execute(tr_of(fs, ["a"]), {"holder": holder})
    holder.er = er  # er -> record -> holder -> er, the list never read
    ref = weakref.ref(er)
    del er, holder
    assert collect_until(lambda: ref() is None)


def test_pystator_sync_executor_returns_coroutine_as_result(ps):
    async def act(ctx):
        return 1

    reg = ps.ActionRegistry()
    reg.register("x", act)
    r = ps.ActionExecutor(reg).execute_action_spec(ps.ActionSpec("x"), {})
    assert r.success is True
    assert inspect.iscoroutine(r.result)
    r.result.close()
