"""ActionRegistry: registration, lookup, sync/async execution, decorator,
concurrency and the ferrostator-only refusals."""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
from unittest.mock import AsyncMock, MagicMock

import pytest


def _ok(ctx):
    return "ok"


async def _async_ok(ctx):
    return "async-ok"


class _AsyncCallable:
    async def __call__(self, ctx):
        return "called"


class _SyncCallable:
    def __call__(self, ctx):
        return "sync-called"


class _Stop(BaseException):
    pass


# ---------------------------------------------------------------------------
# register / unregister / lookup
# ---------------------------------------------------------------------------


def test_register_and_lookup(impl):
    reg = impl.ActionRegistry()
    assert reg.register("a", _ok) is None
    assert reg.get("a") is _ok
    assert reg.has("a") is True
    assert "a" in reg
    assert len(reg) == 1
    assert reg.list_actions() == ["a"]


def test_empty_registry(impl):
    reg = impl.ActionRegistry()
    assert len(reg) == 0
    assert reg.list_actions() == []
    assert reg.has("a") is False
    assert "a" not in reg
    assert reg.is_async("a") is False
    assert reg.get_metadata("a") == {}


def test_register_empty_name(impl):
    reg = impl.ActionRegistry()
    with pytest.raises(ValueError, match="^Action name cannot be empty$"):
        reg.register("", _ok)
    assert len(reg) == 0


def test_register_duplicate(impl):
    reg = impl.ActionRegistry()
    reg.register("x", _ok)
    with pytest.raises(ValueError, match=re.escape("Action 'x' is already registered")):
        reg.register("x", _async_ok)
    assert reg.get("x") is _ok
    assert reg.is_async("x") is False
    assert len(reg) == 1


def test_unregister(impl):
    reg = impl.ActionRegistry()
    reg.register("x", _async_ok, {"m": 1})
    assert reg.unregister("x") is None
    assert "x" not in reg
    assert reg.has("x") is False
    assert reg.is_async("x") is False
    assert reg.get_metadata("x") == {}
    assert len(reg) == 0


def test_unregister_missing(impl):
    reg = impl.ActionRegistry()
    with pytest.raises(impl.ActionNotFoundError) as info:
        reg.unregister("x")
    assert info.value.message == "Action 'x' not found"
    assert info.value.action_name == "x"
    assert info.value.code is impl.ErrorCode.ACTION_NOT_FOUND
    assert isinstance(info.value, impl.FSMError)


def test_unregister_then_register_again(impl):
    reg = impl.ActionRegistry()
    reg.register("x", _ok)
    reg.unregister("x")
    reg.register("x", _async_ok)
    assert reg.get("x") is _async_ok
    assert reg.is_async("x") is True


def test_get_missing(impl):
    reg = impl.ActionRegistry()
    with pytest.raises(impl.ActionNotFoundError) as info:
        reg.get("nope")
    assert str(info.value) == "Action 'nope' not found (action_name='nope')"
    assert info.value.action_name == "nope"


def test_get_metadata_defaults_and_copies(impl):
    reg = impl.ActionRegistry()
    reg.register("plain", _ok)
    reg.register("meta", _ok, {"team": "billing", "tags": ["x"]})
    reg.register("none", _ok, None)
    assert reg.get_metadata("plain") == {}
    assert reg.get_metadata("none") == {}
    assert reg.get_metadata("meta") == {"team": "billing", "tags": ["x"]}
    md = reg.get_metadata("meta")
    md["team"] = "other"
    md["new"] = 1
    assert reg.get_metadata("meta") == {"team": "billing", "tags": ["x"]}
    assert reg.get_metadata("meta") is not reg.get_metadata("meta")


def test_register_metadata_keyword(impl):
    reg = impl.ActionRegistry()
    reg.register(name="a", func=_ok, metadata={"k": 1})
    assert reg.get_metadata("a") == {"k": 1}


