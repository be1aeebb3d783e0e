"""Proof that ``-p uvloop_plugin`` puts the tests on uvloop (run by ``make test-uvloop``).

Not named ``test_*.py``: the default test run does not collect it; it is passed to
pytest explicitly, together with the plugin.
"""

from __future__ import annotations

import asyncio
import warnings

import pytest
import uvloop


@pytest.fixture(autouse=True)
def _plugin_loaded(request: pytest.FixtureRequest) -> None:
    if not request.config.pluginmanager.has_plugin("uvloop_plugin"):
        pytest.fail("run with -p uvloop_plugin, PYTHONPATH=tests/ecosystem (make test-uvloop)")


@pytest.mark.asyncio
async def test_asyncio_marked_tests_run_on_uvloop() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


def test_asyncio_run_runs_on_uvloop() -> None:
    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    assert issubclass(asyncio.run(loop_type()), uvloop.Loop)


def test_new_event_loop_is_uvloop() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
