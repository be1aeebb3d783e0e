"""Reliability: leaks. Reference counts of everything the caller hands in (registered
callables, contexts, params, specs, transitions, registry, executor) are unchanged
after many executions in every mode and on the error paths; RSS stays flat; objects
caught in reference cycles (a registry whose action closes over it, an executor, a
spec or transition whose fields lead back to it, a suspended execution) are
collected by the garbage collector.

Default sizes (to keep `make test` fast on a shared 2-core machine): 100k sync,
50k async-sequential, 10k parallel and 10k phased executions, 40k for RSS;
tests/stress/ runs 100k of every mode (and the error paths) and 1M for RSS.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import types
import weakref
from unittest import mock

import _reliability as R
import pytest
from conftest import COLLECTS_GARBAGE, PATCHES_SLEEP, collect_until

# Every test here counts references, measures RSS or waits for a collection after
# gc.collect().
pytestmark = COLLECTS_GARBAGE

# ---------------------------------------------------------------------------
# Reference counts
# ---------------------------------------------------------------------------


class Refcounts:
    """sys.getrefcount of named objects, compared before and after. Construct it,
    then call ``start()`` (the call that passes the objects holds temporary
    references of its own)."""

    def __init__(self, **objects):
        self.objects = objects
        self.before: dict = {}

    def start(self):
        self.before = self.snapshot()
        return self

    def snapshot(self):
        gc.collect()
        return {k: sys.getrefcount(v) for k, v in self.objects.items()}

    def deltas(self):
        after = self.snapshot()
        return {k: after[k] - self.before[k] for k in after if after[k] != self.before[k]}


def _world(ns):
    """A registry and executor with sync, async and suspending actions, a params
    dict, metadata, specs of every kind and transitions mixing them."""
    reg = ns.ActionRegistry()
    ex = ns.ActionExecutor(reg, log_execution=False)

    def sync_action(ctx):
        return ctx.get(R.PARAMS_KEY)

    async def async_action(ctx):
        return 1

    async def suspending(ctx):
        await asyncio.sleep(0)
        return ctx.get(R.PARAMS_KEY)

    meta = {"owner": "tests"}
    reg.register("sync", sync_action, meta)
    reg.register("async", async_action)
    reg.register("suspending", suspending)
    params = {"k": 1}
    specs = (
        ns.ActionSpec("sync", params=params),
        ns.ActionSpec("missing"),
        ns.ActionSpec.from_config({"increment": "n"}),
        ns.ActionSpec("async"),
        ns.ActionSpec("suspending", params=params),
    )
    sync_tr = R.tr_of(ns, actions=specs[:3])
    async_tr = R.tr_of(ns, on_exit=specs[:2], actions=specs[2:4], on_enter=specs[4:])
    objects = dict(
        reg=reg,
        ex=ex,
        sync_action=sync_action,
        async_action=async_action,
        suspending=suspending,
        meta=meta,
        params=params,
        sync_tr=sync_tr,
        async_tr=async_tr,
        **{f"spec{i}": s for i, s in enumerate(specs)},
    )
    return reg, ex, sync_tr, async_tr, objects


def run_mode(ex, mode, tr, ctx, n):
    if mode == "sync":
        for _ in range(n):
            ex.execute(tr, ctx)
        return

    async def main():
        method = getattr(ex, mode)
        for _ in range(n):
            await method(tr, ctx)

    asyncio.run(main())


MODES = [
    ("sync", 100_000),
    ("async_execute", 50_000),
    ("async_execute_parallel", 10_000),
    ("async_execute_phased", 10_000),
]


def check_refcounts_after(ns, mode, n):
    reg, ex, sync_tr, async_tr, objects = _world(ns)
    tr = sync_tr if mode == "sync" else async_tr
    ctx = {"n": 0}
    run_mode(ex, mode, tr, ctx, 50)  # warm caches (interned names, lazy imports)
    counts = Refcounts(ctx=ctx, **objects)
    counts.start()
    run_mode(ex, mode, tr, ctx, n)
    assert ctx["n"] == n + 50
    assert R.PARAMS_KEY not in ctx
    return counts.deltas()


@pytest.mark.parametrize("mode,n", MODES, ids=[m for m, _ in MODES])
def test_refcounts_unchanged_after_many_executions(fs, mode, n):
    assert check_refcounts_after(fs, mode, n) == {}


def test_refcount_check_detects_a_leak(fs):
    """The refcount check can fail: an action that keeps every context it is given
    shows up as a delta of exactly the number of executions."""
    kept = []
    reg = fs.ActionRegistry()
    ex = fs.ActionExecutor(reg, log_execution=False)

    def hoarder(ctx):
        kept.append(ctx)

    reg.register("hoarder", hoarder)
    tr = R.tr_of(fs, actions=("hoarder",))
    ctx: dict = {}
    counts = Refcounts(ctx=ctx, hoarder=hoarder, tr=tr)
    counts.start()
    run_mode(ex, "async_execute", tr, ctx, 100)
    assert counts.deltas() == {"ctx": 100}


def _error_world(ns):
    reg = ns.ActionRegistry()
    ex = ns.ActionExecutor(reg, log_execution=False)

    def bad(ctx):
        raise ValueError("bad")

    def flaky(ctx):
        raise ConnectionError("flaky")

    async def abad(ctx):
        await asyncio.sleep(0)
        raise ValueError("abad")

    async def slow(ctx):
        await asyncio.sleep(10)

    for name, fn in (("bad", bad), ("flaky", flaky), ("abad", abad), ("slow", slow)):
        reg.register(name, fn)
    params = {"k": 1}
    specs = (
        ns.ActionSpec("bad", params=params),
        ns.ActionSpec("flaky", params=params, retry=2, retry_backoff=0),
        ns.ActionSpec("abad", params=params),
        ns.ActionSpec("slow", params=params, timeout=0),
    )
    objects = dict(
        bad=bad,
        flaky=flaky,
        abad=abad,
        slow=slow,
        params=params,
        **{f"spec{i}": s for i, s in enumerate(specs)},
    )
    return reg, ex, specs, objects


class RefusingContext(dict):
    """A context that refuses the params key (each attempt fails before calling)."""

    def __setitem__(self, key, value):
        raise TypeError(f"read-only context: {key}")


@PATCHES_SLEEP
@pytest.mark.parametrize(
    "mode", ["sync", "async_execute", "async_execute_parallel", "async_execute_phased"]
)
@pytest.mark.parametrize("context", ["dict", "refusing"])
def test_refcounts_unchanged_on_error_paths(fs, mode, context):
    """Failing, retried (transient), timed-out and strict-mode (raising) executions,
    with a normal and a params-refusing context."""
    reg, ex, specs, objects = _error_world(fs)
    tr = R.tr_of(fs, actions=specs[:2] if mode == "sync" else specs)
    strict_tr = R.tr_of(fs, actions=(specs[0], fs.ActionSpec("missing")))
    ctx = {} if context == "dict" else RefusingContext()
    n = 2000 if mode == "sync" else 300

    def go(count):
        run_mode(ex, mode, tr, ctx, count)
        ex.strict = True
        try:
            for _ in range(count // 10):
                with pytest.raises(fs.ActionNotFoundError):
                    run_mode(ex, mode, strict_tr, ctx, 1)
        finally:
            ex.strict = False

    with mock.patch("time.sleep"):
        go(20)
        counts = Refcounts(ctx=ctx, tr=tr, strict_tr=strict_tr, reg=reg, ex=ex, **objects)
        counts.start()
        go(n)
    assert counts.deltas() == {}
    assert R.PARAMS_KEY not in ctx


@pytest.mark.parametrize("base", [KeyboardInterrupt, SystemExit, asyncio.CancelledError])
@pytest.mark.parametrize("mode", ["sync", "async_execute", "async_execute_parallel"])
def test_refcounts_unchanged_after_propagated_base_exceptions(fs, mode, base):
    reg = fs.ActionRegistry()
    ex = fs.ActionExecutor(reg, log_execution=False)

    def boom(ctx):
        raise base("stop")

    reg.register("boom", boom)
    params = {"k": 1}
    spec = fs.ActionSpec("boom", params=params)
    tr = R.tr_of(fs, actions=(spec,))
    ctx: dict = {}

    def go(n):
        for _ in range(n):
            try:
                run_mode(ex, mode, tr, ctx, 1)
            except base:
                pass

    go(5)
    counts = Refcounts(boom=boom, params=params, spec=spec, tr=tr, ctx=ctx, reg=reg, ex=ex)
    counts.start()
    go(100)
    assert counts.deltas() == {}
    assert ctx == {}


@pytest.mark.thread_unsafe(reason="measures the RSS of the process, which other threads grow too")
def test_rss_stays_flat(fs):
    """~40k executions (sync and the three async modes, ok / failing / skipped /
    effect actions): resident memory grows by less than 8 MB after warm-up, and the
    number of memory blocks the Python allocators hold does not grow with the number
    of executions (a leak of one block per execution would be 52,500).
    (tests/stress: 1M executions.)"""
    growth, done, blocks = rss_growth(fs, 40_000)
    assert growth < 8e6, f"RSS grew by {growth / 1e6:.1f} MB over {done} executions"
    assert blocks < 1000, f"{blocks} more memory blocks after {done} executions"


def rss_growth(ns, executions):
    reg = ns.ActionRegistry()
    ex = ns.ActionExecutor(reg, log_execution=False)

    def ok(ctx):
        return ctx.get(R.PARAMS_KEY)

    def bad(ctx):
        raise ValueError("x")

    async def aok(ctx):
        return 1

    async def suspending(ctx):
        await asyncio.sleep(0)
        return 2

    for name, fn in (("ok", ok), ("bad", bad), ("aok", aok), ("suspending", suspending)):
        reg.register(name, fn)
    specs = (
        ns.ActionSpec("ok", params={"k": 1}),
        ns.ActionSpec("bad"),
        ns.ActionSpec("missing"),
        ns.ActionSpec.from_config({"increment": "n"}),
    )
    sync_tr = R.tr_of(ns, actions=specs)
    async_tr = R.tr_of(
        ns, actions=specs + (ns.ActionSpec("aok"), ns.ActionSpec("suspending", params={"q": 2}))
    )
    ctx = {"n": 0}

    def chunk(n):
        for _ in range(n):
            ex.execute(sync_tr, ctx)

        async def main():
            for _ in range(n // 4):
                await ex.async_execute(async_tr, ctx)
                await ex.async_execute_parallel(async_tr, ctx)
                await ex.async_execute_phased(async_tr, ctx)

        asyncio.run(main())
        return n + 3 * (n // 4)

    chunk(4000)
    gc.collect()
    base, base_blocks = R.rss_bytes(), sys.getallocatedblocks()
    done = 0
    while done < executions:
        done += chunk(10_000)
    gc.collect()
    return R.rss_bytes() - base, done, sys.getallocatedblocks() - base_blocks


# ---------------------------------------------------------------------------
# Executions leave no garbage for the collector
# ---------------------------------------------------------------------------


def _cycle_world(ns):
    reg = ns.ActionRegistry()
    ex = ns.ActionExecutor(reg, log_execution=False)

    def ok(ctx):
        return 1

    def bad(ctx):
        raise ValueError("x")

    async def abad(ctx):
        raise OSError("y")

    async def suspending(ctx):
        await asyncio.sleep(0)
        return 2

    for name, fn in (("ok", ok), ("bad", bad), ("abad", abad), ("suspending", suspending)):
        reg.register(name, fn)
    return reg, ex


CYCLE_ACTIONS = {
    "failing sync": ("bad",),
    "failing sync and async": ("ok", "bad", "abad", "missing"),
    "failing sync, then suspending": ("bad", "suspending", "ok"),
}
CYCLE_MODES = {
    "execute": lambda reg, ex, tr, names, ctx: ex.execute(tr, ctx),
    "async_execute": lambda reg, ex, tr, names, ctx: ex.async_execute(tr, ctx),
    "async_execute_parallel": lambda reg, ex, tr, names, ctx: ex.async_execute_parallel(tr, ctx),
    "async_execute_phased": lambda reg, ex, tr, names, ctx: ex.async_execute_phased(tr, ctx),
    "async_execute_action_spec": (
        lambda reg, ex, tr, names, ctx: ex.async_execute_action_spec(tr.all_action_specs[0], ctx)
    ),
    "async_execute_action_specs_parallel": (
        lambda reg, ex, tr, names, ctx: ex.async_execute_action_specs_parallel(
            tr.all_action_specs, ctx
        )
    ),
    "async_execute_specific_parallel": (
        lambda reg, ex, tr, names, ctx: ex.async_execute_specific_parallel(names, ctx)
    ),
    "registry.async_execute": lambda reg, ex, tr, names, ctx: reg.async_execute(names[0], ctx),
    "registry.async_execute_all": lambda reg, ex, tr, names, ctx: reg.async_execute_all(names, ctx),
}


def _garbage_of(run_twenty):
    """What the collector finds after ``run_twenty()`` ran with it off: the
    results, exceptions, tracebacks and frames among the unreachable objects (other
    garbage, from other threads or the test machinery, is not counted)."""
    suspects = (BaseException, types.TracebackType, types.FrameType)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run_twenty()
        gc.collect()
        found = [
            type(o).__name__
            for o in gc.garbage
            if isinstance(o, suspects) or type(o).__name__ in ("ActionResult", "ExecutionResult")
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    return found


@pytest.mark.parametrize("actions", list(CYCLE_ACTIONS))
@pytest.mark.parametrize("mode", list(CYCLE_MODES))
def test_executions_leave_no_reference_cycles(fs, mode, actions):
    """With the collector off, executions (failures included: an exception's
    traceback reaches the frames that ran the action) leave nothing for the
    collector. Sync actions of parallel and phased batches run inline, called from
    the frame of the async method (pystator runs them in Tasks): were that frame's
    locals still to hold the results when it returns, each failure would leave a
    cycle. On free-threaded builds, whose collector waits until the process has
    grown by a tenth, such garbage showed as a one-off RSS jump of several MB.
    (pystator 0.0.25 leaves such garbage per failed action of a sync execute.)"""
    reg, ex = _cycle_world(fs)
    names = CYCLE_ACTIONS[actions]
    tr = R.tr_of(fs, actions=names)
    ctx: dict = {}
    run = CYCLE_MODES[mode]

    async def twenty():
        for _ in range(20):
            outcome = run(reg, ex, tr, names, ctx)
            if asyncio.iscoroutine(outcome):
                await outcome
        # A failed sync action's traceback reaches this frame too (the lambda's
        # caller): a result kept in its locals would be a cycle of the test's own.
        del outcome

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(twenty())  # warm-up
        assert _garbage_of(lambda: loop.run_until_complete(twenty())) == []
    finally:
        loop.close()


def test_the_cycle_check_detects_a_cycle(fs):
    """The check above can fail: a frame that keeps a failed result in its locals
    when it returns is garbage the collector must find."""
    reg, ex = _cycle_world(fs)
    tr = R.tr_of(fs, actions=("bad",))

    def keeps_result():
        result = ex.execute(tr, {})  # noqa: F841 - kept in the frame's locals on return

    found = _garbage_of(lambda: [keeps_result() for _ in range(20)])
    assert found.count("ExecutionResult") == 20 and "ValueError" in found


# ---------------------------------------------------------------------------
# Reference cycles are collected
# ---------------------------------------------------------------------------


class Sentinel:
    """Something weak-referenceable to put inside a cycle (pystator's dataclasses
    are not weak-referenceable, ferrostator's are; the sentinel works for both)."""


def _collected(build):
    """``build()`` makes a cycle and returns weakrefs into it, then drops it."""
    refs = build()
    collect_until(lambda: all(r() is None for r in refs))
    return [r() is None for r in refs]


def test_registry_in_a_cycle_is_collected(impl):
    def build():
        reg = impl.ActionRegistry()
        s = Sentinel()
        reg.register("a", lambda ctx: (reg, s), {"registry": reg})
        return [weakref.ref(s)] + ([weakref.ref(reg)] if impl.name == "ferrostator" else [])

    assert all(_collected(build))


def test_executor_in_a_cycle_is_collected(impl):
    def build():
        reg = impl.ActionRegistry()
        ex = impl.ActionExecutor(reg)
        s = Sentinel()
        reg.register("a", lambda ctx: (ex, s))
        return [weakref.ref(s)] + (
            [weakref.ref(reg), weakref.ref(ex)] if impl.name == "ferrostator" else []
        )

    assert all(_collected(build))


def test_executor_cycle_through_default_mode_is_collected(impl):
    def build():
        reg = impl.ActionRegistry()
        ex = impl.ActionExecutor(reg)
        s = Sentinel()
        s.ex = ex
        ex.default_mode = s
        return [weakref.ref(s)]

    assert all(_collected(build))


def test_subclassed_registry_and_executor_in_cycles_are_collected(impl):
    def build():
        class Reg(impl.ActionRegistry):
            pass

        class Ex(impl.ActionExecutor):
            pass

        reg = Reg()
        reg.me = reg
        ex = Ex(reg)
        ex.me = ex
        s = Sentinel()
        reg.s = ex.s = s
        s.back = (reg, ex)
        return [weakref.ref(s)]

    assert all(_collected(build))


def test_action_spec_in_a_cycle_is_collected(impl):
    """params -> spec -> params: pystator's dataclass is collected; a spec type without
    GC traversal keeps the cycle (and everything it reaches) alive forever."""

    def build():
        params = {}
        spec = impl.ActionSpec("a", params=params)
        s = Sentinel()
        params["spec"] = spec
        params["s"] = s
        return [weakref.ref(s)]

    assert all(_collected(build))


def test_transition_result_in_a_cycle_is_collected(impl):
    """A state machine that keeps its last transition, whose metadata names the
    machine (a common pattern): machine -> transition -> metadata -> machine. Every
    transition leaks if TransitionResult does not take part in GC."""

    def build():
        machine = Sentinel()
        tr = impl.TransitionResult.success_result("a", "b", "go", metadata={"machine": machine})
        machine.last = tr
        return [weakref.ref(machine)]

    assert all(_collected(build))


def test_transition_result_cycle_through_a_foreign_spec_is_collected(impl):
    def build():
        spec = Sentinel()  # a spec-like object (read through its attributes)
        spec.name, spec.has_params, spec.params = "a", False, {}
        spec.timeout, spec.retry, spec.retry_backoff = None, 0, 1.0
        tr = impl.TransitionResult.success_result("a", "b", "go", actions=(spec,))
        spec.owner = tr
        return [weakref.ref(spec)]

    assert all(_collected(build))


def test_results_in_cycles_are_collected(impl):
    def build():
        s = Sentinel()
        r = impl.ActionResult(True, "a")
        r.result = (r, s)
        er = impl.ExecutionResult(None)
        er.action_results = [r, er]
        s.er = er
        return [weakref.ref(s)]

    assert all(_collected(build))


def test_suspended_execution_in_a_cycle_is_collected(fs):
    """An execution abandoned while its action is suspended, whose context refers
    back to it: collected (with its registry and executor), and its action closed."""
    events = []

    def build():
        reg = fs.ActionRegistry()
        ex = fs.ActionExecutor(reg, log_execution=False)

        async def waits(ctx):
            try:
                await asyncio.sleep(10)
            finally:
                events.append("finally")

        reg.register("waits", waits)
        tr = R.tr_of(fs, actions=(fs.ActionSpec("waits", params={"p": 1}), "waits"))
        ctx = {}
        s = Sentinel()
        ctx["s"] = s

        async def main():
            coro = ex.async_execute(tr, ctx)
            coro.send(None)  # suspended in the first action
            ctx["coro"] = coro  # cycle: ctx -> coroutine -> ... -> ctx

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
        return [weakref.ref(s), weakref.ref(reg), weakref.ref(ex)]

    assert all(_collected(build))
    assert events == ["finally"]