# ---------------------------------------------------------------------------
# is_async
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: _async_ok, True),
        (lambda: _AsyncCallable(), True),
        (lambda: functools.partial(_async_ok), True),
        (lambda: AsyncMock(), True),
        (lambda: _AsyncCallable().__call__, True),
        (lambda: _ok, False),
        (lambda: lambda ctx: None, False),
        (lambda: _SyncCallable(), False),
        (lambda: functools.partial(_ok), False),
        (lambda: MagicMock(), False),
        (lambda: print, False),
        (lambda: lambda ctx: _async_ok(ctx), False),
    ],
    ids=[
        "coroutine-function",
        "async-call-object",
        "partial-of-async",
        "AsyncMock",
        "bound-async-method",
        "sync-function",
        "lambda",
        "sync-call-object",
        "partial-of-sync",
        "MagicMock",
        "builtin",
        "sync-returning-coroutine",
    ],
)
def test_is_async(impl, make, expected):
    func = make()
    reg = impl.ActionRegistry()
    reg.register("x", func)
    assert reg.is_async("x") is expected


def test_is_async_after_clear(impl):
    reg = impl.ActionRegistry()
    reg.register("x", _async_ok)
    reg.clear()
    assert reg.is_async("x") is False


# ---------------------------------------------------------------------------
# execute / execute_all
# ---------------------------------------------------------------------------


def test_execute_ok_passes_the_same_context(impl):
    reg = impl.ActionRegistry()
    seen = []

    def act(ctx):
        seen.append(ctx)
        ctx["touched"] = True
        return 42

    reg.register("a", act)
    ctx = {"user": "alice"}
    r = reg.execute("a", ctx)
    assert r == impl.ActionResult.ok("a", 42)
    assert seen[0] is ctx
    assert ctx == {"user": "alice", "touched": True}


def test_execute_failure_is_wrapped(impl):
    reg = impl.ActionRegistry()
    err = ValueError("bad")

    def boom(ctx):
        raise err

    reg.register("a", boom)
    r = reg.execute("a", {})
    assert r.success is False
    assert r.error is err
    assert r.status is impl.ActionStatus.FAILED
    assert r.action_name == "a"


def test_execute_raise_on_error(impl):
    reg = impl.ActionRegistry()
    err = KeyError("k")

    def boom(ctx):
        raise err

    reg.register("a", boom)
    with pytest.raises(KeyError) as info:
        reg.execute("a", {}, raise_on_error=True)
    assert info.value is err
    with pytest.raises(KeyError):
        reg.execute("a", {}, True)


def test_execute_missing_raises_even_without_raise_on_error(impl):
    reg = impl.ActionRegistry()
    with pytest.raises(impl.ActionNotFoundError, match=re.escape("Action 'x' not found")):
        reg.execute("x", {})


def test_execute_lets_base_exceptions_through(impl):
    reg = impl.ActionRegistry()

    def stop(ctx):
        raise _Stop()

    reg.register("a", stop)
    with pytest.raises(_Stop):
        reg.execute("a", {})


def test_execute_calls_callable_objects(impl):
    reg = impl.ActionRegistry()
    reg.register("a", _SyncCallable())
    assert reg.execute("a", {}).result == "sync-called"


def test_execute_all_order_and_continue(impl):
    reg = impl.ActionRegistry()
    calls = []
    for name in ("a", "b", "c"):
        reg.register(name, lambda ctx, n=name: calls.append(n) or n.upper())

    def boom(ctx):
        calls.append("boom")
        raise RuntimeError("x")

    reg.register("boom", boom)
    results = reg.execute_all(["c", "boom", "a", "b", "a"], {})
    assert calls == ["c", "boom", "a", "b", "a"]
    assert [r.action_name for r in results] == ["c", "boom", "a", "b", "a"]
    assert [r.success for r in results] == [True, False, True, True, True]
    assert results[0].result == "C"


