"""Stress variants of tests/test_reliability_leaks.py: 100k executions of every mode
(and of the error paths) with unchanged refcounts; RSS flat over 1M executions."""

from __future__ import annotations

import gc
from unittest import mock

import _reliability as R
import pytest
import test_reliability_leaks as L

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


@pytest.mark.parametrize(
    "mode", ["sync", "async_execute", "async_execute_parallel", "async_execute_phased"]
)
def test_refcounts_unchanged_after_100k_executions(fs, mode):
    assert L.check_refcounts_after(fs, mode, 100_000) == {}


@pytest.mark.parametrize(
    "mode", ["sync", "async_execute", "async_execute_parallel", "async_execute_phased"]
)
def test_refcounts_unchanged_after_100k_failing_executions(fs, mode):
    """Failing, retried and timed-out actions, 100k executions (time.sleep patched)."""
    reg, ex, specs, objects = L._error_world(fs)
    tr = R.tr_of(fs, actions=specs[:2] if mode == "sync" else specs)
    ctx: dict = {}
    with mock.patch("time.sleep"):
        L.run_mode(ex, mode, tr, ctx, 50)
        counts = L.Refcounts(ctx=ctx, tr=tr, reg=reg, ex=ex, **objects)
        counts.start()
        L.run_mode(ex, mode, tr, ctx, 100_000 if mode == "sync" else 25_000)
    assert counts.deltas() == {}


def test_rss_flat_over_1m_executions(fs):
    growth, done, blocks = L.rss_growth(fs, 1_000_000)
    print(f"\nRSS growth over {done} executions: {growth / 1e6:.3f} MB, {blocks} blocks")
    assert done >= 1_000_000
    assert growth < 8e6, f"RSS grew by {growth / 1e6:.1f} MB over {done} executions"
    assert blocks < 1000, f"{blocks} more memory blocks after {done} executions"


def test_rss_flat_with_cycles_created_per_transition(fs):
    """1M transitions each caught in a cycle with the caller's state machine
    (machine -> transition -> metadata -> machine); the collector must reclaim them."""

    class Machine:
        pass

    def one_round(n):
        for _ in range(n):
            m = Machine()
            m.last = fs.TransitionResult.success_result("a", "b", "go", metadata={"machine": m})
        gc.collect()

    one_round(10_000)
    base = R.rss_bytes()
    for _ in range(100):
        one_round(10_000)
    growth = R.rss_bytes() - base
    print(f"\nRSS growth over 1M cyclic transitions: {growth / 1e6:.3f} MB")
    assert growth < 8e6, (
        f"RSS grew by {growth / 1e6:.1f} MB: transitions in cycles are never collected"
    )
