"""The recursion expectations of tests/test_reliability_reentrancy.py proved against
pystator 0.0.25 (slow: each child interpreter imports pystator, ~2 s)."""

from __future__ import annotations

import _reliability as R
import pytest
import test_reliability_reentrancy as T

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.mark.parametrize("which", ["pystator", "ferrostator"])
@pytest.mark.parametrize("path", ["sync", "async", "registry"])
@pytest.mark.parametrize(
    "limit,stack_kib",
    [
        (8000, 0),
        (1000, 1024),
        (1000, 512),
        (16000, 0),  # pystator still raises RecursionError with a 16000 limit
    ],
)
def test_runaway_recursion_ends_in_recursion_error(which, path, limit, stack_kib):
    proc = R.run_python(T.RECURSION_CHILD, which, str(limit), str(stack_kib), path, timeout=300)
    assert proc.returncode == 0 and "OUTCOME RecursionError" in proc.stdout, R.describe_exit(proc)