def test_execute_all_stop_on_error(impl):
    reg = impl.ActionRegistry()
    calls = []
    reg.register("a", lambda ctx: calls.append("a"))
    reg.register("bad", lambda ctx: 1 / 0)
    reg.register("c", lambda ctx: calls.append("c"))
    results = reg.execute_all(("a", "bad", "c"), {}, stop_on_error=True)
    assert [r.action_name for r in results] == ["a", "bad"]
    assert isinstance(results[1].error, ZeroDivisionError)
    assert calls == ["a"]
    assert len(reg.execute_all(["bad", "c"], {}, True)) == 1


def test_execute_all_missing_continues(impl):
    reg = impl.ActionRegistry()
    reg.register("a", _ok)
    results = reg.execute_all(["ghost", "a"], {})
    assert len(results) == 2
    assert results[0].success is False
    assert results[0].status is impl.ActionStatus.FAILED
    assert isinstance(results[0].error, impl.ActionNotFoundError)
    assert results[0].error.action_name == "ghost"
    assert results[0].error.message == "Action 'ghost' not found"
    assert results[1] == impl.ActionResult.ok("a", "ok")


def test_execute_all_missing_stops(impl):
    reg = impl.ActionRegistry()
    reg.register("a", _ok)
    results = reg.execute_all(["ghost", "a"], {}, stop_on_error=True)
    assert [r.action_name for r in results] == ["ghost"]


def test_execute_all_empty(impl):
    assert impl.ActionRegistry().execute_all([], {}) == []
    assert impl.ActionRegistry().execute_all((), {}, stop_on_error=True) == []


# ---------------------------------------------------------------------------
# async_execute / async_execute_all
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_execute_awaits_async_and_runs_sync(impl):
    reg = impl.ActionRegistry()
    reg.register("a", _async_ok)
    reg.register("obj", _AsyncCallable())
    reg.register("s", _ok)
    assert await reg.async_execute("a", {}) == impl.ActionResult.ok("a", "async-ok")
    assert (await reg.async_execute("obj", {})).result == "called"
    assert await reg.async_execute("s", {}) == impl.ActionResult.ok("s", "ok")


@pytest.mark.asyncio
async def test_async_execute_failures(impl):
    reg = impl.ActionRegistry()
    err = ConnectionError("down")

    async def boom(ctx):
        await asyncio.sleep(0)
        raise err

    reg.register("a", boom)
    r = await reg.async_execute("a", {})
    assert (r.success, r.error, r.status) == (False, err, impl.ActionStatus.FAILED)
    with pytest.raises(ConnectionError):
        await reg.async_execute("a", {}, raise_on_error=True)
    with pytest.raises(impl.ActionNotFoundError):
        await reg.async_execute("missing", {})


@pytest.mark.asyncio
async def test_async_execute_passes_the_same_context(impl):
    reg = impl.ActionRegistry()
    ctx = {"n": 1}
    seen = []

    async def act(c):
        seen.append(c)

    reg.register("a", act)
    await reg.async_execute("a", ctx)
    assert seen[0] is ctx


@pytest.mark.asyncio
async def test_async_execute_all(impl):
    reg = impl.ActionRegistry()
    calls = []

    async def a(ctx):
        calls.append("a")
        return 1

    def b(ctx):
        calls.append("b")
        raise ValueError("b")

    reg.register("a", a)
    reg.register("b", b)
    results = await reg.async_execute_all(["a", "ghost", "b", "a"], {})
    assert [r.action_name for r in results] == ["a", "ghost", "b", "a"]
    assert [r.success for r in results] == [True, False, False, True]
    assert isinstance(results[1].error, impl.ActionNotFoundError)
    assert calls == ["a", "b", "a"]
    calls.clear()
    stopped = await reg.async_execute_all(["a", "b", "a"], {}, stop_on_error=True)
    assert [r.action_name for r in stopped] == ["a", "b"]
    assert calls == ["a", "b"]
    assert [r.action_name for r in await reg.async_execute_all(["ghost", "a"], {}, True)] == [
        "ghost"
    ]
    assert await reg.async_execute_all([], {}) == []


