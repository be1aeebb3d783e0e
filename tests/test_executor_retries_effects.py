"""ActionExecutor synchronous paths: retries with backoff and declarative effects."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from unittest.mock import call, patch

import pytest
from _executor_helpers import Flaky, executor_records
from _reliability import tr_of
from conftest import PATCHES_SLEEP
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

UTC = timezone.utc  # datetime.UTC is Python 3.11+


# ---------------------------------------------------------------------------
# Retries
# ---------------------------------------------------------------------------


@PATCHES_SLEEP
@pytest.mark.parametrize("exc_type", [OSError, ConnectionError, TimeoutError])
def test_transient_errors_are_retried_with_backoff(impl, exc_type):
    reg = impl.ActionRegistry()
    flaky = Flaky(*(exc_type(f"e{i}") for i in range(10)))
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        r = impl.ActionExecutor(reg).execute_action_spec(
            impl.ActionSpec("a", retry=3, retry_backoff=0.5), {}
        )
    assert flaky.calls == 4
    assert sleep.call_args_list == [call(0.5), call(1.0), call(2.0)]
    assert r.success is False
    assert type(r.error) is exc_type
    assert str(r.error) == "e3"


@PATCHES_SLEEP
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    retry=st.integers(min_value=0, max_value=8),
    backoff=st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_backoff_schedule_property(impl, retry, backoff):
    reg = impl.ActionRegistry()
    flaky = Flaky(*(OSError() for _ in range(20)))
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        r = impl.ActionExecutor(reg).execute_action_spec(
            impl.ActionSpec("a", retry=retry, retry_backoff=backoff), {}
        )
    assert flaky.calls == retry + 1
    assert [c.args for c in sleep.call_args_list] == [(backoff * 2**k,) for k in range(retry)]
    assert r.success is False


@PATCHES_SLEEP
def test_retry_success_on_later_attempt(impl):
    reg = impl.ActionRegistry()
    flaky = Flaky(ConnectionResetError(), OSError(), value=42)
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        res = impl.ActionExecutor(reg).execute(
            tr_of(impl, [impl.ActionSpec("a", retry=5, retry_backoff=0.1)]), {}
        )
    assert flaky.calls == 3
    assert sleep.call_args_list == [call(0.1), call(0.2)]
    assert res.action_results == [impl.ActionResult.ok("a", 42)]


@PATCHES_SLEEP
def test_no_retry_by_default(impl):
    reg = impl.ActionRegistry()
    flaky = Flaky(ConnectionError())
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        r = impl.ActionExecutor(reg).execute_action_spec(impl.ActionSpec("a"), {})
    assert flaky.calls == 1
    sleep.assert_not_called()
    assert isinstance(r.error, ConnectionError)


@PATCHES_SLEEP
def test_negative_retry_means_one_attempt(impl):
    reg = impl.ActionRegistry()
    flaky = Flaky(ConnectionError(), ConnectionError())
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        impl.ActionExecutor(reg).execute_action_spec(impl.ActionSpec("a", retry=-2), {})
    assert flaky.calls == 1
    sleep.assert_not_called()


@PATCHES_SLEEP
def test_zero_backoff_still_sleeps_zero(impl):
    reg = impl.ActionRegistry()
    flaky = Flaky(OSError(), OSError(), OSError())
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        impl.ActionExecutor(reg).execute_action_spec(
            impl.ActionSpec("a", retry=2, retry_backoff=0.0), {}
        )
    assert sleep.call_args_list == [call(0.0), call(0.0)]


@PATCHES_SLEEP
def test_permanent_error_stops_retries(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    flaky = Flaky(ValueError("perm"), ValueError("again"))
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        r = impl.ActionExecutor(reg).execute_action_spec(impl.ActionSpec("a", retry=3), {})
    assert flaky.calls == 1
    sleep.assert_not_called()
    assert str(r.error) == "perm"
    assert [(x.levelno, x.getMessage()) for x in executor_records(caplog, impl)] == [
        (logging.INFO, "Action 'a' failed with permanent error, skipping retries")
    ]


@PATCHES_SLEEP
def test_transient_then_permanent(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    flaky = Flaky(TimeoutError(), KeyError("k"), value="never")
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        r = impl.ActionExecutor(reg).execute_action_spec(
            impl.ActionSpec("a", retry=4, retry_backoff=2.0), {}
        )
    assert flaky.calls == 2
    assert sleep.call_args_list == [call(2.0)]
    assert isinstance(r.error, KeyError)
    assert [x.levelno for x in executor_records(caplog, impl)] == [logging.INFO]


def test_permanent_error_without_retries_is_not_logged(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    reg.register("a", Flaky(ValueError()))
    impl.ActionExecutor(reg).execute_action_spec(impl.ActionSpec("a"), {})
    assert executor_records(caplog, impl) == []


@PATCHES_SLEEP
def test_retries_via_execute_and_execute_action_specs(impl):
    reg = impl.ActionRegistry()
    f1, f2 = Flaky(OSError(), value=1), Flaky(OSError(), value=2)
    reg.register("a", f1)
    reg.register("b", f2)
    ex = impl.ActionExecutor(reg)
    with patch("time.sleep") as sleep:
        res = ex.execute(tr_of(impl, [impl.ActionSpec("a", retry=1, retry_backoff=3.0)]), {})
        rs = ex.execute_action_specs([impl.ActionSpec("b", retry=1, retry_backoff=4.0)], {})
    assert res.action_results[0].result == 1
    assert rs[0].result == 2
    assert sleep.call_args_list == [call(3.0), call(4.0)]


@PATCHES_SLEEP
def test_execute_specific_does_not_retry(impl):
    reg = impl.ActionRegistry()
    flaky = Flaky(OSError(), value=1)
    reg.register("a", flaky)
    with patch("time.sleep") as sleep:
        r = impl.ActionExecutor(reg).execute_specific(["a"], {})
    assert flaky.calls == 1
    sleep.assert_not_called()
    assert r[0].success is False


# ---------------------------------------------------------------------------
# Declarative effects
# ---------------------------------------------------------------------------


def _run_effect(impl, config, ctx):
    spec = impl.ActionSpec.from_config(config)
    return impl.ActionExecutor(impl.ActionRegistry()).execute(tr_of(impl, [spec]), ctx)


def test_effect_set(impl):
    ctx = {"a": 0}
    res = _run_effect(impl, {"set": {"a": 1, "b": "x"}}, ctx)
    assert ctx == {"a": 1, "b": "x"}
    assert res.action_results == [impl.ActionResult.ok("_effect.set")]


def test_effect_timestamp(impl):
    ctx = {}
    before = datetime.now(UTC)
    _run_effect(impl, {"timestamp": "at"}, ctx)
    after = datetime.now(UTC)
    assert isinstance(ctx["at"], str)
    assert ctx["at"].endswith("+00:00")
    stamp = datetime.fromisoformat(ctx["at"])
    assert stamp.utcoffset() == timedelta(0)
    assert before <= stamp <= after
    assert "_action_params" not in ctx


def test_effect_increment_and_decrement(impl):
    ctx = {"n": 5}
    _run_effect(impl, {"increment": "n"}, ctx)
    _run_effect(impl, {"increment": "fresh"}, ctx)
    _run_effect(impl, {"decrement": "m"}, ctx)
    _run_effect(impl, {"decrement": "n"}, ctx)
    assert ctx == {"n": 5, "fresh": 1, "m": -1}
    ctx = {"f": 1.5}
    _run_effect(impl, {"increment": "f"}, ctx)
    assert ctx["f"] == 2.5


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    start=st.one_of(st.none(), st.integers(-(10**6), 10**6)),
    ups=st.integers(0, 5),
    downs=st.integers(0, 5),
)
def test_increment_decrement_property(impl, start, ups, downs):
    ctx = {} if start is None else {"n": start}
    inc = impl.ActionSpec.from_config({"increment": "n"})
    dec = impl.ActionSpec.from_config({"decrement": "n"})
    specs = [inc] * ups + [dec] * downs
    if specs:
        impl.ActionExecutor(impl.ActionRegistry()).execute_action_specs(specs, ctx)
    expected = (start or 0) + ups - downs if specs else start
    assert ctx.get("n") == expected


def test_effect_append(impl):
    log = ["a"]
    ctx = {"log": log}
    _run_effect(impl, {"append": {"field": "log", "value": "b"}}, ctx)
    _run_effect(impl, {"append": {"field": "new", "value": {"k": 1}}}, ctx)
    assert ctx["log"] is log
    assert log == ["a", "b"]
    assert ctx["new"] == [{"k": 1}]


def test_effect_clear(impl):
    ctx = {"gone": 1, "kept": 2}
    res = _run_effect(impl, {"clear": "gone"}, ctx)
    _run_effect(impl, {"clear": "never_there"}, ctx)
    assert ctx == {"kept": 2}
    assert res.action_results[0].success is True


def test_effects_do_not_use_the_registry(impl):
    reg = impl.ActionRegistry()
    called = []
    reg.register("_effect.set", lambda ctx: called.append(1))
    ctx = {}
    spec = impl.ActionSpec.from_config({"set": {"k": 1}})
    res = impl.ActionExecutor(reg).execute(tr_of(impl, [spec]), ctx)
    assert called == []
    assert ctx == {"k": 1}
    assert res.action_results[0].result is None


def test_unknown_effect_type(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    ex = impl.ActionExecutor(impl.ActionRegistry())
    r = ex.execute_action_spec(impl.ActionSpec("_effect.nope", {"x": 1}), {})
    assert r.success is False
    assert r.action_name == "_effect.nope"
    assert type(r.error) is ValueError
    assert str(r.error) == "Unknown effect type: nope"
    assert executor_records(caplog, impl) == []


def test_effect_missing_field(impl):
    ex = impl.ActionExecutor(impl.ActionRegistry())
    ctx = {"n": 1}
    r = ex.execute_action_spec(impl.ActionSpec("_effect.increment"), ctx)
    assert r.success is False
    assert type(r.error) is KeyError
    assert r.error.args == ("field",)
    assert ctx == {"n": 1}


def test_effect_type_error_is_a_failed_result(impl):
    ex = impl.ActionExecutor(impl.ActionRegistry())
    r = ex.execute_action_spec(impl.ActionSpec.from_config({"increment": "s"}), {"s": "text"})
    assert r.success is False
    assert isinstance(r.error, TypeError)


@PATCHES_SLEEP
def test_failing_effect_is_not_retried(impl):
    ex = impl.ActionExecutor(impl.ActionRegistry())
    with patch("time.sleep") as sleep:
        r = ex.execute_action_spec(impl.ActionSpec("_effect.increment", retry=3), {})
    sleep.assert_not_called()
    assert r.success is False


def test_effect_by_name_in_execute_specific(impl):
    ex = impl.ActionExecutor(impl.ActionRegistry())
    ctx = {}
    rs = ex.execute_specific(["_effect.set", "_effect.timestamp"], ctx)
    assert rs[0] == impl.ActionResult.ok("_effect.set")
    assert isinstance(rs[1].error, KeyError)
    assert ctx == {}


def test_effects_and_actions_interleave_in_order(impl):
    reg = impl.ActionRegistry()
    seen = []
    reg.register("read", lambda ctx: seen.append(ctx.get("n")))
    inc = impl.ActionSpec.from_config({"increment": "n"})
    res = impl.ActionExecutor(reg).execute(
        tr_of(impl, ["read", inc, "read"], on_exit=[inc], on_enter=["read"]), {}
    )
    assert seen == [1, 2, 2]
    assert res.action_count == 5
