"""Shared fixtures.

Most behaviour tests run twice: once against pystator 0.0.25 (the reference
implementation, when it is installed) and once against ferrostator. That way every
expectation written here is first proved true of the reference. ferrostator itself
must import: a test run that silently skipped the product would prove nothing.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import types
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

# Until the extension is built, test authors may check expectations against the
# reference alone with FERROSTATOR_REFERENCE_ONLY=1; `make test` never sets it.
REFERENCE_ONLY = os.environ.get("FERROSTATOR_REFERENCE_ONLY") == "1"
if not REFERENCE_ONLY:
    import ferrostator

try:  # the reference implementation is optional
    import pystator.actions as _pystator_actions
    import pystator.errors as _pystator_errors
    from pystator import _types as _pystator_types
except ImportError:  # pragma: no cover - depends on the environment
    _pystator_actions = None

# Deterministic by default, so `make test` and CI see the same examples every run;
# the "ci" and "slow" profiles search further with random seeds.
settings.register_profile("default", max_examples=100, deadline=None, derandomize=True)
# derandomize=False: register_profile builds on the loaded ("default") profile, which
# would pass its derandomize=True on.
settings.register_profile("ci", max_examples=300, deadline=None, derandomize=False)
settings.register_profile(
    "slow",
    max_examples=10_000,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

PUBLIC_NAMES = (
    "ACTION_PARAMS_KEY",
    "ActionExecutor",
    "ActionNotFoundError",
    "ActionRegistry",
    "ActionResult",
    "ActionSpec",
    "ActionStatus",
    "ErrorCode",
    "ExecutionMode",
    "ExecutionResult",
    "FSMError",
    "TransitionResult",
    "is_transient_error",
)


def _ferrostator_ns() -> types.SimpleNamespace:
    ns = types.SimpleNamespace(**{n: getattr(ferrostator, n) for n in PUBLIC_NAMES})
    ns.name = "ferrostator"
    ns.LOGGER = "ferrostator.actions"
    return ns


def _pystator_ns() -> types.SimpleNamespace:
    assert _pystator_actions is not None
    sources = (_pystator_actions, _pystator_types, _pystator_errors)
    values = {}
    for n in PUBLIC_NAMES:
        for mod in sources:
            if hasattr(mod, n):
                values[n] = getattr(mod, n)
                break
    ns = types.SimpleNamespace(**values)
    ns.name = "pystator"
    ns.LOGGER = "pystator.actions"
    return ns


IMPLEMENTATIONS = ([] if REFERENCE_ONLY else ["ferrostator"]) + (
    ["pystator"] if _pystator_actions else []
)


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    """The public API of one implementation: ``impl.ActionRegistry``, ... and
    ``impl.name`` ("ferrostator" or "pystator") and ``impl.LOGGER`` (logger name)."""
    return _ferrostator_ns() if request.param == "ferrostator" else _pystator_ns()


@pytest.fixture
def fs() -> types.SimpleNamespace:
    """ferrostator alone, for behaviour pystator does not have."""
    if REFERENCE_ONLY:
        pytest.skip("FERROSTATOR_REFERENCE_ONLY=1: ferrostator is not under test")
    return _ferrostator_ns()


@pytest.fixture
def ps() -> types.SimpleNamespace:
    """pystator 0.0.25 alone (skips when it is not installed)."""
    if _pystator_actions is None:
        pytest.skip("pystator 0.0.25 is not installed")
    return _pystator_ns()


# ---------------------------------------------------------------------------
# Multi-threaded runs. `make test-threads` (pytest-run-parallel, --parallel-threads=4)
# runs each test body in 4 threads at once, sharing its fixtures; a test marked
# thread_unsafe runs once, in the main thread. A plain pytest run ignores the marks.
# ---------------------------------------------------------------------------

PATCHES_SLEEP = pytest.mark.thread_unsafe(
    reason="patches time.sleep / asyncio.sleep process-wide (unittest.mock.patch)"
)
COLLECTS_GARBAGE = pytest.mark.thread_unsafe(
    reason="needs gc.collect() to collect, which does nothing while another thread collects"
)
_ASYNCIO_TEST = pytest.mark.thread_unsafe(
    reason="pytest-asyncio runs the coroutine on its event loop in the main thread only"
)


def collect_until(done: Callable[[], bool], rounds: int = 5) -> bool:
    """``gc.collect()`` until ``done()`` holds, at most ``rounds`` times; returns ``done()``.

    One call is not always enough: ``gc.collect()`` returns at once, collecting nothing,
    while a collection started by another thread (a leftover worker of an earlier test,
    the asyncio default executor...) is running, which free-threaded builds show now and
    then. A real leak fails every round."""
    for attempt in range(rounds):
        gc.collect()
        if done():
            return True
        time.sleep(0.01 * (attempt + 1))
    return done()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("asyncio") is not None:
            item.add_marker(_ASYNCIO_TEST)


def caplog_records(caplog: pytest.LogCaptureFixture) -> list:
    """``caplog.records``; when the test body runs in a worker thread (pytest-run-parallel:
    the threads share one caplog), only the records the calling thread logged."""
    if threading.current_thread() is threading.main_thread():
        return caplog.records
    me = threading.get_ident()
    return [r for r in caplog.records if r.thread == me]
