"""pytest plugin: run the suite's event loops on uvloop instead of asyncio's default loop.

Selected explicitly, never by default (``make test-uvloop`` does this)::

    PYTHONPATH=tests/ecosystem python -m pytest -p uvloop_plugin tests/test_executor_async.py

Two routes lead to a loop in this suite, and both are switched:

* ``@pytest.mark.asyncio`` tests: pytest-asyncio >= 1.3 asks the
  ``pytest_asyncio_loop_factories`` hook for the loop factory (one factory, so test ids
  do not change); older pytest-asyncio takes its loops from the event loop policy.
* loops a test makes itself (``asyncio.run``, ``asyncio.new_event_loop``, as the
  differential scenarios do) come from the event loop policy, set to uvloop's for the
  whole session.

``tests/ecosystem/uvloop_checks.py`` proves both routes really give a ``uvloop.Loop``.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any

import pytest
import uvloop

_saved_policy: asyncio.AbstractEventLoopPolicy | None = None


def _quietly(fn: Callable[..., Any], *args: Any) -> Any:
    # Event loop policies are deprecated from Python 3.14 on; they still work there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return fn(*args)


def pytest_configure(config: pytest.Config) -> None:
    global _saved_policy
    _saved_policy = _quietly(asyncio.get_event_loop_policy)
    _quietly(asyncio.set_event_loop_policy, uvloop.EventLoopPolicy())


def pytest_unconfigure(config: pytest.Config) -> None:
    _quietly(asyncio.set_event_loop_policy, _saved_policy)


@pytest.hookimpl(optionalhook=True)
def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"uvloop": uvloop.new_event_loop}


def pytest_report_header(config: pytest.Config) -> str:
    policy = type(_quietly(asyncio.get_event_loop_policy))
    return f"event loop: uvloop {version('uvloop')} (policy {policy.__module__}.{policy.__name__})"