# ---------------------------------------------------------------------------
# list_actions / clear / len / contains
# ---------------------------------------------------------------------------


def test_list_actions_registration_order(impl):
    reg = impl.ActionRegistry()
    for name in ("zeta", "alpha", "mid"):
        reg.register(name, _ok)
    assert reg.list_actions() == ["zeta", "alpha", "mid"]
    reg.unregister("zeta")
    reg.register("zeta", _ok)
    assert reg.list_actions() == ["alpha", "mid", "zeta"]


def test_list_actions_returns_a_fresh_list(impl):
    reg = impl.ActionRegistry()
    reg.register("a", _ok)
    names = reg.list_actions()
    names.append("b")
    names.remove("a")
    assert reg.list_actions() == ["a"]


def test_clear(impl):
    reg = impl.ActionRegistry()
    reg.register("a", _ok, {"m": 1})
    reg.register("b", _async_ok)
    assert reg.clear() is None
    assert len(reg) == 0
    assert reg.list_actions() == []
    assert "a" not in reg
    assert reg.get_metadata("a") == {}
    reg.register("a", _async_ok)
    assert reg.is_async("a") is True


def test_len_and_contains(impl):
    reg = impl.ActionRegistry()
    reg.register("a", _ok)
    reg.register("b", _ok)
    assert len(reg) == 2
    assert "a" in reg and "b" in reg
    assert "c" not in reg
    reg.unregister("a")
    assert len(reg) == 1
    assert "a" not in reg


# ---------------------------------------------------------------------------
# decorator
# ---------------------------------------------------------------------------


def test_decorator_uses_function_name(impl):
    reg = impl.ActionRegistry()

    @reg.decorator()
    def notify_user(ctx):
        return "sent"

    assert callable(notify_user)
    assert notify_user({}) == "sent"
    assert reg.get("notify_user") is notify_user
    assert reg.get_metadata("notify_user") == {}


def test_decorator_returns_function_unchanged(impl):
    reg = impl.ActionRegistry()

    def f(ctx):
        return 1

    assert reg.decorator()(f) is f
    assert reg.decorator("g", {"k": 1})(f) is f
    assert reg.list_actions() == ["f", "g"]


def test_decorator_explicit_name_and_metadata(impl):
    reg = impl.ActionRegistry()

    @reg.decorator("custom", {"owner": "me"})
    def f(ctx):
        return None

    @reg.decorator(name="kw", metadata={"x": 2})
    async def g(ctx):
        return None

    assert reg.list_actions() == ["custom", "kw"]
    assert reg.get_metadata("custom") == {"owner": "me"}
    assert reg.get_metadata("kw") == {"x": 2}
    assert reg.is_async("kw") is True
    assert reg.is_async("custom") is False
    assert inspect.iscoroutinefunction(g)


def test_decorator_empty_name_falls_back_to_function_name(impl):
    reg = impl.ActionRegistry()

    @reg.decorator("")
    def fallback(ctx):
        return None

    assert reg.list_actions() == ["fallback"]


def test_decorator_duplicate(impl):
    reg = impl.ActionRegistry()
    reg.register("dup", _ok)
    with pytest.raises(ValueError, match=re.escape("Action 'dup' is already registered")):

        @reg.decorator()
        def dup(ctx):
            return None


# ---------------------------------------------------------------------------
# Deliberate differences: sync paths and async actions; early refusals
# ---------------------------------------------------------------------------


