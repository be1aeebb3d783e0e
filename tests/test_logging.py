"""Log records emitted by the executor: logger name, level and message per path."""

from __future__ import annotations

import asyncio
import logging
from unittest.mock import AsyncMock, call, patch

import pytest
from conftest import PATCHES_SLEEP, caplog_records

_SKIP = "Action 'ghost' not registered, skipping"
_PERMANENT = "Action 'x' failed with permanent error, skipping retries"
_NONE_CTX = "Action 'x' raised exception: 'NoneType' object does not support item assignment"


def _tr(impl, names):
    specs = tuple(n if not isinstance(n, str) else impl.ActionSpec(n) for n in names)
    return impl.TransitionResult.success_result("a", "b", "go", actions=specs)


def _records(caplog, impl):
    return [r for r in caplog_records(caplog) if r.name == impl.LOGGER]


def _summary(caplog, impl):
    return [(r.levelno, r.getMessage()) for r in _records(caplog, impl)]


async def _run_path(impl, ex, path, spec, ctx):
    """Run one spec through the named executor path (sync paths run directly)."""
    name = spec.name
    if path == "execute":
        return ex.execute(_tr(impl, [spec]), ctx).action_results
    if path == "execute_specific":
        return ex.execute_specific([name], ctx)
    if path == "execute_action_spec":
        return [ex.execute_action_spec(spec, ctx)]
    if path == "execute_action_specs":
        return ex.execute_action_specs([spec], ctx)
    if path == "async_execute":
        return (await ex.async_execute(_tr(impl, [spec]), ctx)).action_results
    if path == "async_execute_parallel":
        return (await ex.async_execute_parallel(_tr(impl, [spec]), ctx)).action_results
    if path == "async_execute_phased":
        return (await ex.async_execute_phased(_tr(impl, [spec]), ctx)).action_results
    if path == "async_execute_specific_parallel":
        return await ex.async_execute_specific_parallel([name], ctx)
    if path == "async_execute_action_spec":
        return [await ex.async_execute_action_spec(spec, ctx)]
    if path == "async_execute_action_specs_parallel":
        return await ex.async_execute_action_specs_parallel([spec], ctx)
    raise AssertionError(path)


ALL_PATHS = [
    "execute",
    "execute_specific",
    "execute_action_spec",
    "execute_action_specs",
    "async_execute",
    "async_execute_parallel",
    "async_execute_phased",
    "async_execute_specific_parallel",
    "async_execute_action_spec",
    "async_execute_action_specs_parallel",
]
SPEC_PATHS = [p for p in ALL_PATHS if "specific" not in p]
SYNC_SPEC_PATHS = [p for p in SPEC_PATHS if not p.startswith("async")]
ASYNC_SPEC_PATHS = [p for p in SPEC_PATHS if p.startswith("async")]


# ---------------------------------------------------------------------------
# Missing action warning
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ALL_PATHS)
async def test_missing_action_warning_on_every_path(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    ex = impl.ActionExecutor(impl.ActionRegistry())
    results = await _run_path(impl, ex, path, impl.ActionSpec("ghost"), {})
    assert results == [impl.ActionResult.skipped("ghost")]
    recs = _records(caplog, impl)
    assert len(recs) == 1
    assert recs[0].name == impl.LOGGER
    assert recs[0].levelno == logging.WARNING
    assert recs[0].levelname == "WARNING"
    assert recs[0].getMessage() == _SKIP
    assert recs[0].exc_info is None


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ALL_PATHS)
async def test_no_warning_when_log_execution_false(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    ex = impl.ActionExecutor(impl.ActionRegistry(), log_execution=False)
    results = await _run_path(impl, ex, path, impl.ActionSpec("ghost"), {})
    assert results[0].is_skipped
    assert _records(caplog, impl) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ALL_PATHS)
