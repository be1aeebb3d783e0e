"""Sync workloads: reg1, sync9, sync9p, sync9r, each beside its floor (a bare Python
call of the same functions)."""

from __future__ import annotations

import pytest
import workloads


@pytest.mark.benchmark(group="reg1")
def test_reg1(benchmark, bench: workloads.Bench) -> None:
    case = bench.case("reg1")
    result = benchmark(case.func, *case.args)
    assert result.success


@pytest.mark.benchmark(group="reg1")
def test_reg1_floor(benchmark) -> None:
    """One bare call of the same function."""
    benchmark(workloads.SYNC_ACTIONS[0], workloads.new_context())


@pytest.mark.parametrize("workload", ["sync9", "sync9p"])
def test_sync9(benchmark, bench: workloads.Bench, workload: str) -> None:
    benchmark.group = workload
    case = bench.case(workload)
    result = benchmark(case.func, *case.args)
    assert result.action_count == 9 and result.all_succeeded


def test_sync9r(benchmark, bench: workloads.Bench) -> None:
    """sync9, then reading action_results (the ActionResult objects built)."""
    benchmark.group = "sync9r"
    case = bench.case("sync9r")
    results = benchmark(case.func, *case.args)
    assert len(results) == 9 and all(r.success for r in results)


@pytest.mark.parametrize("workload", ["sync9", "sync9p", "sync9r"])
def test_sync9_floor(benchmark, workload: str) -> None:
    """The 9 bare calls (the floor is the same with or without params)."""
    benchmark.group = workload
    benchmark(workloads.floor9, workloads.new_context())
