"""Stress variants of tests/test_reliability_threads.py (>= 100k operations)."""

from __future__ import annotations

import _reliability as R
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_eight_threads_mixed_operations_100k(fs):
    stats = R.thread_storm(fs, n_threads=8, ops_per_thread=15_000, seed=11)
    print(f"\nthread storm: {stats.ops} operations {dict(stats.per_op)}")
    assert stats.errors == []
    assert stats.ops >= 100_000


def test_sixteen_threads_with_clear_100k(fs):
    stats = R.thread_storm(fs, n_threads=16, ops_per_thread=7_000, seed=12, with_clear=True)
    print(f"\nthread storm with clear: {stats.ops} operations")
    assert stats.errors == []
    assert stats.ops >= 100_000


def test_event_loops_in_threads_100k(fs):
    stats = R.async_thread_storm(
        fs, n_loop_threads=8, n_writer_threads=4, executions_per_thread=1_500, seed=13
    )
    print(f"\nasync thread storm: {stats.ops} operations {dict(stats.per_op)}")
    assert stats.errors == []
    assert stats.ops >= 100_000
