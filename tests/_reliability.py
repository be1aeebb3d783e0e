"""Shared workloads and probes for the reliability tests (tests/test_reliability_*.py)
and their long variants (tests/stress/).

Every workload takes an implementation namespace (``conftest._ferrostator_ns()`` /
``_pystator_ns()``, i.e. the ``fs`` / ``ps`` / ``impl`` fixtures) and its size, so the
default tests run a small instance and tests/stress the big one.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import subprocess
import sys
import textwrap
import threading
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _reference import is_reference_deprecation

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
PARAMS_KEY = "_action_params"


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux
        return 0


def tr_of(ns, actions=(), on_exit=(), on_enter=()):
    """A successful TransitionResult of ``ns`` whose specs are ActionSpecs or names."""

    def spec(a):
        return ns.ActionSpec(a) if isinstance(a, str) else a

    return ns.TransitionResult.success_result(
        "idle",
        "busy",
        "go",
        actions=tuple(map(spec, actions)),
        on_exit=tuple(map(spec, on_exit)),
        on_enter=tuple(map(spec, on_enter)),
    )


@dataclass
class LoopReport:
    """What an event loop said besides the coroutine's own outcome."""

    handler_messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unraisable: list[str] = field(default_factory=list)
    leftover_tasks: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return self.handler_messages + self.warnings + self.unraisable + self.leftover_tasks


def run_in_fresh_loop(
    main: Callable[[], Any], *, collect: bool = True
) -> tuple[Any, BaseException | None, LoopReport]:
    """Runs ``main()`` (a coroutine factory) in a new event loop and reports what the
    loop complained about: exception-handler calls ("Task was destroyed but it is
    pending", "Task exception was never retrieved"), warnings ("coroutine ... was
    never awaited") and unraisable exceptions, including those that only surface when
    the loop is closed and (``collect``) garbage is collected: a full collection costs
    ~0.1 s in a test process, so callers that only look at the outcome skip it.
    Returns (value, exception, report)."""
    report = LoopReport()
    old_hook = sys.unraisablehook

    def hook(unraisable):
        report.unraisable.append(f"{unraisable.exc_type.__name__}: {unraisable.exc_value!r}")

    loop = asyncio.new_event_loop()
    loop.set_exception_handler(
        lambda _loop, ctx: report.handler_messages.append(str(ctx.get("message")))
    )
    value: Any = None
    error: BaseException | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sys.unraisablehook = hook
        try:
            try:
                value = loop.run_until_complete(main())
            except BaseException as exc:  # noqa: BLE001 - reported to the caller
                error = exc
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            report.leftover_tasks = [f"pending task left behind: {t!r}" for t in pending]
            # Cancel what is left, as asyncio.run does. A KeyboardInterrupt/SystemExit
            # that a Task stored may surface again here (asyncio re-raises it from
            # every Task step that sees it): keep draining until nothing is pending.
            for _ in range(10):
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                if not pending:
                    break
                for t in pending:
                    t.cancel()
                try:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                except BaseException:  # noqa: BLE001 - the first error is what counts
                    pass
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            if collect:
                gc.collect()
            sys.unraisablehook = old_hook
    report.warnings = [
        f"{w.category.__name__}: {w.message}" for w in caught if not is_reference_deprecation(w)
    ]
    return value, error, report


def run_python(
    code: str, *args: str, timeout: float = 120, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh interpreter (so a segfault is a result, not the end of
    the test run), with tests/ on sys.path. ``sys.argv[1:]`` are ``args``."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS_DIR)] + ([full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else [])
    )
    full_env.setdefault("RUST_BACKTRACE", "0")
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=str(ROOT),
    )


def describe_exit(proc: subprocess.CompletedProcess) -> str:
    """A readable account of a child's end (signal, exit code, output tails)."""
    how = (
        f"killed by signal {-proc.returncode}"
        if proc.returncode < 0
        else f"exit code {proc.returncode}"
    )
    return (
        f"{how}\n--- stdout (tail) ---\n{proc.stdout[-3000:]}"
        f"\n--- stderr (tail) ---\n{proc.stderr[-3000:]}"
    )


# ---------------------------------------------------------------------------
# Threads: many threads on one registry and one executor
# ---------------------------------------------------------------------------


def _named(name: str) -> Callable[[dict], str]:
    def action(ctx: dict) -> str:
        return name

    action.__name__ = name
    return action


def _named_async(name: str) -> Callable[[dict], Any]:
    async def action(ctx: dict) -> str:
        if ctx.get("suspend"):
            await asyncio.sleep(0)
        return name

    action.__name__ = name
    return action


@dataclass
class ThreadStats:
    ops: int = 0
    per_op: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    #: successful register() minus successful unregister(), per name
    net: Counter = field(default_factory=Counter)


