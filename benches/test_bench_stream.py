"""The stream (many sync9-shaped transitions in a row) and ferrostator's batch
API (execute_many / async_execute_many) against a Python loop of execute."""

from __future__ import annotations

import types

import pytest
import workloads
from workloads import ASYNC_BATCH, PER_AWAIT

STREAM_LENGTH = 100_000
KEPT_LENGTH = 20_000


def _loop_execute(execute, items) -> list:
    return [execute(tr, ctx) for tr, ctx in items]


def _record_rates(benchmark) -> None:
    """Add the best round's throughput to the benchmark's extra info."""
    if benchmark.stats is None:  # --benchmark-disable
        return
    best = benchmark.stats.stats.min
    benchmark.extra_info["transitions_per_s"] = round(STREAM_LENGTH / best)
    benchmark.extra_info["actions_per_s"] = round(9 * STREAM_LENGTH / best)


def test_stream(benchmark, bench: workloads.Bench) -> None:
    benchmark.group = "stream"
    items = bench.stream_items(STREAM_LENGTH)
    execute = bench.executor.execute

    def run() -> None:
        for tr, ctx in items:
            execute(tr, ctx)

    benchmark.pedantic(run, rounds=3, iterations=1)
    _record_rates(benchmark)


def _chunks(items: list, size: int = 1_000) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def test_stream_kept(benchmark, bench: workloads.Bench) -> None:
    """The first KEPT_LENGTH transitions of the stream, results kept in lists
    of 1,000 (a Python loop of execute): the baseline of execute_many."""
    benchmark.group = "stream, results kept in lists of 1,000"
    chunks = _chunks(bench.stream_items(KEPT_LENGTH))
    execute = bench.executor.execute

    def run() -> None:
        for chunk in chunks:  # each chunk's results are dropped with the next
            _loop_execute(execute, chunk)

    benchmark.pedantic(run, rounds=3, iterations=1)


def test_stream_kept_execute_many(benchmark, fs: types.SimpleNamespace) -> None:
    """The same through execute_many, 1,000 transitions per call."""
    if not workloads.has_execute_many(fs):
        pytest.skip("ferrostator: no ActionExecutor.execute_many yet")
    benchmark.group = "stream, results kept in lists of 1,000"
    bench = workloads.Bench(fs)
    chunks = _chunks(bench.stream_items(KEPT_LENGTH))
    execute_many = bench.executor.execute_many

    def run() -> None:
        for chunk in chunks:
            execute_many(chunk)

    benchmark.pedantic(run, rounds=3, iterations=1)


# Times below are per transition: a call handles ASYNC_BATCH transitions and
# the clock is scaled by ASYNC_BATCH.


@pytest.mark.benchmark(group="many (per transition)", **PER_AWAIT)
def test_many_loop(benchmark, bench: workloads.Bench) -> None:
    items = bench.stream_items(ASYNC_BATCH)
    results = benchmark(_loop_execute, bench.executor.execute, items)
    assert len(results) == ASYNC_BATCH


@pytest.mark.benchmark(group="many (per transition)", **PER_AWAIT)
def test_many_execute_many(benchmark, fs: types.SimpleNamespace) -> None:
    if not workloads.has_execute_many(fs):
        pytest.skip("ferrostator: no ActionExecutor.execute_many yet")
    bench = workloads.Bench(fs)
    items = bench.stream_items(ASYNC_BATCH)
    results = benchmark(bench.executor.execute_many, items)
    assert len(results) == ASYNC_BATCH


@pytest.mark.benchmark(group="async many (per transition)", **PER_AWAIT)
def test_async_many_loop(benchmark, bench: workloads.Bench, loop) -> None:
    items = bench.async_items(ASYNC_BATCH)
    async_execute = bench.executor.async_execute

    async def run() -> list:
        return [await async_execute(tr, ctx) for tr, ctx in items]

    results = benchmark(lambda: loop.run_until_complete(run()))
    assert len(results) == ASYNC_BATCH


@pytest.mark.benchmark(group="async many (per transition)", **PER_AWAIT)
def test_async_many_execute_many(benchmark, fs: types.SimpleNamespace, loop) -> None:
    if not workloads.has_async_execute_many(fs):
        pytest.skip("ferrostator: no ActionExecutor.async_execute_many yet")
    bench = workloads.Bench(fs)
    items = bench.async_items(ASYNC_BATCH)
    async_execute_many = bench.executor.async_execute_many

    async def run() -> list:
        return await async_execute_many(items)

    results = benchmark(lambda: loop.run_until_complete(run()))
    assert len(results) == ASYNC_BATCH
