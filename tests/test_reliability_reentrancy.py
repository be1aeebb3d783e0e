"""Reliability: re-entrancy. An action may register, unregister, clear, or run the
registry or executor again (nested) while it runs, in every execution path, without
deadlock; runaway recursion (an action that executes itself through the executor)
ends in RecursionError (raised, or carried by a failed result), never in a crash.

Expectations are checked against pystator too (``impl``) where both behave alike.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import threading

import _reliability as R
import pytest
from conftest import COLLECTS_GARBAGE

SYNC_MODES = ("execute",)
ASYNC_MODES = ("async_execute", "async_execute_parallel", "async_execute_phased")
ALL_MODES = SYNC_MODES + ASYNC_MODES


def _run_mode(ex, mode, tr, ctx):
    if mode == "execute":
        return ex.execute(tr, ctx)
    return asyncio.run(getattr(ex, mode)(tr, ctx))


def _no_deadlock(fn, timeout=20.0):
    """Runs ``fn`` in a thread; fails (instead of hanging) if it does not finish."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    th = threading.Thread(target=target, daemon=True)
    th.start()
    th.join(timeout)
    assert not th.is_alive(), f"deadlock: still running after {timeout}s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# ---------------------------------------------------------------------------
# Actions editing the registry while they run
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ALL_MODES)
def test_action_registers_and_unregisters_while_running(impl, mode):
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg, log_execution=False)

    def installer(ctx):
        reg.register("late", lambda c: "late-ran")
        reg.unregister("victim")
        reg.unregister("installer")  # itself, while running
        return sorted(reg.list_actions())

    reg.register("installer", installer)
    reg.register("victim", lambda c: "victim-ran")
    tr = R.tr_of(impl, actions=("installer", "victim", "late"))
    er = _no_deadlock(lambda: _run_mode(ex, mode, tr, {}))
    got = [(r.action_name, r.success, r.result) for r in er.action_results]
    assert got == [
        ("installer", True, ["late"]),
        ("victim", True, "not_registered"),
        ("late", True, "late-ran"),
    ]
    assert reg.list_actions() == ["late"]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_action_clears_the_registry_while_running(impl, mode):
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg, log_execution=False)

    def wiper(ctx):
        reg.clear()
        reg.register("after", lambda c: "after-ran")
        return len(reg)

    reg.register("wiper", wiper)
    reg.register("gone", lambda c: "gone-ran")
    tr = R.tr_of(impl, on_exit=("wiper",), actions=("gone",), on_enter=("after", "wiper"))
    er = _no_deadlock(lambda: _run_mode(ex, mode, tr, {}))
    got = [(r.action_name, r.result) for r in er.action_results]
    assert got == [
        ("wiper", 1),
        ("gone", "not_registered"),
        ("after", "after-ran"),
        ("wiper", "not_registered"),
    ]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_action_replaces_a_later_action_while_running(impl, mode):
    """The later action is looked up when reached: the replacement runs, even
    though the same spec objects found the old function in earlier runs."""
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg, log_execution=False)

    def swapper(ctx):
        reg.unregister("target")
        reg.register("target", lambda c: "new")
        return "swapped"

    reg.register("target", lambda c: "old")
    reg.register("swapper", swapper)
    warm = R.tr_of(impl, actions=("target",))
    tr = R.tr_of(impl, on_exit=("target",), actions=("swapper",), on_enter=("target",))
    # Same spec objects as `warm` for the first "target": they have found it before.
    assert [r.result for r in _run_mode(ex, mode, warm, {}).action_results] == ["old"]
    er = _no_deadlock(lambda: _run_mode(ex, mode, tr, {}))
    assert [r.result for r in er.action_results] == ["old", "swapped", "new"]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_action_swaps_the_executors_registry_while_running(impl, mode):
    first, second = impl.ActionRegistry(), impl.ActionRegistry()
    ex = impl.ActionExecutor(first, log_execution=False)

    def switch(ctx):
        ex.registry = second
        return "switched"

    first.register("switch", switch)
    first.register("who", lambda c: "first")
    second.register("who", lambda c: "second")
    tr = R.tr_of(impl, on_exit=("who",), actions=("switch",), on_enter=("who",))
    er = _no_deadlock(lambda: _run_mode(ex, mode, tr, {}))
    assert [r.result for r in er.action_results] == ["first", "switched", "second"]


