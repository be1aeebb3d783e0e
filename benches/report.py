#!/usr/bin/env python3
"""ferrostator vs pystator 0.0.25: measure every workload, print a markdown report.

    python benches/report.py [--quick] [--out FILE] [--only SECTION[,SECTION...]]

Both implementations run in this one process, on workloads built identically
from each one's public API (see workloads.py). Timing is timeit-style: each
operation is called in a bare loop, calibrated to a fixed time per repeat, and
the implementations take turns repeat after repeat (interleaved, so that the
noise of a shared machine hits both alike); the figure kept is the best repeat.
The cyclic GC is off while a repeat runs, as in timeit, except in the stream,
which measures throughput as an application would see it (GC on).

Async workloads run inside one event loop that stays up for the whole report:
a repeat is one coroutine awaiting the operation N times, timed as a whole and
divided by N, so starting a loop is never measured.

Memory is measured two ways: tracemalloc (the Python heap), and, on glibc,
malloc's own count in a child process run with PYTHONMALLOC=malloc, which also
sees what a native extension allocates outside the Python allocators (which
tracemalloc cannot see).

The expression engine has two sections: the micro rows of benches/expressions.py
(one evaluation, actions with a ``when``, ``machine.process`` with an ``expr``
guard) and the end-to-end row of the expression-driven machine (benches/e2e.py's
``measure_expr``).

The full report takes a few minutes; --quick takes fewer and shorter repeats and a
shorter stream. --only runs the sections named (see SECTIONS), in the report's order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402  (needs the path above)
from workloads import Bench  # noqa: E402

PS, FS = "pystator", "ferrostator"
SYNC_WORKLOADS = ("reg1", "sync9", "sync9p", "sync9r")
ASYNC_WORKLOADS = ("seq9a", "par9s", "par9a", "phased9a", "mixed")

SIZE_SAMPLES = 1_000  # ExecutionResults averaged for the size of one
MANY_BATCH = 100  # transitions per execute_many call in the execute_many table
STREAM_CHUNK = 1_000  # transitions per execute_many call in the stream
CHUNKED_LENGTH = 20_000  # transitions of the stream run in chunks (results kept)


@dataclass(frozen=True)
class Settings:
    repeats: int  # interleaved repeats of every micro-benchmark
    repeat_time: float  # seconds one repeat should take
    stream_length: int  # transitions in the stream
    stream_repeats: int
    stream_kept: int  # transitions whose results are kept alive for the memory figure


# Many short repeats rather than a few long ones: on a shared machine the best
# of many is likelier to have run undisturbed.
FULL = Settings(
    repeats=15, repeat_time=0.04, stream_length=100_000, stream_repeats=3, stream_kept=10_000
)
QUICK = Settings(
    repeats=7, repeat_time=0.02, stream_length=30_000, stream_repeats=1, stream_kept=3_000
)


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------

# A runner does its operation n times and returns the elapsed seconds.
Runner = Callable[[int], float]


def sync_runner(func: Callable[..., Any], args: Sequence[Any]) -> Runner:
    """``func(*args)`` in a bare loop (1- to 3-argument calls unpacked)."""

    def run(n: int) -> float:
        loop_range = range(n)
        if len(args) == 1:
            (a,) = args
            start = time.perf_counter()
            for _ in loop_range:
                func(a)
        elif len(args) == 2:
            a, b = args
            start = time.perf_counter()
            for _ in loop_range:
                func(a, b)
        else:
            a, b, c = args
            start = time.perf_counter()
            for _ in loop_range:
                func(a, b, c)
        return time.perf_counter() - start

    return run


def async_runner(
    loop: asyncio.AbstractEventLoop, func: Callable[..., Any], args: Sequence[Any]
) -> Runner:
    """``await func(*args)`` n times inside one coroutine on ``loop``."""

    async def awaits(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await func(*args)
        return time.perf_counter() - start

    return lambda n: loop.run_until_complete(awaits(n))


def floor9_runner(funcs: Sequence[Callable[..., Any]], ctx: dict[str, Any]) -> Runner:
    """The floor: a bare loop calling the action functions themselves."""

    def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            for func in funcs:
                func(ctx)
        return time.perf_counter() - start

    return run


def without_gc(run: Runner) -> Runner:
    def wrapped(n: int) -> float:
        gc.disable()
        try:
            return run(n)
        finally:
            gc.enable()

    return wrapped


def calibrate(run: Runner, seconds: float) -> int:
    """How many operations take about ``seconds``."""
    n = 1
    while True:
        elapsed = run(n)
        if elapsed >= seconds / 10 or n >= 10_000_000:
            return max(1, round(n * seconds / max(elapsed, 1e-9)))
        n *= 10 if elapsed < seconds / 100 else 2


def compare(runners: dict[str, Runner], settings: Settings) -> dict[str, float]:
    """Time several runners with interleaved repeats: the best seconds per
    operation of each."""
    runners = {label: without_gc(run) for label, run in runners.items()}
    counts = {label: calibrate(run, settings.repeat_time) for label, run in runners.items()}
    samples: dict[str, list[float]] = {label: [] for label in runners}
    labels = list(runners)
    for repeat in range(settings.repeats):
        gc.collect()
        for label in labels if repeat % 2 == 0 else reversed(labels):
            n = counts[label]
            samples[label].append(runners[label](n) / n)
    return {label: min(times) for label, times in samples.items()}


# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------


def retained_bytes(fill: Callable[[list[Any]], None], n: int) -> int:
    """Bytes (Python heap, tracemalloc) still held after ``fill`` stored n
    objects into a preallocated list; the list itself is not counted."""
    holder: list[Any] = [None] * n
    fill(holder[:10])  # warm-up: one-off caches are not the results' memory
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fill(holder)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        del holder


def results_filler(
    execute: Callable[..., Any], items: Sequence[tuple[Any, Any]], touch: bool = False
) -> Callable[[list[Any]], None]:
    """Fill a list with ExecutionResults of ``items`` (optionally reading
    each one's ``action_results``, in case an implementation builds it lazily)."""

    def fill(holder: list[Any]) -> None:
        for i in range(len(holder)):
            tr, ctx = items[i % len(items)]
            result = execute(tr, ctx)
            if touch:
                result.action_results  # noqa: B018  (the access is the point)
            holder[i] = result

    return fill


def memory_figures(bench: Bench, kept: int) -> dict[str, float]:
    """tracemalloc figures for one implementation: the size of one sync9
    ExecutionResult, and of the results of ``kept`` stream transitions."""
    execute = bench.executor.execute
    one = [(bench.tr_sync9, bench.context)]
    stream = bench.stream_items(kept)
    for tr, ctx in stream[:256]:  # let every context reach its steady shape
        execute(tr, ctx)
    return {
        "one": retained_bytes(results_filler(execute, one), SIZE_SAMPLES) / SIZE_SAMPLES,
        "one_touched": retained_bytes(results_filler(execute, one, touch=True), SIZE_SAMPLES)
        / SIZE_SAMPLES,
        "stream": retained_bytes(results_filler(execute, stream), kept),
    }


def _malloc_in_use() -> Callable[[], int] | None:
    """glibc's count of bytes in use (``mallinfo2``), or None elsewhere."""
    try:
        import ctypes

        class MallInfo2(ctypes.Structure):
            _fields_ = [
                (name, ctypes.c_size_t)
                for name in (
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
                ).split()
            ]

        mallinfo2 = ctypes.CDLL(None).mallinfo2
        mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):
        return None

    def in_use() -> int:
        info = mallinfo2()
        return info.uordblks + info.hblkhd

    return in_use


