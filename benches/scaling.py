#!/usr/bin/env python3
"""Thread scaling of sync9 (``executor.execute`` of 9 trivial sync actions), for
pystator 0.0.25 and ferrostator in one process: executions per second with 1 and
N threads when the threads share one registry, executor and TransitionResult (the
normal way to use them: each thread has only its own context), and when they
share nothing (each thread builds its own registry, action functions, executor and
transition).

    python benches/scaling.py [--threads 2] [--repeats 7] [--seconds 0.3]

Meant for a free-threaded CPython (3.14t, run with PYTHON_GIL=0), where threads run
Python code in parallel; on a GIL build the table shows the GIL serialising them.
Configurations take turns repeat after repeat (interleaved, so that the noise of a
shared machine hits all alike) and the median of the repeats is kept. The cyclic GC
is off while a repeat runs, as in report.py. The machine's load average is printed
with the table: on a busy machine threads wait for a core and the figures say so.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import sysconfig
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402  (needs the path above)

SHARINGS = ("shared", "nothing shared")


def measure(ns: Any, threads: int, sharing: str, per_thread: int) -> tuple[float, float]:
    """Executions per second of ``threads`` threads each running ``per_thread``
    sync9 executions, from the first thread's start to the last one's end (each
    thread reads the clock itself, so the main thread's scheduling does not count),
    and the CPU time per execution (threads that wait for each other's cache lines
    spend more of it; waiting for a core spends none)."""
    shared = workloads.Bench(ns) if sharing == "shared" else None
    start = threading.Barrier(threads)
    spans: list[tuple[float, float, float]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            bench = shared or workloads.Bench(ns, fresh_actions=True)
            execute, transition, context = (
                bench.executor.execute,
                bench.tr_sync9,
                workloads.new_context(),
            )
            execute(transition, context)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
            start.abort()
            return
        start.wait()
        began, cpu = time.perf_counter(), time.thread_time()
        for _ in range(per_thread):
            execute(transition, context)
        spans.append((began, time.perf_counter(), time.thread_time() - cpu))

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    gc.disable()
    try:
        for th in workers:
            th.start()
        for th in workers:
            th.join()
    finally:
        gc.enable()
    if errors:
        raise errors[0]
    elapsed = max(end for _, end, _ in spans) - min(begin for begin, _, _ in spans)
    return threads * per_thread / elapsed, sum(cpu for _, _, cpu in spans) / (threads * per_thread)


def calibrate(ns: Any, seconds: float) -> int:
    """Executions one thread does in about ``seconds``."""
    n = 100
    while True:
        rate, _ = measure(ns, 1, "shared", n)
        if n / rate >= seconds / 4:
            return max(100, round(rate * seconds))
        n *= 4


Config = tuple[str, str, int]  # implementation, sharing, threads


def run(
    impls: dict[str, Any], counts: Sequence[int], repeats: int, seconds: float
) -> tuple[dict[Config, float], dict[Config, float]]:
    """Median executions/s and median CPU seconds per execution of each config."""
    per_thread = {name: calibrate(ns, seconds) for name, ns in impls.items()}
    configs = [(name, sharing, n) for name in impls for sharing in SHARINGS for n in counts]
    samples: dict[Config, list[tuple[float, float]]] = {c: [] for c in configs}
    for repeat in range(repeats):
        gc.collect()
        for name, sharing, n in configs if repeat % 2 == 0 else reversed(configs):
            samples[name, sharing, n].append(measure(impls[name], n, sharing, per_thread[name]))
    rates = {c: statistics.median(r for r, _ in v) for c, v in samples.items()}
    cpu = {c: statistics.median(t for _, t in v) for c, v in samples.items()}
    return rates, cpu


def report(
    impls: dict[str, Any],
    counts: Sequence[int],
    rates: dict[Config, float],
    cpu: dict[Config, float],
    repeats: int,
) -> list[str]:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    build = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "GIL"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"CPython {sys.version.split()[0]} ({build} build, GIL "
        f"{'enabled' if gil else 'disabled'}), {os.cpu_count()} CPUs, load average {load} "
        f"before the run; median of {repeats} interleaved repeats.",
        "",
    ]
    head = ["sync9 executions/s", *[f"{n} thread{'s' * (n > 1)}" for n in counts]]
    head += [f"{n} vs 1" for n in counts[1:]]
    head += [f"CPU µs/execution, {n} thread{'s' * (n > 1)}" for n in counts]
    rows = []
    for name in impls:
        for sharing in SHARINGS:
            one = rates[name, sharing, counts[0]]
            cells = [f"{name}, {sharing}"]
            cells += [f"{rates[name, sharing, n]:,.0f}" for n in counts]
            cells += [f"{rates[name, sharing, n] / one:.2f}×" for n in counts[1:]]
            cells += [f"{cpu[name, sharing, n] * 1e6:.2f}" for n in counts]
            rows.append(cells)
    lines += table(head, rows)
    lines.append("")
    for n in counts[1:]:
        for name in impls:
            shared, own = rates[name, "shared", n], rates[name, "nothing shared", n]
            lines.append(f"- {name}, {n} threads: shared reaches {shared / own:.0%} of unshared")
    if len(impls) == 2:
        ps, fs = "pystator", "ferrostator"
        for n in counts:
            ratio = rates[fs, "shared", n] / rates[ps, "shared", n]
            threads = f"{n} thread{'s' * (n > 1)}"
            lines.append(f"- ferrostator ÷ pystator, shared, {threads}: {ratio:.1f}×")
    return lines


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="N (default 2)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.3, help="per 1-thread repeat")
    args = parser.parse_args(argv)
    if args.threads < 2 or args.repeats < 1 or args.seconds <= 0:
        parser.error("--threads must be at least 2, --repeats at least 1, --seconds positive")

    impls: dict[str, Any] = {}
    for name in workloads.IMPLEMENTATIONS:
        try:
            impls[name] = workloads.load_implementation(name)
        except workloads.ImplementationUnavailable as exc:
            print(f"(skipped) {exc}", file=sys.stderr)
    if "ferrostator" not in impls:
        print("ferrostator is not importable.", file=sys.stderr)
        return 1
    counts = [1, args.threads]
    rates, cpu = run(impls, counts, args.repeats, args.seconds)
    print("\n".join(report(impls, counts, rates, cpu, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