def test_one_spec_alternating_between_registries(impl):
    """Spec objects shared by executors of different registries always find each
    registry's own function (and never a stale one)."""
    regs = [impl.ActionRegistry() for _ in range(3)]
    for i, reg in enumerate(regs):
        for j in range(i):  # different positions of "x" in each table
            reg.register(f"pad{j}", lambda c: None)
        reg.register("x", lambda c, i=i: i)
    executors = [impl.ActionExecutor(reg) for reg in regs]
    tr = R.tr_of(impl, actions=("x",))
    for round_ in range(50):
        for i, ex in enumerate(executors):
            assert ex.execute(tr, {}).action_results[0].result == i
        if round_ == 25:  # a write moves "x" in registry 2
            regs[2].unregister("pad0")
    assert [ex.execute(tr, {}).action_results[0].result for ex in executors] == [0, 1, 2]


NESTINGS = [(o, i) for o in ALL_MODES for i in ALL_MODES if not (o == "execute" and i != "execute")]


@pytest.mark.parametrize("outer,inner", NESTINGS)
def test_nested_execution_in_every_combination(impl, outer, inner):
    """An action runs the same executor again (sync actions nest sync entry points,
    async actions nest async ones) with the same context. (An async action cannot
    run under the sync executor, so that pairing is left out.)"""
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg, log_execution=False)
    inner_tr = R.tr_of(impl, actions=("leaf", impl.ActionSpec.from_config({"increment": "leaves"})))
    reg.register("leaf", lambda ctx: "leaf")
    if inner == "execute":

        def nest(ctx):
            return [r.result for r in ex.execute(inner_tr, ctx).action_results]

    else:

        async def nest(ctx):
            await asyncio.sleep(0)
            er = await getattr(ex, inner)(inner_tr, ctx)
            return [r.result for r in er.action_results]

    reg.register("nest", nest)
    tr = R.tr_of(impl, actions=("nest", "leaf", "nest"))
    ctx = {"leaves": 0}
    er = _no_deadlock(lambda: _run_mode(ex, outer, tr, ctx))
    assert [r.result for r in er.action_results] == [["leaf", None], "leaf", ["leaf", None]]
    assert ctx["leaves"] == 2
    assert R.PARAMS_KEY not in ctx


def test_nested_registry_calls_from_async_actions(impl):
    reg = impl.ActionRegistry()

    async def inner(ctx):
        await asyncio.sleep(0)
        return ctx["depth"]

    async def outer(ctx):
        ctx["depth"] += 1
        first = await reg.async_execute("inner", ctx)
        rest = await reg.async_execute_all(["inner", "missing", "inner"], ctx)
        return [first.result] + [r.success for r in rest]

    reg.register("inner", inner)
    reg.register("outer", outer)
    r = _no_deadlock(lambda: asyncio.run(reg.async_execute("outer", {"depth": 0})))
    assert r.result == [1, True, False, True]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_action_waits_for_another_thread_using_the_registry(fs, mode):
    """No lock is held while an action runs: an action that waits for another thread
    registering, executing and clearing on the same registry does not deadlock."""
    reg = fs.ActionRegistry()
    ex = fs.ActionExecutor(reg, log_execution=False)

    def helper():
        reg.register("from_thread", lambda c: "t")
        assert reg.execute("from_thread", {}).result == "t"
        ex.execute(R.tr_of(fs, actions=("from_thread",)), {})
        reg.unregister("from_thread")

    def waits(ctx):
        th = threading.Thread(target=helper)
        th.start()
        th.join(10)
        return not th.is_alive()

    reg.register("waits", waits)
    er = _no_deadlock(lambda: _run_mode(ex, mode, R.tr_of(fs, actions=("waits",)), {}))
    assert er.action_results[0].result is True