def test_fs_execute_refuses_async_action(fs):
    reg = fs.ActionRegistry()
    mock = AsyncMock(return_value=1)
    reg.register("x", mock)
    r = reg.execute("x", {})
    assert r.success is False
    assert r.status is fs.ActionStatus.FAILED
    assert type(r.error) is RuntimeError
    assert str(r.error) == "Action 'x' is async and cannot be executed synchronously"
    assert mock.call_count == 0


def test_fs_execute_refuses_async_callable_object(fs):
    reg = fs.ActionRegistry()
    reg.register("x", _AsyncCallable())
    r = reg.execute("x", {})
    assert str(r.error) == "Action 'x' is async and cannot be executed synchronously"


def test_fs_execute_async_action_raise_on_error(fs):
    reg = fs.ActionRegistry()
    mock = AsyncMock()
    reg.register("x", mock)
    with pytest.raises(
        RuntimeError, match=re.escape("Action 'x' is async and cannot be executed synchronously")
    ):
        reg.execute("x", {}, raise_on_error=True)
    assert mock.call_count == 0


def test_fs_execute_all_with_async_action(fs):
    reg = fs.ActionRegistry()
    reg.register("x", _async_ok)
    reg.register("y", _ok)
    results = reg.execute_all(["x", "y"], {})
    assert [r.success for r in results] == [False, True]
    assert isinstance(results[0].error, RuntimeError)
    assert [r.action_name for r in reg.execute_all(["x", "y"], {}, stop_on_error=True)] == ["x"]


def test_fs_execute_sync_callable_returning_coroutine(fs):
    reg = fs.ActionRegistry()
    made = []

    def sneaky(ctx):
        coro = _async_ok(ctx)
        made.append(coro)
        return coro

    reg.register("x", sneaky)
    r = reg.execute("x", {})
    assert r.success is False
    assert type(r.error) is RuntimeError
    assert str(r.error) == "Action 'x' returned an awaitable in synchronous execution"
    assert inspect.getcoroutinestate(made[0]) == inspect.CORO_CLOSED


def test_pystator_execute_async_action_returns_the_coroutine(ps):
    reg = ps.ActionRegistry()
    reg.register("x", _async_ok)
    r = reg.execute("x", {})
    assert r.success is True
    assert inspect.iscoroutine(r.result)
    r.result.close()


@pytest.mark.asyncio
async def test_fs_async_execute_awaits_awaitable_from_sync_callable(fs):
    reg = fs.ActionRegistry()
    reg.register("x", lambda ctx: _async_ok(ctx))
    assert reg.is_async("x") is False
    r = await reg.async_execute("x", {})
    assert r == fs.ActionResult.ok("x", "async-ok")


@pytest.mark.asyncio
async def test_pystator_async_execute_returns_awaitable_from_sync_callable(ps):
    reg = ps.ActionRegistry()
    reg.register("x", lambda ctx: _async_ok(ctx))
    r = await reg.async_execute("x", {})
    assert inspect.iscoroutine(r.result)
    r.result.close()


def test_fs_register_rejects_non_str_name(fs):
    reg = fs.ActionRegistry()
    with pytest.raises(TypeError, match="name"):
        reg.register(123, _ok)
    assert len(reg) == 0


def test_fs_register_rejects_non_callable(fs):
    reg = fs.ActionRegistry()
    with pytest.raises(TypeError, match="func|callable"):
        reg.register("x", 42)
    assert "x" not in reg


def test_pystator_register_accepts_non_callable(ps):
    reg = ps.ActionRegistry()
    reg.register("x", 42)
    assert "x" in reg
    r = reg.execute("x", {})
    assert isinstance(r.error, TypeError)


def test_constructor_takes_no_arguments(impl):
    with pytest.raises(TypeError):
        impl.ActionRegistry(1, 2)
    with pytest.raises(TypeError):
        impl.ActionRegistry(actions={})

    class Named(impl.ActionRegistry):
        def __init__(self, name):
            super().__init__()
            self.name = name

    assert Named("x").name == "x" and len(Named("y")) == 0
