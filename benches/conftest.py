"""Fixtures of the benchmark suite (``pytest benches``).

Each benchmark runs once per implementation (``impl`` is "pystator" or
"ferrostator"); group them with ``--benchmark-group-by=group`` to see the two
side by side. An implementation that does not import is skipped, and the skip
reason says so (e.g. "ferrostator: not importable (...)").

Async workloads run inside one event loop per module: a benchmark round awaits
the operation ``ASYNC_BATCH`` times in a single ``run_until_complete``, and its
clock (``workloads.PER_AWAIT``) is scaled so that reported times are per
await, without the cost of starting the loop.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import workloads
from workloads import ASYNC_BATCH

_loaded: dict[str, types.SimpleNamespace | str] = {}


def _load(name: str) -> types.SimpleNamespace:
    if name not in _loaded:
        try:
            _loaded[name] = workloads.load_implementation(name)
        except workloads.ImplementationUnavailable as exc:
            _loaded[name] = str(exc)
    loaded = _loaded[name]
    if isinstance(loaded, str):
        pytest.skip(loaded)
    return loaded


@pytest.fixture(params=workloads.IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    """The public API of one implementation (see workloads.load_implementation)."""
    return _load(request.param)


@pytest.fixture
def fs() -> types.SimpleNamespace:
    """ferrostator alone, for what pystator does not have."""
    return _load("ferrostator")


@pytest.fixture
def bench(impl: types.SimpleNamespace) -> workloads.Bench:
    """Registry, executor and transitions of every workload for ``impl``."""
    return workloads.Bench(impl)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


@pytest.fixture
def run_batch(
    loop: asyncio.AbstractEventLoop,
) -> Callable[[Callable[..., Any], tuple[Any, ...]], Callable[[], None]]:
    """``run_batch(coro_func, args)`` -> a no-argument callable that awaits
    ``coro_func(*args)`` ASYNC_BATCH times inside one run of ``loop``. Use
    with ``@pytest.mark.benchmark(**workloads.PER_AWAIT)``."""

    def make(func: Callable[..., Any], args: tuple[Any, ...]) -> Callable[[], None]:
        async def batch() -> None:
            for _ in range(ASYNC_BATCH):
                await func(*args)

        def run() -> None:
            loop.run_until_complete(batch())

        return run

    return make