def memory_probe(implementation: str, kept: int) -> None:
    """Child-process mode: print malloc-counted figures as JSON. Run with
    PYTHONMALLOC=malloc so that Python objects are counted by malloc too."""
    in_use = _malloc_in_use()
    if in_use is None or os.environ.get("PYTHONMALLOC") != "malloc":
        print(json.dumps(None))
        return
    bench = Bench(workloads.load_implementation(implementation))
    execute = bench.executor.execute
    stream = bench.stream_items(kept)
    for tr, ctx in stream[:256]:
        execute(tr, ctx)

    def measure(fill: Callable[[list[Any]], None], n: int) -> int:
        holder: list[Any] = [None] * n
        fill(holder[:10])
        gc.collect()
        before = in_use()
        fill(holder)
        gc.collect()
        return in_use() - before

    one = [(bench.tr_sync9, bench.context)]
    print(
        json.dumps(
            {
                "one": measure(results_filler(execute, one), SIZE_SAMPLES) / SIZE_SAMPLES,
                "stream": measure(results_filler(execute, stream), kept),
            }
        )
    )


def native_memory_figures(implementation: str, kept: int) -> dict[str, float] | None:
    """Run memory_probe in a child process; None when not available."""
    if _malloc_in_use() is None:
        return None
    env = dict(os.environ, PYTHONMALLOC="malloc")
    child = subprocess.run(
        [sys.executable, __file__, "--memory-probe", implementation, "--kept", str(kept)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if child.returncode != 0:
        return None
    return json.loads(child.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------


def fmt_us(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    us = seconds * 1e6
    for limit, digits in ((1, 3), (10, 2), (100, 1)):
        if us < limit:
            return f"{us:.{digits}f}"
    return f"{us:,.0f}"


def fmt_ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "n/a"
    ratio = numerator / denominator
    return f"{ratio:.1f}×" if ratio < 100 else f"{ratio:,.0f}×"


def fmt_rate(per_second: float | None) -> str:
    return "n/a" if per_second is None else f"{per_second:,.0f}"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    if n >= 1e6:
        return f"{n / 1e6:.2f} MB"
    if n >= 1e4:
        return f"{n / 1e3:.1f} kB"
    return f"{n:,.0f} B"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def build_description() -> str:
    """Which ferrostator build is measured: an editable development build, or the wheel
    installed into this venv, with what ``scripts/pgo.sh`` recorded of its build (whether
    it is profile-guided; ``scripts/test_wheel.sh`` leaves it in the venv as
    ``ferrostator-build.json``)."""
    from importlib import metadata, util

    try:
        dist = metadata.distribution("ferrostator")
    except metadata.PackageNotFoundError:
        return "ferrostator is not installed"
    spec = util.find_spec("ferrostator._core")
    core = Path(spec.origin).name if spec and spec.origin else "no extension module"
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    if direct.get("dir_info", {}).get("editable"):
        return (
            f"editable development build (`make build-dev`; its profile is not checked) of "
            f"{direct.get('url', '?')}: {core}"
        )
    info_file = Path(sys.prefix, "ferrostator-build.json")
    if not info_file.is_file():
        return f"ferrostator {dist.version} installed without a record of its build: {core}"
    info = json.loads(info_file.read_text(encoding="utf-8"))
    if info.get("profile_guided") is True:
        how = (
            f"profile-guided (profile {info.get('profile')}, every function of the crate "
            f"on it; training: {info.get('training')})"
        )
    elif info.get("profile_guided") is False:
        how = f"NOT profile-guided ({info.get('why')})"
    else:
        how = f"not known whether profile-guided ({info.get('why')})"
    built = ", ".join(str(info[k]) for k in ("rustc", "maturin") if info.get(k))
    return f"wheel {info.get('wheel')}, {how}" + (f"; {built}" if built else "")


def python_description() -> str:
    """The interpreter: implementation, version, GIL or free-threaded, where it lives."""
    import sysconfig

    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
        gil = f"free-threaded build, GIL {'enabled' if gil_enabled else 'disabled'}"
    else:
        gil = "with the GIL"
    base = getattr(sys, "_base_executable", None) or sys.executable
    return (
        f"{platform.python_implementation()} {platform.python_version()} ({gil}; "
        f"{platform.python_compiler()}), {base}"
    )


def machine_description() -> str:
    """The machine: CPU model, CPUs this process may use, OS and architecture."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        if platform.system() == "Darwin":
            command = ["sysctl", "-n", "machdep.cpu.brand_string"]
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                cpu = done.stdout.strip() or cpu
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu}, {usable} of {os.cpu_count()} CPUs usable; {platform.system()} "
        f"{platform.release()} {platform.machine()}"
    )


class Report:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.impls: dict[str, Any] = {}
        self.unavailable: dict[str, str] = {}
        for name in (PS, FS):
            try:
                self.impls[name] = workloads.load_implementation(name)
            except workloads.ImplementationUnavailable as exc:
                self.unavailable[name] = str(exc)
        self.benches = {name: Bench(ns) for name, ns in self.impls.items()}
        self.loop = asyncio.new_event_loop()
        self.lines: list[str] = []
        self.started = time.perf_counter()
        self.traced: dict[str, dict[str, float]] = {}  # tracemalloc figures, by implementation
        self.native: dict[str, dict[str, float] | None] = {}  # malloc figures, by implementation

    def close(self) -> None:
        self.loop.close()

    def progress(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"[{elapsed:5.1f} s] measuring {message} ...", file=sys.stderr, flush=True)

    def out(self, *lines: str) -> None:
        self.lines.extend(lines)

    # -- sections ----------------------------------------------------------

    def header(self) -> None:
        versions = ", ".join(f"{name} {ns.version}" for name, ns in self.impls.items())
        mode = "quick" if self.settings is QUICK else "full"
        title = (
            "# ferrostator.v47 vs pystator 0.0.47 (v47 contract)"
            if workloads.CONTRACT == "v47"
            else "# ferrostator vs pystator 0.0.25"
        )
        self.out(
            title,
            "",
            f"{versions}; {mode} run: best of {self.settings.repeats} interleaved repeats of "
            f"~{self.settings.repeat_time:g} s.",
            "",
            f"- build: {build_description()}",
            f"- Python: {python_description()}",
            f"- machine: {machine_description()}",
        )
        for reason in self.unavailable.values():
            self.out("", f"**{reason}**")
        self.out("")

    def end_to_end(self) -> None:
        """pystator's engine with its own executor, with ferrostator (install()), and
        with the ceiling executor (benches/e2e.py)."""
        if len(self.impls) < 2:
            return
        import e2e

        self.progress("end to end (pystator's engine, order lifecycle)")
        rows, interop = e2e.measure(*(e2e.QUICK if self.settings is QUICK else e2e.FULL))
        self.out(
            "## End to end: pystator's engine on the order-lifecycle machine",
            "",
            *table(e2e.E2E_HEADER, rows),
            "",
            *table(e2e.INTEROP_HEADER, interop),
            "",
        )

    def end_to_end_expr(self) -> None:
        """The expression-driven machine through pystator's Orchestrator: pystator,
        ferrostator (install()), and the ceiling with free expressions (benches/e2e.py)."""
        if len(self.impls) < 2:
            return
        import e2e

        self.progress("end to end (pystator's engine, expression-driven order lifecycle)")
        rows, split = e2e.measure_expr(*(e2e.QUICK if self.settings is QUICK else e2e.FULL))
        contract = (
            "guards as `expr` strings, a `when` on two actions, a `compute` effect"
            if e2e.CONTRACT == "v47"
            else "guards as `expr` strings (pystator 0.0.25 has no `when` nor `compute`)"
        )
        self.out(
            "## End to end: the order-lifecycle machine driven by expressions",
            "",
            f"`tests/_engine.py`'s `expr_machine_config`: {contract}. The ceiling is the "
            "do-nothing executor with every expression evaluated at (next to) no cost "
            "(`workloads.FreeExpressions`: each expression translated once into a Python "
            "function of the context, patched in place of pystator's expression functions "
            "for the ceiling's repeats only). The split: pystator's executor with the same "
            "free expressions, and ferrostator installed with free guards (its `when` and "
            "`compute` run in its core, out of a patch's reach). Targets: speed-up ≥ 1.6×, "
            "gain kept ≥ 90%.",
            "",
            *table(e2e.E2E_HEADER, rows),
            "",
            *table(e2e.EXPR_SPLIT_HEADER, split),
            "",
        )

    def expressions(self) -> None:
        """The expression engine's micro rows (benches/expressions.py)."""
        if len(self.impls) < 2:
            return
        import expressions

        with workloads.records_dropped():
            rows = expressions.measure(self.settings, progress=self.progress)
        self.out(
            "## Expressions",
            "",
            *table(expressions.HEADER, rows),
            "",
            *expressions.notes(),
            "",
        )

    def micro(self) -> None:
        ctx = workloads.new_context()
        floors: dict[str, Runner] = {
            "reg1": sync_runner(workloads.SYNC_ACTIONS[0], (ctx,)),
            "sync9": floor9_runner(workloads.SYNC_ACTIONS, ctx),
            "sync9p": (
                sync_runner(workloads.floor9p, (ctx,))
                if workloads.CONTRACT == "v47"
                else floor9_runner(workloads.SYNC_ACTIONS, ctx)
            ),
            "sync9r": floor9_runner(workloads.SYNC_ACTIONS, ctx),
            "seq9a": async_runner(self.loop, workloads.floor9a, (ctx,)),
            "par9a": async_runner(self.loop, workloads.floor_gather9a, (ctx,)),
            "phased9a": async_runner(self.loop, workloads.floor_phased9a, (ctx,)),
        }
        rows = []
        for workload in SYNC_WORKLOADS + ASYNC_WORKLOADS:
            self.progress(workload)
            runners: dict[str, Runner] = {}
            for name, bench in self.benches.items():
                case = bench.case(workload)
                if case.is_async:
                    runners[name] = async_runner(self.loop, case.func, case.args)
                else:
                    runners[name] = sync_runner(case.func, case.args)
            if workload in floors:  # timed in the same interleaved repeats
                runners["floor"] = floors[workload]
            timings = compare(runners, self.settings)
            ps, fs, floor = timings.get(PS), timings.get(FS), timings.get("floor")
            rows.append(
                [
                    f"{workload} ({workloads.WORKLOADS[workload][0]})",
                    fmt_us(ps),
                    fmt_us(fs),
                    fmt_ratio(ps, fs),
                    fmt_ratio(fs, floor) if floor else "",
                    fmt_us(floor) if floor else "",
                ]
            )
        header = ["workload", "pystator µs", "ferrostator µs", "speed-up"]
        header += ["ferrostator ÷ floor", "floor µs"]
        self.out(
            "## Per operation",
            "",
            *table(header, rows),
            "",
            "Speed-up is pystator ÷ ferrostator. The floor is a bare Python loop calling the "
            "same action functions with the context (1 call for reg1, 9 calls for sync9, "
            "sync9p and sync9r, 9 awaits for seq9a); for par9a and phased9a it is "
            "`asyncio.gather` of the same 9 coroutines (three gathers of 3 for phased9a): "
            "what pystator's fan-out costs at the least, a Task per async action and "
            "gather's bookkeeping. Floors are timed in the same repeats. sync9r reads "
            "`action_results` after each execute: ferrostator keeps the results of a sync "
            "execute as records and builds the ActionResult objects on first read, so sync9 "
            "does not build them and sync9r shows the cost when they are built.",
            "",
        )

    def stream(self) -> None:
        length = self.settings.stream_length
        chunked = min(length, CHUNKED_LENGTH)
        self.progress(f"stream ({length:,} transitions)")
        runs: dict[str, Runner] = {}
        for name, bench in self.benches.items():
            items = bench.stream_items(length)
            runs[name] = _stream_loop(bench.executor.execute, items)
            head = items[:chunked]
            runs[f"{name} chunked"] = _stream_chunks(_loop_of(bench.executor.execute), head)
            if workloads.has_execute_many(bench.ns):
                runs[f"{name} many"] = _stream_chunks(bench.executor.execute_many, head)
        # The runners return seconds per transition; GC stays on.
        best = {label: float("inf") for label in runs}
        for repeat in range(self.settings.stream_repeats):
            for label in runs if repeat % 2 == 0 else reversed(list(runs)):
                gc.collect()
                best[label] = min(best[label], runs[label](1))

        def rate(seconds: float | None, actions: int = 1) -> str:
            return fmt_rate(actions / seconds if seconds else None)

        ps, fs = best.get(PS), best.get(FS)
        ps_chunked, fs_chunked = best.get(f"{PS} chunked"), best.get(f"{FS} chunked")
        rows = [
            ["transitions/s", rate(ps), rate(fs), fmt_ratio(ps, fs)],
            ["actions/s", rate(ps, 9), rate(fs, 9), fmt_ratio(ps, fs)],
            ["µs per transition", fmt_us(ps), fmt_us(fs), fmt_ratio(ps, fs)],
            [
                f"transitions/s, first {chunked:,} with results kept in lists of {STREAM_CHUNK:,}",
                rate(ps_chunked),
                rate(fs_chunked),
                fmt_ratio(ps_chunked, fs_chunked),
            ],
        ]
        if f"{FS} many" in best:
            fs_many = best[f"{FS} many"]
            rows.append(
                [
                    f"transitions/s, the same via execute_many of {STREAM_CHUNK:,}",
                    "—",
                    rate(fs_many),
                    fmt_ratio(ps_chunked, fs_many),
                ]
            )
        rows += self.results_memory_rows()
        self.out(
            f"## Stream: {length:,} transitions in a row",
            "",
            "sync9-shaped transitions (plain, with params, with 3 declarative effects in "
            f"turn) over 256 contexts, GC on, best of {self.settings.stream_repeats}. Unless "
            "said otherwise each result is dropped as it comes: results kept alive cost "
            "more, chiefly in cyclic-GC passes.",
            "",
            *table(["stream", "pystator", "ferrostator", "pystator ÷ ferrostator"], rows),
            "",
        )
        self.one_result_memory()

    def results_memory_rows(self) -> list[list[str]]:
        """The memory held by the results of ``stream_kept`` transitions."""
        self.progress("memory of results")
        kept = self.settings.stream_kept
        self.traced = {name: memory_figures(bench, kept) for name, bench in self.benches.items()}
        self.native = {name: native_memory_figures(name, kept) for name in self.benches}
        rows = []
        for figures, where in (
            (self.traced, "Python heap (tracemalloc)"),
            (self.native, "all heaps (malloc)"),
        ):
            ps, fs = _pair(figures, "stream")
            if ps is None and fs is None:
                continue
            rows.append(
                [
                    f"results of {kept:,} transitions kept, {where}",
                    fmt_bytes(ps),
                    fmt_bytes(fs),
                    fmt_ratio(ps, fs),
                ]
            )
            per_transition = [fmt_bytes(x / kept if x else None) for x in (ps, fs)]
            rows.append(["… per transition", *per_transition, ""])
        return rows

    def one_result_memory(self) -> None:
        """The size of one ExecutionResult of 9 ActionResults (measured along
        with the results' memory)."""
        rows = []
        for figures, key, label in (
            (self.traced, "one", "as returned, Python heap (tracemalloc)"),
            (self.traced, "one_touched", "after reading .action_results, Python heap"),
            (self.native, "one", "as returned, all heaps (malloc)"),
        ):
            ps, fs = _pair(figures, key)
            if ps is not None or fs is not None:
                rows.append([label, fmt_bytes(ps), fmt_bytes(fs), fmt_ratio(ps, fs)])
        self.out(
            "## Memory of one ExecutionResult of 9 ActionResults",
            "",
            f"Average over {SIZE_SAMPLES:,} results of sync9 kept alive; the TransitionResult "
            'and the context are shared, not counted. "all heaps" is glibc malloc\'s count '
            "in a child process run with PYTHONMALLOC=malloc: it includes native allocations "
            "that tracemalloc does not see, and malloc's per-block overhead.",
            "",
            *table(
                ["one ExecutionResult", "pystator", "ferrostator", "pystator ÷ ferrostator"],
                rows,
            ),
            "",
        )

    def execute_many(self) -> None:
        fs_bench = self.benches.get(FS)
        if fs_bench is None or not workloads.has_execute_many(fs_bench.ns):
            reason = self.unavailable.get(FS, "ferrostator: no ActionExecutor.execute_many yet")
            self.out("## execute_many", "", f"Not measured ({reason}).", "")
            return
        rows = []
        self.progress("execute_many")
        runners: dict[str, Runner] = {}
        for name, bench in self.benches.items():
            items = bench.stream_items(MANY_BATCH)
            runners[f"{name} loop"] = sync_runner(_loop_of(bench.executor.execute), (items,))
        items = fs_bench.stream_items(MANY_BATCH)
        runners["many"] = sync_runner(fs_bench.executor.execute_many, (items,))
        rows.append(self._many_row("execute (stream mix)", compare(runners, self.settings)))

        if workloads.has_async_execute_many(fs_bench.ns):
            self.progress("async_execute_many")
            runners = {}
            for name, bench in self.benches.items():
                items = bench.async_items(MANY_BATCH)
                loop_of = _async_loop_of(bench.executor.async_execute)
                runners[f"{name} loop"] = async_runner(self.loop, loop_of, (items,))
            items = fs_bench.async_items(MANY_BATCH)
            runners["many"] = async_runner(
                self.loop, fs_bench.executor.async_execute_many, (items,)
            )
            timings = compare(runners, self.settings)
            rows.append(self._many_row("async_execute (seq9a)", timings))
        self.out(
            "## execute_many vs a Python loop of execute",
            "",
            f"µs per transition, {MANY_BATCH} transitions per call; the loop keeps "
            "the results in a list as execute_many does.",
            "",
            *table(
                [
                    "batch",
                    "pystator loop",
                    "ferrostator loop",
                    "ferrostator *_many",
                    "*_many vs ferrostator loop",
                ],
                rows,
            ),
            "",
        )

    def _many_row(self, label: str, timings: dict[str, float]) -> list[str]:
        def per(key: str) -> float | None:
            return timings[key] / MANY_BATCH if key in timings else None

        fs_loop, many = per(f"{FS} loop"), per("many")
        return [
            label,
            fmt_us(per(f"{PS} loop")),
            fmt_us(fs_loop),
            fmt_us(many),
            fmt_ratio(fs_loop, many),
        ]


def _pair(figures: dict[str, dict[str, float] | None], key: str) -> tuple[Any, Any]:
    """(pystator's, ferrostator's) figure ``key``, None where missing."""
    ps, fs = ((figures.get(name) or {}).get(key) for name in (PS, FS))
    return ps, fs


def _stream_loop(execute: Callable[..., Any], items: list[tuple[Any, Any]]) -> Runner:
    """The stream, each result dropped as it comes. Returns the time per
    transition, whatever the argument."""

    def run(_: int) -> float:
        start = time.perf_counter()
        for tr, ctx in items:
            execute(tr, ctx)
        return (time.perf_counter() - start) / len(items)

    return run


def _stream_chunks(batch: Callable[..., Any], items: list[tuple[Any, Any]]) -> Runner:
    """The stream in chunks of STREAM_CHUNK, each returning a list of results.
    Returns the time per transition, whatever the argument."""
    chunks = [items[i : i + STREAM_CHUNK] for i in range(0, len(items), STREAM_CHUNK)]

    def run(_: int) -> float:
        start = time.perf_counter()
        for chunk in chunks:
            batch(chunk)
        return (time.perf_counter() - start) / len(items)

    return run


def _loop_of(execute: Callable[..., Any]) -> Callable[[list[Any]], list[Any]]:
    def loop(items: list[tuple[Any, Any]]) -> list[Any]:
        return [execute(tr, ctx) for tr, ctx in items]

    return loop


def _async_loop_of(async_execute: Callable[..., Any]) -> Callable[[list[Any]], Any]:
    async def loop(items: list[tuple[Any, Any]]) -> list[Any]:
        return [await async_execute(tr, ctx) for tr, ctx in items]

    return loop


# ---------------------------------------------------------------------------

#: --only's section names -> the Report method, in the report's order.
SECTIONS = {
    "e2e": "end_to_end",
    "e2e-expr": "end_to_end_expr",
    "expressions": "expressions",
    "micro": "micro",
    "stream": "stream",
    "execute_many": "execute_many",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--out", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--memory-probe", metavar="IMPL", help=argparse.SUPPRESS)
    parser.add_argument("--kept", type=int, default=FULL.stream_kept, help=argparse.SUPPRESS)
    parser.add_argument(
        "--contract",
        choices=("seed", "v47"),
        default=workloads.CONTRACT,
        help="seed: ferrostator vs pystator 0.0.25 (default); v47: ferrostator.v47 vs "
        "pystator 0.0.47 (run with .venvs/v47/bin/python)",
    )
    parser.add_argument(
        "--only",
        metavar="SECTION[,SECTION...]",
        help=f"only these sections, in the report's order: {', '.join(SECTIONS)}",
    )
    args = parser.parse_args(argv)
    only = SECTIONS if args.only is None else tuple(args.only.split(","))
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(
            f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}"
        )
    if args.contract != workloads.CONTRACT:
        # The workloads read the contract at import (and memory probes run as child
        # processes): start again with it in the environment.
        env = dict(os.environ, FERROSTATOR_BENCH_CONTRACT=args.contract)
        return subprocess.run([sys.executable, *sys.argv], env=env, check=False).returncode

    if args.memory_probe:
        memory_probe(args.memory_probe, args.kept)
        return 0

    report = Report(QUICK if args.quick else FULL)
    if not report.impls:
        print("Neither pystator nor ferrostator is importable.", file=sys.stderr)
        return 1
    try:
        report.header()
        for section in SECTIONS:
            if section in only:
                getattr(report, SECTIONS[section])()
    finally:
        report.close()
    report.out(f"_Measured in {time.perf_counter() - report.started:.0f} s._")

    text = "\n".join(report.lines) + "\n"
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