def thread_storm(
    ns, n_threads: int, ops_per_thread: int, *, seed: int = 0, with_clear: bool = False
) -> ThreadStats:
    """``n_threads`` threads register, unregister, execute (registry and executor,
    sequential sync entry points) and list, all at once, on one registry and one
    executor. Every result is checked as it comes; the registry is checked for
    consistency afterwards (see :func:`check_registry_consistent`)."""
    reg = ns.ActionRegistry()
    ex = ns.ActionExecutor(reg, log_execution=False)
    names = [f"act{i}" for i in range(24)]
    funcs = {n: _named(n) for n in names}
    specs = {n: ns.ActionSpec(n, params={"who": n}) for n in names}
    stats = ThreadStats()
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads)

    def check_result(r, name: str) -> None:
        if r.action_name != name:
            raise AssertionError(f"result for {name!r} names {r.action_name!r}")
        if r.success is not True:
            raise AssertionError(f"{name!r} failed: {r.error!r}")
        if r.result not in (name, "not_registered"):
            raise AssertionError(f"{name!r} returned {r.result!r} (another action's value?)")

    def worker(t: int) -> None:
        rnd = random.Random(seed * 1000 + t)
        local = Counter()
        net = Counter()
        ctx: dict = {"thread": t, "count": 0}
        increments = 0
        try:
            barrier.wait()
            for _ in range(ops_per_thread):
                op = rnd.random()
                name = rnd.choice(names)
                if op < 0.15:
                    try:
                        reg.register(name, funcs[name], {"name": name})
                        net[name] += 1
                        local["register"] += 1
                    except ValueError:
                        local["register-dup"] += 1
                elif op < 0.30:
                    try:
                        reg.unregister(name)
                        net[name] -= 1
                        local["unregister"] += 1
                    except ns.ActionNotFoundError as e:
                        assert e.action_name == name
                        local["unregister-missing"] += 1
                elif op < 0.50:
                    others = rnd.sample(names, 2)
                    tr = tr_of(
                        ns,
                        actions=(specs[name], ns.ActionSpec.from_config({"increment": "count"})),
                        on_exit=(others[0],),
                        on_enter=(specs[others[1]],),
                    )
                    er = ex.execute(tr, ctx)
                    increments += 1
                    got = [r.action_name for r in er.action_results]
                    want = [others[0], name, "_effect.increment", others[1]]
                    if got != want:
                        raise AssertionError(f"executed {got}, expected {want}")
                    for r in er.action_results:
                        if r.action_name == "_effect.increment":
                            assert r.success is True, r
                        else:
                            check_result(r, r.action_name)
                    if PARAMS_KEY in ctx:
                        raise AssertionError(f"params key left in context: {ctx[PARAMS_KEY]!r}")
                    local["executor.execute"] += 1
                elif op < 0.65:
                    try:
                        r = reg.execute(name, ctx)
                        check_result(r, name)
                        local["registry.execute"] += 1
                    except ns.ActionNotFoundError as e:
                        assert e.action_name == name
                        local["registry.execute-missing"] += 1
                elif op < 0.75:
                    results = ex.execute_specific(rnd.sample(names, 3), ctx)
                    for r in results:
                        check_result(r, r.action_name)
                    local["execute_specific"] += 1
                elif op < 0.85:
                    listed = reg.list_actions()
                    if len(set(listed)) != len(listed) or not set(listed) <= set(names):
                        raise AssertionError(f"inconsistent listing {listed}")
                    local["list_actions"] += 1
                elif op < 0.93:
                    present = name in reg
                    local["contains"] += 1
                    if present:
                        try:
                            assert reg.get(name) is funcs[name]
                            assert reg.get_metadata(name) in ({"name": name}, {})
                        except ns.ActionNotFoundError:
                            pass  # unregistered meanwhile
                elif op < 0.97 or not with_clear:
                    missing = ex.validate_actions_exist(tr_of(ns, actions=rnd.sample(names, 4)))
                    assert set(missing) <= set(names)
                    local["validate"] += 1
                else:
                    reg.clear()
                    local["clear"] += 1
            if ctx["count"] != increments:
                raise AssertionError(
                    f"thread {t}: count {ctx['count']} after {increments} increments"
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            with lock:
                stats.errors.append(f"thread {t}: {type(exc).__name__}: {exc}")
        with lock:
            stats.ops += sum(local.values())
            stats.per_op.update(local)
            stats.net.update(net)  # Counter.update adds, negative counts included

    threads = [
        threading.Thread(target=worker, args=(t,), name=f"storm-{t}") for t in range(n_threads)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=600)
    hung = [th.name for th in threads if th.is_alive()]
    if hung:
        stats.errors.append(f"threads still running (deadlock?): {hung}")
        return stats
    problems = check_registry_consistent(ns, reg, ex, names, funcs)
    if not with_clear:
        for n in names:
            net = stats.net.get(n, 0)
            if net not in (0, 1) or bool(net) != (n in reg):
                problems.append(f"{n!r}: {net} net registrations but present={n in reg}")
    stats.errors.extend(problems)
    return stats


def check_registry_consistent(ns, reg, ex, names, funcs) -> list[str]:
    """Every view of the registry agrees with every other."""
    problems = []
    listed = reg.list_actions()
    if len(listed) != len(set(listed)):
        problems.append(f"duplicate names listed: {listed}")
    if len(reg) != len(listed):
        problems.append(f"len(reg)={len(reg)} but {len(listed)} listed")
    for n in names:
        present = n in listed
        if (n in reg) is not present or reg.has(n) is not present:
            problems.append(f"{n!r}: listed={present} but in/has say {n in reg}/{reg.has(n)}")
        if present:
            if reg.get(n) is not funcs[n]:
                problems.append(f"{n!r}: get() returns {reg.get(n)!r}")
            if reg.is_async(n):
                value = asyncio.run(reg.async_execute(n, {})).result
            else:
                value = reg.execute(n, {}).result
            if value != n:
                problems.append(f"{n!r}: executing it returns {value!r}")
            if reg.get_metadata(n) != {"name": n}:
                problems.append(f"{n!r}: metadata {reg.get_metadata(n)!r}")
    missing = ex.validate_actions_exist(tr_of(ns, actions=names))
    if sorted(missing) != sorted(n for n in names if n not in listed):
        problems.append(f"validate_actions_exist says {missing}, listing says {listed}")
    return problems


def async_thread_storm(
    ns, n_loop_threads: int, n_writer_threads: int, executions_per_thread: int, *, seed: int = 0
) -> ThreadStats:
    """Threads each running their own event loop (sequential, parallel and phased
    executions, registry.async_execute) on one shared registry and executor, while
    writer threads register and unregister the actions."""
    reg = ns.ActionRegistry()
    ex = ns.ActionExecutor(reg, log_execution=False)
    names = [f"aact{i}" for i in range(12)]
    funcs = {n: _named_async(n) for n in names}
    for n in names[::2]:
        reg.register(n, funcs[n], {"name": n})
    stats = ThreadStats()
    lock = threading.Lock()
    stop = threading.Event()
    modes = ("async_execute", "async_execute_parallel", "async_execute_phased")

    def check(r, name):
        if (
            r.action_name != name
            or r.success is not True
            or r.result not in (name, "not_registered")
        ):
            raise AssertionError(f"bad result for {name!r}: {r!r}")

    def loop_worker(t: int) -> None:
        rnd = random.Random(seed * 1000 + t)
        done = Counter()

        async def main():
            ctx = {"suspend": True, "count": 0}
            for i in range(executions_per_thread):
                picked = rnd.sample(names, 3)
                mode = modes[i % 3]
                tr = tr_of(
                    ns,
                    actions=(
                        ns.ActionSpec(picked[0], params={"i": i}),
                        ns.ActionSpec.from_config({"increment": "count"}),
                    ),
                    on_exit=(picked[1],),
                    on_enter=(ns.ActionSpec(picked[2], params={"j": i}),),
                )
                er = await getattr(ex, mode)(tr, ctx)
                got = [r.action_name for r in er.action_results]
                want = [picked[1], picked[0], "_effect.increment", picked[2]]
                if got != want:
                    raise AssertionError(f"{mode}: executed {got}, expected {want}")
                for r in er.action_results:
                    if r.action_name != "_effect.increment":
                        check(r, r.action_name)
                if PARAMS_KEY in ctx:
                    raise AssertionError(f"{mode}: params key left in context")
                try:
                    check(await reg.async_execute(picked[0], ctx), picked[0])
                except ns.ActionNotFoundError:
                    pass
                done[mode] += 1
            assert ctx["count"] == executions_per_thread, ctx["count"]

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001
            with lock:
                stats.errors.append(f"loop thread {t}: {type(exc).__name__}: {exc}")
        with lock:
            stats.ops += sum(done.values()) * 2
            stats.per_op.update(done)

    def writer(t: int) -> None:
        rnd = random.Random(seed * 1000 + 500 + t)
        done = Counter()
        try:
            while not stop.is_set():
                n = rnd.choice(names)
                try:
                    reg.register(n, funcs[n], {"name": n})
                    done["register"] += 1
                except ValueError:
                    try:
                        reg.unregister(n)
                        done["unregister"] += 1
                    except ns.ActionNotFoundError:
                        pass
                if rnd.random() < 0.2:
                    reg.list_actions()
                    done["list_actions"] += 1
        except BaseException as exc:  # noqa: BLE001
            with lock:
                stats.errors.append(f"writer {t}: {type(exc).__name__}: {exc}")
        with lock:
            stats.ops += sum(done.values())
            stats.per_op.update(done)

    loopers = [threading.Thread(target=loop_worker, args=(t,)) for t in range(n_loop_threads)]
    writers = [threading.Thread(target=writer, args=(t,)) for t in range(n_writer_threads)]
    for th in loopers + writers:
        th.start()
    for th in loopers:
        th.join(timeout=600)
    stop.set()
    for th in writers:
        th.join(timeout=60)
    hung = [th.name for th in loopers + writers if th.is_alive()]
    if hung:
        stats.errors.append(f"threads still running (deadlock?): {hung}")
    else:
        stats.errors.extend(check_registry_consistent(ns, reg, ex, names, funcs))
    return stats