@COLLECTS_GARBAGE
@pytest.mark.parametrize("trigger", ["unregister", "clear", "register_duplicate", "gc"])
def test_finalizer_of_a_dropped_action_may_use_the_registry(fs, trigger):
    """Dropping an action's last reference (unregister, clear, a rejected duplicate,
    garbage collection of a registry in a reference cycle) runs its finalizer; the
    finalizer may call that registry again without deadlock or crash (no lock is
    held while references are dropped)."""
    seen: list = []

    class Action:
        def __init__(self, reg):
            self.reg = reg

        def __call__(self, ctx):
            return "x"

        def __del__(self):
            try:
                self.reg.register("from_finalizer", lambda c: "f")
                seen.append(sorted(self.reg.list_actions()))
                self.reg.unregister("from_finalizer")
            except Exception as exc:  # pragma: no cover - reported below
                seen.append(exc)

    def go():
        reg = fs.ActionRegistry()
        if trigger == "register_duplicate":
            reg.register("a", lambda c: 1)
            try:
                reg.register("a", Action(reg))
            except ValueError:
                pass
        else:
            reg.register("a", Action(reg))  # registry -> Action -> registry: a cycle
            if trigger == "unregister":
                reg.unregister("a")
            elif trigger == "clear":
                reg.clear()
        del reg
        gc.collect()

    _no_deadlock(go)
    assert seen and not isinstance(seen[0], Exception), seen
    assert "from_finalizer" in seen[0]


# ---------------------------------------------------------------------------
# Runaway recursion
# ---------------------------------------------------------------------------


def _innermost_error(er):
    """Follows results that carry a nested ExecutionResult (or list of results) down
    to the first failed one and returns its error."""
    depth = 0
    while True:
        results = er.action_results if hasattr(er, "action_results") else er
        r = results[0]
        if not r.success:
            return depth, r.error
        er = r.result
        depth += 1


@pytest.mark.parametrize(
    "path",
    [
        "executor.execute",
        "executor.execute_action_spec",
        "executor.execute_specific",
        "async_execute",
        "async_execute_action_spec",
        "sync action inline in a parallel batch",
    ],
)
def test_runaway_recursion_ends_in_recursion_error(impl, path):
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg, log_execution=False)
    spec = impl.ActionSpec("self", params={"p": 1})
    tr = R.tr_of(impl, actions=(spec,))
    if path == "executor.execute":
        reg.register("self", lambda ctx: ex.execute(tr, ctx))
        run = lambda: ex.execute(tr, {})  # noqa: E731
    elif path == "executor.execute_action_spec":
        reg.register("self", lambda ctx: [ex.execute_action_spec(spec, ctx)])
        run = lambda: [ex.execute_action_spec(spec, {})]  # noqa: E731
    elif path == "executor.execute_specific":
        reg.register("self", lambda ctx: ex.execute_specific(["self"], ctx))
        run = lambda: ex.execute_specific(["self"], {})  # noqa: E731
    elif path == "async_execute":

        async def again(ctx):
            return await ex.async_execute(tr, ctx)

        reg.register("self", again)
        run = lambda: asyncio.run(ex.async_execute(tr, {}))  # noqa: E731
    elif path == "async_execute_action_spec":

        async def again(ctx):
            return [await ex.async_execute_action_spec(spec, ctx)]

        reg.register("self", again)
        run = lambda: [asyncio.run(ex.async_execute_action_spec(spec, {}))]  # noqa: E731
    else:
        # The batch runs this sync action; it recurses through the sync executor.
        reg.register("self", lambda ctx: ex.execute(tr, ctx))
        run = lambda: asyncio.run(ex.async_execute_parallel(tr, {}))  # noqa: E731
    ctx_result = run()
    depth, error = _innermost_error(ctx_result)
    assert isinstance(error, RecursionError), (depth, error)
    assert depth > 50


def test_runaway_recursion_through_registry_raises_recursion_error(impl):
    reg = impl.ActionRegistry()
    reg.register("self", lambda ctx: reg.execute("self", ctx, True))
    with pytest.raises(RecursionError):
        reg.execute("self", {}, True)

    async def again(ctx):
        return await reg.async_execute("again", ctx, True)

    reg.register("again", again)
    with pytest.raises(RecursionError):
        asyncio.run(reg.async_execute("again", {}, True))


@pytest.mark.parametrize("mode", ["async_execute_parallel", "async_execute_phased"])
def test_deep_recursion_through_parallel_batches_completes(impl, mode):
    """Parallel and phased batches run async actions as Tasks, so an action that
    re-enters the executor nests Tasks, not stack frames: a chain 300 deep completes
    (in both implementations) and unwinds cleanly."""
    reg = impl.ActionRegistry()
    ex = impl.ActionExecutor(reg, log_execution=False)
    tr = R.tr_of(impl, actions=(impl.ActionSpec("self", params={"p": 1}),))
    depth = {"n": 0}

    async def again(ctx):
        depth["n"] += 1
        if depth["n"] >= 300:
            return "bottom"
        await asyncio.sleep(0)
        return await getattr(ex, mode)(tr, ctx)

    reg.register("self", again)
    ctx: dict = {}
    er = asyncio.run(getattr(ex, mode)(tr, ctx))
    levels = 0
    while er.action_results[0].result != "bottom":
        assert er.action_results[0].success, er.action_results[0].error
        er = er.action_results[0].result
        levels += 1
    assert levels == 299
    assert ctx == {}


