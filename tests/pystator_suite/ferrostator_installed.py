"""pytest plugin: run a pystator test suite with ``ferrostator.install()`` active.

Loaded with ``-p ferrostator_installed`` (this directory on ``PYTHONPATH``) by
``tests/pystator_suite/run_suite.py``; installs before any test module (or pystator's
own conftest) imports pystator, and checks at the end that it was active throughout.
"""

from __future__ import annotations

import pytest

import ferrostator


def pytest_configure(config: pytest.Config) -> None:
    ferrostator.install()


def pytest_report_header(config: pytest.Config) -> str:
    import pystator.actions

    executor = pystator.actions.ActionExecutor
    return (
        f"ferrostator.install() for pystator {ferrostator.installed()}: "
        f"pystator.actions.ActionExecutor is {executor.__module__}.{executor.__qualname__}"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    import pystator.actions

    if ferrostator.installed() is None or not pystator.actions.ActionExecutor.__module__.startswith(
        "ferrostator"
    ):
        raise RuntimeError("ferrostator.install() was undone during the pystator suite")