async def test_strict_mode_raises_without_logging(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    ex = impl.ActionExecutor(impl.ActionRegistry(), strict=True)
    with pytest.raises(impl.ActionNotFoundError):
        await _run_path(impl, ex, path, impl.ActionSpec("ghost"), {})
    assert _records(caplog, impl) == []


def test_one_warning_per_missing_action(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    ex = impl.ActionExecutor(impl.ActionRegistry())
    ex.execute(_tr(impl, ["m1", "m2", "m1"]), {})
    assert [m for _, m in _summary(caplog, impl)] == [
        "Action 'm1' not registered, skipping",
        "Action 'm2' not registered, skipping",
        "Action 'm1' not registered, skipping",
    ]


# ---------------------------------------------------------------------------
# Quiet paths
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ALL_PATHS)
async def test_success_and_plain_failure_log_nothing(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    reg.register("ok", lambda ctx: 1)
    reg.register("bad", lambda ctx: 1 / 0)
    ex = impl.ActionExecutor(reg)
    assert (await _run_path(impl, ex, path, impl.ActionSpec("ok"), {}))[0].success
    assert not (await _run_path(impl, ex, path, impl.ActionSpec("bad"), {}))[0].success
    eff = impl.ActionSpec("_effect.nope")
    assert not (await _run_path(impl, ex, path, eff, {}))[0].success
    assert _records(caplog, impl) == []


@pytest.mark.asyncio
async def test_transient_retries_log_nothing(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    reg.register("x", lambda ctx: (_ for _ in ()).throw(ConnectionError()))
    ex = impl.ActionExecutor(reg)
    spec = impl.ActionSpec("x", retry=2)
    with patch("time.sleep"):
        ex.execute_action_spec(spec, {})
    with patch("asyncio.sleep", new_callable=AsyncMock):
        await ex.async_execute_action_spec(spec, {})
    assert _records(caplog, impl) == []


@pytest.mark.asyncio
async def test_timeout_logs_nothing(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()

    async def hang(ctx):
        await asyncio.Event().wait()

    reg.register("x", hang)
    r = await impl.ActionExecutor(reg).async_execute_action_spec(
        impl.ActionSpec("x", timeout=0.01), {}
    )
    assert isinstance(r.error, TimeoutError)
    assert _records(caplog, impl) == []


# ---------------------------------------------------------------------------
# Permanent error INFO
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("path", SPEC_PATHS)
async def test_permanent_error_info(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    reg.register("x", lambda ctx: int("nope"))
    ex = impl.ActionExecutor(reg)
    with patch("time.sleep") as sleep, patch("asyncio.sleep", new_callable=AsyncMock) as asleep:
        results = await _run_path(impl, ex, path, impl.ActionSpec("x", retry=2), {})
    assert isinstance(results[0].error, ValueError)
    sleep.assert_not_called()
    asleep.assert_not_called()
    recs = _records(caplog, impl)
    assert [(r.levelname, r.getMessage()) for r in recs] == [("INFO", _PERMANENT)]
    assert recs[0].exc_info is None


@pytest.mark.asyncio
@pytest.mark.parametrize("path", SPEC_PATHS)
async def test_permanent_error_info_suppressed(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    reg.register("x", lambda ctx: int("nope"))
    ex = impl.ActionExecutor(reg, log_execution=False)
    await _run_path(impl, ex, path, impl.ActionSpec("x", retry=2), {})
    assert _records(caplog, impl) == []


# ---------------------------------------------------------------------------
# logger.exception path: something outside the action call raises
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("path", SPEC_PATHS)
async def test_none_context_with_params_logs_exception(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    called = []
    reg.register("x", lambda ctx: called.append(ctx))
    ex = impl.ActionExecutor(reg)
    with patch("time.sleep") as sleep, patch("asyncio.sleep", new_callable=AsyncMock) as asleep:
        results = await _run_path(impl, ex, path, impl.ActionSpec("x", {"p": 1}, retry=3), None)
    r = results[0]
    assert r.success is False
    assert r.status is impl.ActionStatus.FAILED
    assert type(r.error) is TypeError
    assert str(r.error) == "'NoneType' object does not support item assignment"
    assert called == []
    sleep.assert_not_called()
    asleep.assert_not_called()
    recs = _records(caplog, impl)
    assert len(recs) == 1
    assert recs[0].levelno == logging.ERROR
    assert recs[0].getMessage() == _NONE_CTX
    assert recs[0].exc_info is not None
    assert recs[0].exc_info[0] is TypeError
    assert recs[0].exc_info[1] is r.error


@pytest.mark.asyncio
@pytest.mark.parametrize("path", SPEC_PATHS)
async def test_none_context_with_params_quiet_when_log_execution_false(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    reg.register("x", lambda ctx: None)
    ex = impl.ActionExecutor(reg, log_execution=False)
    results = await _run_path(impl, ex, path, impl.ActionSpec("x", {"p": 1}), None)
    assert type(results[0].error) is TypeError
    assert _records(caplog, impl) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("path", SPEC_PATHS)
async def test_none_context_without_params_reaches_the_action(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    reg.register("x", lambda ctx: ctx)
    results = await _run_path(impl, impl.ActionExecutor(reg), path, impl.ActionSpec("x"), None)
    assert results == [impl.ActionResult.ok("x", None)]
    assert _records(caplog, impl) == []


class _FlakyContext(dict):
    """A dict whose first ``fails`` item assignments raise ConnectionError."""

    def __init__(self, fails):
        super().__init__()
        self.fails = fails

    def __setitem__(self, key, value):
        if self.fails:
            self.fails -= 1
            raise ConnectionError("context store unavailable")
        super().__setitem__(key, value)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", SYNC_SPEC_PATHS + ASYNC_SPEC_PATHS)
async def test_transient_error_outside_action_is_logged_and_retried(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    seen = []
    reg.register("x", lambda ctx: seen.append(dict(ctx)) or "ran")
    ctx = _FlakyContext(fails=1)
    with patch("time.sleep") as sleep, patch("asyncio.sleep", new_callable=AsyncMock) as asleep:
        results = await _run_path(
            impl,
            impl.ActionExecutor(reg),
            path,
            impl.ActionSpec("x", {"p": 1}, retry=2, retry_backoff=0.5),
            ctx,
        )
    assert results == [impl.ActionResult.ok("x", "ran")]
    assert seen == [{"_action_params": {"p": 1}}]
    assert dict(ctx) == {}
    slept = sleep if path in SYNC_SPEC_PATHS else asleep
    assert slept.call_args_list == [call(0.5)]
    recs = _records(caplog, impl)
    assert [(r.levelno, r.getMessage()) for r in recs] == [
        (logging.ERROR, "Action 'x' raised exception: context store unavailable")
    ]
    assert recs[0].exc_info[0] is ConnectionError


@pytest.mark.asyncio
@pytest.mark.parametrize("path", SYNC_SPEC_PATHS + ASYNC_SPEC_PATHS)
async def test_transient_error_outside_action_exhausts_retries(impl, caplog, path):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()
    reg.register("x", lambda ctx: "never")
    ctx = _FlakyContext(fails=10)
    with patch("time.sleep"), patch("asyncio.sleep", new_callable=AsyncMock):
        results = await _run_path(
            impl, impl.ActionExecutor(reg), path, impl.ActionSpec("x", {"p": 1}, retry=2), ctx
        )
    assert isinstance(results[0].error, ConnectionError)
    assert [r.levelno for r in _records(caplog, impl)] == [logging.ERROR] * 3


@PATCHES_SLEEP
def test_action_unregistered_between_retries_sync(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()

    def vanish(ctx):
        reg.unregister("x")
        raise ConnectionError("gone")

    reg.register("x", vanish)
    with patch("time.sleep") as sleep:
        r = impl.ActionExecutor(reg).execute_action_spec(impl.ActionSpec("x", retry=3), {})
    assert sleep.call_args_list == [call(1.0)]
    assert isinstance(r.error, impl.ActionNotFoundError)
    assert _summary(caplog, impl) == [
        (logging.ERROR, "Action 'x' raised exception: Action 'x' not found (action_name='x')")
    ]


@pytest.mark.asyncio
async def test_action_unregistered_between_retries_async(impl, caplog):
    caplog.set_level(logging.DEBUG, logger=impl.LOGGER)
    reg = impl.ActionRegistry()

    async def vanish(ctx):
        reg.unregister("x")
        raise TimeoutError("gone")

    reg.register("x", vanish)
    with patch("asyncio.sleep", new_callable=AsyncMock) as sleep:
        r = await impl.ActionExecutor(reg).async_execute_action_spec(
            impl.ActionSpec("x", retry=3, retry_backoff=0.2), {}
        )
    assert sleep.call_args_list == [call(0.2)]
    assert isinstance(r.error, impl.ActionNotFoundError)
    assert _summary(caplog, impl) == [
        (logging.ERROR, "Action 'x' raised exception: Action 'x' not found (action_name='x')")
    ]


# ---------------------------------------------------------------------------
# Logger identity
# ---------------------------------------------------------------------------


@pytest.mark.thread_unsafe(
    reason="adds a handler to, and sets the level of, the implementation logger: process-wide"
)
def test_records_go_to_the_implementation_logger(impl):
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger(impl.LOGGER)
    handler = Collect(level=logging.DEBUG)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        impl.ActionExecutor(impl.ActionRegistry()).execute(_tr(impl, ["ghost"]), {})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert [(r.name, r.levelname, r.getMessage()) for r in records] == [
        (impl.LOGGER, "WARNING", _SKIP)
    ]


def test_logger_level_filters_records(impl, caplog):
    caplog.set_level(logging.ERROR, logger=impl.LOGGER)
    impl.ActionExecutor(impl.ActionRegistry()).execute(_tr(impl, ["ghost"]), {})
    assert _records(caplog, impl) == []


def test_fs_logger_name(fs, caplog):
    caplog.set_level(logging.DEBUG)
    fs.ActionExecutor(fs.ActionRegistry()).execute(_tr(fs, ["ghost"]), {})
    names = [r.name for r in caplog_records(caplog) if r.getMessage() == _SKIP]
    assert names == ["ferrostator.actions"]


def test_pystator_logger_name(ps, caplog):
    caplog.set_level(logging.DEBUG)
    ps.ActionExecutor(ps.ActionRegistry()).execute(_tr(ps, ["ghost"]), {})
    names = [r.name for r in caplog_records(caplog) if r.getMessage() == _SKIP]
    assert names == ["pystator.actions"]