RECURSION_CHILD = """
import asyncio, sys, threading
which, limit, stack_kib, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if which == "ferrostator":
    import ferrostator as ns
else:  # pystator 0.0.25 (slow to import: only the stress run proves it here)
    import types, pystator, pystator.actions
    ns = types.SimpleNamespace(ActionRegistry=pystator.actions.ActionRegistry,
        ActionExecutor=pystator.actions.ActionExecutor, ActionSpec=pystator.ActionSpec,
        TransitionResult=pystator.TransitionResult)
sys.setrecursionlimit(limit)
if stack_kib:
    threading.stack_size(stack_kib * 1024)
out = {}

def run():
    reg = ns.ActionRegistry()
    ex = ns.ActionExecutor(reg, log_execution=False)
    tr = ns.TransitionResult.success_result("a", "b", "t", actions=(ns.ActionSpec("self"),))
    if path == "sync":
        reg.register("self", lambda ctx: ex.execute(tr, ctx))
        er = ex.execute(tr, {})
    elif path == "async":
        async def again(ctx):
            return await ex.async_execute(tr, ctx)
        reg.register("self", again)
        er = asyncio.run(ex.async_execute(tr, {}))
    else:
        reg.register("self", lambda ctx: reg.execute("self", ctx, True))
        try:
            reg.execute("self", {}, True)
        except RecursionError:
            out["error"] = "RecursionError"
        return
    while er.action_results[0].success:
        er = er.action_results[0].result
    out["error"] = type(er.action_results[0].error).__name__

th = threading.Thread(target=run)
th.start()
th.join()
print("OUTCOME", out.get("error"))
"""


RECURSION_CASES = [
    pytest.param(8000, 0, id="recursionlimit-8000-8MiB-stack"),
    pytest.param(1000, 1024, id="default-limit-1MiB-thread-stack"),
    pytest.param(1000, 512, id="default-limit-512KiB-thread-stack"),
]


@pytest.mark.parametrize("path", ["sync", "async", "registry"])
@pytest.mark.parametrize("limit,stack_kib", RECURSION_CASES)
def test_runaway_recursion_never_overflows_the_c_stack(fs, path, limit, stack_kib):
    """Runaway recursion must end in RecursionError before the C stack runs out, also
    with a raised recursion limit (8000, in a thread with glibc's default 8 MiB
    stack) or in a thread with a 1 MiB or 512 KiB stack (the default for secondary
    threads on some platforms). pystator 0.0.25 does, in every one of
    these cases (tests/stress/test_stress_recursion.py proves it); a segfault is a
    crash of the user's process. Runs in a child interpreter."""
    proc = R.run_python(
        RECURSION_CHILD, "ferrostator", str(limit), str(stack_kib), path, timeout=120
    )
    assert proc.returncode == 0 and "OUTCOME RecursionError" in proc.stdout, R.describe_exit(proc)


COMPLETE_REENTRY_CHILD = """
import ferrostator
from ferrostator import actions

er = ferrostator.ExecutionResult(None)


class Finalizer:
    def __del__(self):
        er.execution_mode  # reads the result being completed
        print("finalizer returned", flush=True)


er.completed_at = Finalizer()
actions._complete(er)  # replaces completed_at: the finalizer runs
print("COMPLETED", er.completed_at is not None, flush=True)
"""


def test_completing_a_result_whose_old_stamp_has_a_finalizer(fs):
    """``_complete`` (exported by ferrostator.actions; the executors call the same
    code) replaces ``completed_at``. If the value it replaces has a finalizer that
    reads the same ExecutionResult, the record's lock must not still be held when
    the finalizer runs: a non-reentrant lock deadlocks the thread (and, with the GIL
    held, the process). Runs in a child interpreter with a 10 s timeout."""
    try:
        proc = R.run_python(COMPLETE_REENTRY_CHILD, timeout=10)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"deadlock: the child did not finish in 10 s\n{exc.stdout!r}")
    assert proc.returncode == 0 and "COMPLETED True" in proc.stdout, R.describe_exit(proc)
