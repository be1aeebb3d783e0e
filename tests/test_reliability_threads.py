"""Reliability: many threads on one registry and one executor at once.

8 threads register, unregister, execute (registry, executor, execute_specific),
validate and list concurrently; every result is checked as it arrives (an action's
result must be its own value or a "not_registered" skip, never another action's) and
the registry must be consistent afterwards (listing, ``in``, ``has``, ``get``,
metadata and ``validate_actions_exist`` agree, and each name's successful
registrations minus unregistrations match its presence).

The default variants are small (~12k operations); tests/stress/ runs >= 100k.

These run on ferrostator alone: pystator 0.0.25 is not race-free here (its
executor checks ``has(name)`` and then executes, and its ``async_execute`` calls
``get`` and ``is_async`` separately, so an action unregistered or replaced in between
fails with ActionNotFoundError or returns an un-awaited coroutine as its result);
ferrostator resolves each action once, from one registry snapshot.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import types

import _reliability as R
import pytest


def test_eight_threads_mixed_operations(fs):
    stats = R.thread_storm(fs, n_threads=8, ops_per_thread=1500, seed=1)
    assert stats.errors == []
    assert stats.ops == 8 * 1500
    # every kind of operation really happened, under contention
    for op in (
        "register",
        "unregister",
        "executor.execute",
        "registry.execute",
        "list_actions",
        "execute_specific",
    ):
        assert stats.per_op[op] > 100, stats.per_op


def test_eight_threads_with_clear(fs):
    stats = R.thread_storm(fs, n_threads=8, ops_per_thread=1000, seed=2, with_clear=True)
    assert stats.errors == []
    assert stats.per_op["clear"] > 0


def test_event_loops_in_threads_share_registry_and_executor(fs):
    stats = R.async_thread_storm(
        fs, n_loop_threads=4, n_writer_threads=4, executions_per_thread=60, seed=3
    )
    assert stats.errors == []
    assert stats.per_op["async_execute_parallel"] == 4 * 20
    assert stats.per_op["register"] > 0 and stats.per_op["unregister"] > 0


def test_swapping_executor_registry_while_threads_execute(fs):
    """``executor.registry = other`` while 6 threads execute: each action is looked
    up in one registry or the other, never a torn mix, and nothing crashes."""
    regs = [fs.ActionRegistry(), fs.ActionRegistry()]
    for i, reg in enumerate(regs):
        for n in ("a", "b", "c"):
            reg.register(n, lambda ctx, i=i, n=n: (i, n))
    ex = fs.ActionExecutor(regs[0], log_execution=False)
    tr = R.tr_of(fs, actions=("a", "b", "c"))
    stop = threading.Event()
    errors: list[str] = []

    def swapper():
        i = 0
        while not stop.is_set():
            i ^= 1
            ex.registry = regs[i]

    def runner():
        try:
            for _ in range(1500):
                for r in ex.execute(tr, {}).action_results:
                    which, name = r.result
                    assert which in (0, 1) and name == r.action_name, r
        except BaseException as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=runner) for _ in range(6)]
    sw = threading.Thread(target=swapper)
    sw.start()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    stop.set()
    sw.join(timeout=10)
    assert errors == []
    assert ex.registry is regs[0] or ex.registry is regs[1]


def test_threads_run_the_same_parallel_batch_definitions(fs):
    """One executor, one TransitionResult, 8 threads each with its own loop running
    parallel batches whose actions suspend: per-thread contexts never see another
    thread's params, and every batch returns its results in spec order."""
    reg = fs.ActionRegistry()
    ex = fs.ActionExecutor(reg, log_execution=False)

    async def echo(ctx):
        mine = dict(ctx[R.PARAMS_KEY])
        await asyncio.sleep(0)
        assert ctx[R.PARAMS_KEY] == mine  # params isolated while suspended
        return (ctx["thread"], mine["n"])

    reg.register("echo", echo)
    tr = R.tr_of(fs, actions=[fs.ActionSpec("echo", params={"n": i}) for i in range(5)])
    errors: list[str] = []

    def worker(t):
        async def main():
            ctx = {"thread": t}
            for _ in range(80):
                er = await ex.async_execute_parallel(tr, ctx)
                assert [r.result for r in er.action_results] == [(t, i) for i in range(5)]
                assert R.PARAMS_KEY not in ctx

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001
            errors.append(f"{t}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert errors == []


def test_the_storm_detects_a_broken_registry(fs):
    """The storm's checks can fail: a registry whose unregister sometimes does
    nothing (yet reports success) is caught."""

    class Leaky(fs.ActionRegistry):
        calls = 0

        def unregister(self, name):
            Leaky.calls += 1
            if Leaky.calls % 7 == 0:
                self.get(name)  # raises ActionNotFoundError like the real one if absent
                return None
            return super().unregister(name)

    broken = types.SimpleNamespace(**vars(fs))
    broken.ActionRegistry = Leaky
    stats = R.thread_storm(broken, n_threads=4, ops_per_thread=400, seed=5)
    assert any("net registrations" in e for e in stats.errors), stats.errors


@pytest.mark.parametrize("n_threads", [8])
def test_decorator_and_register_race_for_one_name(impl, n_threads):
    """Many threads register the same name through register() and decorator():
    exactly one wins, the others get ValueError, and the winner is what get() gives."""
    if impl.name == "pystator" and not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("pystator's register checks, then inserts: without the GIL two can win")
    reg = impl.ActionRegistry()
    barrier = threading.Barrier(n_threads)
    winners: list = []
    losers: list = []
    lock = threading.Lock()

    def worker(t):
        def fn(ctx, t=t):
            return t

        barrier.wait()
        try:
            if t % 2:
                reg.decorator("shared")(fn)
            else:
                reg.register("shared", fn)
            with lock:
                winners.append(fn)
        except ValueError:
            with lock:
                losers.append(t)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(winners) == 1 and len(losers) == n_threads - 1
    assert reg.get("shared") is winners[0]
    assert reg.list_actions() == ["shared"]


_TRACK_ONCE = """
import gc, threading
import ferrostator as fs

N = 4
barrier = threading.Barrier(N)
results = [fs.ActionResult.ok("a") for _ in range(2000)]
assert not any(gc.is_tracked(r) for r in results)

def worker():
    for r in results:
        barrier.wait()
        r.result = []

threads = [threading.Thread(target=worker) for _ in range(N)]
for th in threads:
    th.start()
for th in threads:
    th.join()
assert all(gc.is_tracked(r) for r in results)
"""


def test_threads_assigning_one_fresh_result_track_it_once(fs):
    """A result holding only atomic values is kept out of the cyclic collector; the
    first non-atomic value assigned puts it back under its watch. Threads assigning
    to a fresh result at the same moment must track it once: CPython aborts the
    process ("object already tracked by the garbage collector") on a second time,
    which only free-threaded builds can reach. In a subprocess, so that an abort is a
    failure rather than the end of the test run."""
    proc = subprocess.run(
        [sys.executable, "-c", _TRACK_ONCE], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_record_equality_under_concurrent_writes(fs):
    """What ``==`` promises while other threads assign a record's fields: a record
    always equals itself (identity first, as dataclasses' ``__eq__`` on 3.13+; when
    each side was read on its own, ``r == r`` was False whenever a write landed in
    between), and two records are compared through one consistent snapshot of each
    side, never a torn mix: a record whose writers only ever assign values equal to
    its twin's always equals the twin."""
    r = fs.ActionResult(True, "a")
    er = fs.ExecutionResult(None, action_results=[r])
    steady = fs.ActionResult(True, "a", result=(1, 2))
    twin = fs.ActionResult(True, "a", result=(1, 2))
    stop = threading.Event()
    errors: list[str] = []

    def writer(t):
        i = 0
        while not stop.is_set():
            i += 1
            r.result = (t, i)  # never equal to the value before
            r.error = i
            er.execution_mode = (t, i)
            steady.result = (1, 2)  # a new tuple, always equal to twin's
            steady.success = i > 0

    def reader():
        try:
            for _ in range(4000):
                assert r == r and not (r != r)
                assert er == er and not (er != er)
                assert steady == twin and twin == steady and not (steady != twin)
        except BaseException as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")

    writers = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(3)]
    readers = [threading.Thread(target=reader, daemon=True) for _ in range(3)]
    for th in writers + readers:
        th.start()
    for th in readers:
        th.join(timeout=60)
    stop.set()
    for th in writers:
        th.join(timeout=10)
    assert errors == []


def test_threads_share_result_records(fs):
    """8 threads assign and read the same ActionResult and ExecutionResult at once
    (fields, repr, ==, pickle, summaries): no exception, no panic, no deadlock, and
    every read sees a value some thread assigned (no torn record)."""
    import pickle

    r = fs.ActionResult(True, "a")
    er = fs.ExecutionResult(None, action_results=[r])
    values = [(t, i) for t in range(8) for i in range(3)]
    errors: list[str] = []
    barrier = threading.Barrier(8)

    def worker(t):
        try:
            barrier.wait()
            for i in range(1500):
                r.result = (t, i % 3)
                r.success = bool(i % 2)
                er.execution_mode = (t, i % 3)
                assert r.result in values and er.execution_mode in values
                seen = (repr(r), repr(er), r == r, er == er, pickle.loads(pickle.dumps(r)))
                summary = (er.all_succeeded, er.failed_actions, er.succeeded_actions)
                assert seen[2] is True and seen[3] is True and summary[0] in (True, False)
                assert (r != r) is False and seen[4].result in values
        except BaseException as exc:  # noqa: BLE001
            errors.append(f"{t}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads), "deadlock"
    assert errors == []
