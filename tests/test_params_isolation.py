"""Params isolation in parallel and phased batches (ferrostator only: pystator 0.0.25
shows an action's params to the whole batch while the action is suspended; docs/contracts.md,
"Deliberate differences").

The rule: while an action runs, ``context["_action_params"]`` holds its own spec's
params (or whatever its own code changed them to); an action whose spec has no params
sees what the key held when the batch began; the key is gone after a batch whose
actions had params (else it holds what it held before), and a nested batch's or
execute's effect on it stays inside the action that ran it — whatever the other actions
of the batch do: timeouts (``asyncio.wait_for``), retries and their sleeps,
cancellation, nested executes, on any event loop, with eager tasks or not.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

import pytest
from conftest import REFERENCE_ONLY
from hypothesis import given
from hypothesis import strategies as st

if REFERENCE_ONLY:
    pytest.skip(
        "FERROSTATOR_REFERENCE_ONLY=1: ferrostator is not under test", allow_module_level=True
    )

from ferrostator import ActionExecutor, ActionRegistry, ActionSpec, TransitionResult  # noqa: E402

KEY = "_action_params"


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()
EAGER = sys.version_info >= (3, 12)


def _view(ctx: dict) -> object:
    return ctx.get(KEY, ABSENT)


MODES = ("parallel", "phased", "specs_parallel")


async def _run_batch(executor: ActionExecutor, mode: str, specs: list, ctx: dict, split=None):
    """One batch of ``specs`` through a fan-out entry point; phased mode spreads them
    over the three phases at ``split`` (default: all in the transition's actions)."""
    if mode == "specs_parallel":
        return await executor.async_execute_action_specs_parallel(specs, ctx)
    i, j = split if split is not None else (0, len(specs))
    tr = TransitionResult.success_result(
        "a",
        "b",
        "go",
        on_exit=tuple(specs[:i]),
        actions=tuple(specs[i:j]),
        on_enter=tuple(specs[j:]),
    )
    if mode == "parallel":
        return await executor.async_execute_parallel(tr, ctx)
    return await executor.async_execute_phased(tr, ctx)


# ---------------------------------------------------------------------------
# Issue 9: a sibling with a timeout showed its params to the batch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fires", [True, False], ids=["timeout fires", "timeout never fires"])
@pytest.mark.parametrize("mode", MODES)
def test_a_timed_sibling_keeps_its_params_to_itself(mode, fires):
    seen = []
    params = {"p": 5}

    async def flaky(ctx):  # no params, retried
        seen.append(("flaky", _view(ctx)))
        raise OSError("down")

    async def slow(ctx):
        seen.append(("slow", _view(ctx)))
        await asyncio.sleep(0)
        seen.append(("slow", _view(ctx)))
        await asyncio.sleep(10 if fires else 0)
        seen.append(("slow", _view(ctx)))
        return "done"

    reg = ActionRegistry()
    reg.register("flaky", flaky)
    reg.register("slow", slow)
    specs = [
        ActionSpec(name="flaky", retry=2, retry_backoff=0.0),
        ActionSpec(name="slow", params=params, timeout=0.1 if fires else 1000),
    ]
    ctx = {}
    executor = ActionExecutor(reg, log_execution=False)
    result = asyncio.run(_run_batch(executor, mode, specs, ctx))
    results = result if isinstance(result, list) else result.action_results
    assert [who for who, _ in seen].count("flaky") == 3
    # (a loop too slow for the timeout may cut "slow" before its second look)
    assert [who for who, _ in seen].count("slow") in ((1, 2) if fires else (3,))
    for who, view in seen:
        assert view is (params if who == "slow" else ABSENT), (who, view)
    if fires:
        assert type(results[1].error) is TimeoutError
    else:
        assert results[1].result == "done"
    assert ctx == {}


@pytest.mark.parametrize("mode", MODES)
def test_cancelled_actions_see_their_own_params_while_they_clean_up(mode):
    seen = []
    pa, pb = {"a": 1}, {"b": 2}

    def make(name):
        async def act(ctx):
            seen.append((name, "start", _view(ctx)))
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                seen.append((name, "cancelled", _view(ctx)))
                await asyncio.sleep(0)
                seen.append((name, "cleaned", _view(ctx)))
                raise

        return act

    reg = ActionRegistry()
    for name in ("a", "b", "c"):
        reg.register(name, make(name))
    specs = [
        ActionSpec("a", params=pa, timeout=1000),
        ActionSpec("b", params=pb),
        ActionSpec("c", timeout=1000),
    ]
    ctx = {}

    async def main():
        batch = asyncio.ensure_future(_run_batch(ActionExecutor(reg), mode, specs, ctx))
        for _ in range(4):
            await asyncio.sleep(0)
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch

    asyncio.run(main())
    expected = {"a": pa, "b": pb, "c": ABSENT}
    assert sorted((name, stage) for name, stage, _ in seen) == sorted(
        (name, stage) for name in "abc" for stage in ("start", "cancelled", "cleaned")
    )
    for name, stage, view in seen:
        assert view is expected[name], (name, stage, view)
    assert ctx == {}


@pytest.mark.parametrize("mode", MODES)
def test_a_nested_batch_inherits_the_view_of_the_action_that_runs_it(mode):
    seen = []
    outer_params, inner_params = {"outer": 1}, {"inner": 2}
    reg = ActionRegistry()
    executor = ActionExecutor(reg, log_execution=False)

    def make(name):
        async def act(ctx):
            seen.append((name, _view(ctx)))
            await asyncio.sleep(0)
            seen.append((name, _view(ctx)))

        return act

    async def outer(ctx):
        seen.append(("outer", _view(ctx)))
        inner = [
            ActionSpec("plain", timeout=1000),
            ActionSpec("owned", params=inner_params, timeout=1000),
            ActionSpec("plain", retry=1),
        ]
        await _run_batch(executor, mode, inner, ctx)

    reg.register("outer", outer)
    reg.register("plain", make("plain"))
    reg.register("owned", make("owned"))
    reg.register("sibling", make("sibling"))
    ctx = {}
    specs = [ActionSpec("outer", params=outer_params), ActionSpec("sibling", timeout=1000)]
    asyncio.run(_run_batch(executor, mode, specs, ctx))
    expected = {
        "outer": outer_params,
        "plain": outer_params,
        "owned": inner_params,
        "sibling": ABSENT,
    }
    assert (
        sorted(name for name, _ in seen)
        == ["outer"] + ["owned"] * 2 + ["plain"] * 4 + ["sibling"] * 2
    )
    for name, view in seen:
        assert view is expected[name], (name, view)
    assert ctx == {}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("owner_timeout", [None, 1000])
def test_a_nested_batchs_pop_stays_inside_the_action_that_ran_it(mode, owner_timeout):
    # Found by the property below (10k examples): the nested batch's action with params
    # ended in its own Task, outside every action, and popped the key there — so with a
    # key set before the outer batch, a later phase's actions saw it gone.
    seen = []
    before, inner_params = {"before": 0}, {"inner": 2}
    reg = ActionRegistry()
    executor = ActionExecutor(reg, log_execution=False)

    async def owned(ctx):
        seen.append(("owned", _view(ctx)))
        await asyncio.sleep(0)
        seen.append(("owned", _view(ctx)))

    async def runner(ctx):
        seen.append(("runner", _view(ctx)))
        await _run_batch(
            executor, mode, [ActionSpec("owned", params=inner_params, timeout=owner_timeout)], ctx
        )
        seen.append(("runner after", _view(ctx)))  # the nested batch ended: popped here
        await asyncio.sleep(0)
        seen.append(("runner after", _view(ctx)))

    def later(ctx):
        seen.append(("later", _view(ctx)))

    reg.register("owned", owned)
    reg.register("runner", runner)
    reg.register("later", later)
    ctx = {KEY: before}
    specs = [ActionSpec("runner"), ActionSpec("later")]
    # phased: "later" runs in the next phase, after the nested batch ended.
    asyncio.run(_run_batch(executor, mode, specs, ctx, split=(0, 1)))
    expected = {"runner": before, "owned": inner_params, "runner after": ABSENT, "later": before}
    assert sorted(name for name, _ in seen) == sorted(
        ["runner", "owned", "owned", "runner after", "runner after", "later"]
    )
    for name, view in seen:
        assert view is expected[name], (name, view)
    assert ctx == {KEY: before}  # the outer batch's own actions had no params


@pytest.mark.parametrize("mode", MODES)
def test_a_key_set_before_the_batch_is_what_actions_without_params_see(mode):
    seen = []
    before, params = {"before": 0}, {"p": 1}

    def make(name):
        async def act(ctx):
            for _ in range(3):
                seen.append((name, _view(ctx)))
                await asyncio.sleep(0)

        return act

    reg = ActionRegistry()
    reg.register("owner", make("owner"))
    reg.register("plain", make("plain"))
    ctx = {KEY: before}
    specs = [ActionSpec("owner", params=params, timeout=1000), ActionSpec("plain", timeout=1000)]
    asyncio.run(_run_batch(ActionExecutor(reg), mode, specs, ctx))
    for name, view in seen:
        assert view is (params if name == "owner" else before), (name, view)
    assert len(seen) == 6
    # pystator's ``finally`` pops the key after an action with params
    assert ctx == {}


# ---------------------------------------------------------------------------
# The property
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One spec of a batch, and its action (registered for this item alone).

    ``params``: "none" (not given), "empty" ({}: no params) or "some".  ``timeout``:
    None, "never" (1000 s) or "short" (20 ms; with ``hang_first`` the first calls wait
    until the timeout cuts them).  Each of the first ``fail_first`` calls raises a
    transient OSError (retried ``retry`` times, backoff 0).  ``nested``: the action
    awaits (sync: calls) a nested execute: "spec" (a spec without params), "spec_params"
    (with params), "batch" (async only: a parallel batch of a spec without params and
    one with params)."""

    is_async: bool
    params: str
    timeout: str | None
    retry: int
    fail_first: int
    hang_first: int
    suspends: int
    suspend_with: str
    nested: str | None


@st.composite
def items(draw) -> Item:
    is_async = draw(st.booleans())
    timeout = draw(st.sampled_from([None, None, "never", "short"]))
    hangs = is_async and timeout == "short"
    return Item(
        is_async=is_async,
        params=draw(st.sampled_from(["none", "empty", "some", "some"])),
        timeout=timeout,
        retry=draw(st.integers(0, 2)),
        fail_first=draw(st.integers(0, 2)),
        hang_first=draw(st.integers(0, 1)) if hangs else 0,
        suspends=draw(st.integers(0, 2)) if is_async else 0,
        suspend_with=draw(st.sampled_from(["sleep0", "future", "task"])),
        nested=draw(
            st.sampled_from([None, None, "spec", "spec_params"] + (["batch"] if is_async else []))
        ),
    )


@dataclass(frozen=True)
class Batch:
    mode: str
    items: tuple
    split: tuple
    key_before: bool
    cancel_after: int | None
    ticker: bool
    eager_factory: bool


@st.composite
def batches(draw) -> Batch:
    its = tuple(draw(st.lists(items(), min_size=1, max_size=5)))
    i = draw(st.integers(0, len(its)))
    j = draw(st.integers(i, len(its)))
    return Batch(
        mode=draw(st.sampled_from(MODES)),
        items=its,
        split=(i, j),
        key_before=draw(st.booleans()),
        cancel_after=draw(st.sampled_from([None, None, None, 0, 1, 2, 4])),
        ticker=draw(st.booleans()),
        eager_factory=EAGER and draw(st.booleans()),
    )


def _run_property_batch(batch: Batch) -> tuple[list, object, object]:
    """Runs ``batch``; returns the (who, expected, seen) views, the key's value after the
    batch, and what it should be."""
    views: list = []
    reg = ActionRegistry()
    executor = ActionExecutor(reg, log_execution=False)
    before = {"before": True}
    ctx: dict = {KEY: before} if batch.key_before else {}
    baseline = before if batch.key_before else ABSENT
    params_objs = [{"item": i} if it.params == "some" else None for i, it in enumerate(batch.items)]
    owners_started: list = []

    def note(who, expected, ctx):
        views.append((who, expected, _view(ctx)))

    async def suspend(how):
        if how == "future":
            fut = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(fut.set_result, None)
            await fut
        elif how == "task":
            await asyncio.ensure_future(asyncio.sleep(0))
        else:
            await asyncio.sleep(0)

    def make_inner(name):
        # expected view: the caller's, when the nested spec has no params
        def sync_inner(ctx):
            note(name, inner_expect[name], ctx)

        async def async_inner(ctx):
            nested_started.add(name)
            expect = inner_expect[name]
            note(name, expect, ctx)
            await asyncio.sleep(0)
            note(name + " resumed", expect, ctx)

        return sync_inner if name.startswith("sync") else async_inner

    inner_expect: dict = {}
    nested_started: set = set()

    def phase(i: int) -> int:
        if batch.mode != "phased":
            return 0
        return 0 if i < batch.split[0] else 1 if i < batch.split[1] else 2

    def batch_start(i: int) -> object:
        # Phases run one after the other: an earlier phase's action with params pops
        # the key (pystator's ``finally``), so a later phase begins without it.
        earlier = any(p is not None and phase(k) < phase(i) for k, p in enumerate(params_objs))
        return ABSENT if earlier else baseline

    def make(i: int, it: Item):
        name = f"a{i}"
        own = params_objs[i] if params_objs[i] is not None else batch_start(i)
        calls = [0]
        nested_params = {"nested_by": i}

        def nested_spec(kind: str, prefix: str):
            inner_expect[f"{prefix}{i}"] = nested_params if kind == "spec_params" else mine[0]
            params = nested_params if kind == "spec_params" else {}
            return ActionSpec(f"{prefix}{i}", params=params)

        mine = [own]

        def after_nested(kind):
            # (however the nested execute ended: it starts its action at once)
            if kind == "spec_params":
                mine[0] = ABSENT  # pystator's finally popped the key in this action's flow
            elif kind == "batch" and f"async_owned{i}" in nested_started:
                # The nested batch ran an action with params: it pops the key when it
                # ends, in this action's flow (however its items ended).
                mine[0] = ABSENT

        def sync_action(ctx):
            n = calls[0]
            calls[0] += 1
            mine[0] = own
            if params_objs[i] is not None:
                owners_started.append(i)
            note((name, n, "enter"), mine[0], ctx)
            if it.nested in ("spec", "spec_params"):
                try:
                    executor.execute_action_spec(nested_spec(it.nested, "sync_inner"), ctx)
                finally:
                    after_nested(it.nested)
                note((name, n, "after nested"), mine[0], ctx)
            if n < it.fail_first:
                raise OSError(f"{name}#{n}")
            return n

        async def async_action(ctx):
            n = calls[0]
            calls[0] += 1
            mine[0] = own
            if params_objs[i] is not None:
                owners_started.append(i)
            note((name, n, "enter"), mine[0], ctx)
            try:
                for _ in range(it.suspends):
                    await suspend(it.suspend_with)
                    note((name, n, "resumed"), mine[0], ctx)
                if n < it.hang_first:
                    await asyncio.Event().wait()
                if it.nested in ("spec", "spec_params"):
                    try:
                        await executor.async_execute_action_spec(
                            nested_spec(it.nested, "async_inner"), ctx
                        )
                    finally:
                        after_nested(it.nested)
                    note((name, n, "after nested"), mine[0], ctx)
                elif it.nested == "batch":
                    inner_expect[f"async_inner{i}"] = mine[0]
                    inner_expect[f"async_owned{i}"] = nested_params
                    try:
                        await executor.async_execute_action_specs_parallel(
                            [
                                ActionSpec(f"async_inner{i}", timeout=1000),
                                ActionSpec(f"async_owned{i}", params=nested_params),
                            ],
                            ctx,
                        )
                    finally:
                        after_nested("batch")
                for _ in range(it.suspends):
                    await suspend(it.suspend_with)
                    note((name, n, "resumed"), mine[0], ctx)
            except asyncio.CancelledError:
                note((name, n, "cancelled"), mine[0], ctx)
                await asyncio.sleep(0)
                note((name, n, "cancelled, resumed"), mine[0], ctx)
                raise
            note((name, n, "end"), mine[0], ctx)
            if n < it.fail_first:
                raise OSError(f"{name}#{n}")
            return n

        return name, async_action if it.is_async else sync_action

    specs = []
    for i, it in enumerate(batch.items):
        name, fn = make(i, it)
        reg.register(name, fn)
        for prefix in ("sync_inner", "async_inner", "async_owned"):
            reg.register(f"{prefix}{i}", make_inner(f"{prefix}{i}"))
        kwargs: dict = {"retry": it.retry, "retry_backoff": 0}
        if it.params != "none":
            kwargs["params"] = params_objs[i] if it.params == "some" else {}
        if it.timeout is not None:
            kwargs["timeout"] = 1000 if it.timeout == "never" else 0.02
        specs.append(ActionSpec(name, **kwargs))

    done = []

    async def tick():
        while not done:
            # Outside every action the key holds what it held before the batch (no
            # action with params has finished yet when it was set before the batch).
            if not batch.key_before:
                views.append(("ticker", ABSENT, _view(ctx)))
            await asyncio.sleep(0)

    async def main():
        if batch.eager_factory:
            asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        if batch.ticker:
            asyncio.ensure_future(tick())
        run = _run_batch(executor, batch.mode, specs, ctx, batch.split)
        try:
            if batch.cancel_after is None:
                await run
            else:
                task = asyncio.ensure_future(run)
                for _ in range(batch.cancel_after):
                    await asyncio.sleep(0)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        finally:
            done.append(True)

    asyncio.run(main())
    # Gone after a batch (or phase) whose own actions had params; a nested batch's or
    # nested execute's pop stays inside the action that ran it.
    expected_after = ABSENT if owners_started or not batch.key_before else before
    return views, _view(ctx), expected_after


@given(batches())
def test_every_call_sees_its_own_params_and_the_key_is_gone_afterwards(batch):
    views, after, expected_after = _run_property_batch(batch)
    wrong = [(who, expected, seen) for who, expected, seen in views if seen is not expected]
    assert not wrong, wrong
    assert after is expected_after
