"""Async workloads: seq9a, par9s, par9a, phased9a, mixed.

Each round awaits the operation ASYNC_BATCH times inside one running loop;
the scaled clock reports the time of one await (see conftest.py).
"""

from __future__ import annotations

import pytest
import workloads
from workloads import PER_AWAIT

ASYNC_WORKLOADS = ["seq9a", "par9s", "par9a", "phased9a", "mixed"]


@pytest.mark.benchmark(**PER_AWAIT)
@pytest.mark.parametrize("workload", ASYNC_WORKLOADS)
def test_async(benchmark, bench: workloads.Bench, run_batch, loop, workload: str) -> None:
    benchmark.group = workload
    case = bench.case(workload)
    # Check the workload once before timing it.
    result = loop.run_until_complete(case.func(*case.args))
    assert result.action_count == 9 and result.all_succeeded
    benchmark(run_batch(case.func, case.args))


@pytest.mark.benchmark(group="seq9a", **PER_AWAIT)
def test_seq9a_floor(benchmark, run_batch) -> None:
    """Awaiting the 9 async functions directly."""
    benchmark(run_batch(workloads.floor9a, (workloads.new_context(),)))


@pytest.mark.benchmark(group="par9a", **PER_AWAIT)
def test_par9a_floor(benchmark, run_batch) -> None:
    """asyncio.gather of the 9 async functions (gather's semantics, nothing else)."""
    benchmark(run_batch(workloads.floor_gather9a, (workloads.new_context(),)))


@pytest.mark.benchmark(group="phased9a", **PER_AWAIT)
def test_phased9a_floor(benchmark, run_batch) -> None:
    """Three asyncio.gather of 3 async functions."""
    benchmark(run_batch(workloads.floor_phased9a, (workloads.new_context(),)))
