"""pytest plugin: make sure the ferrostator under test is the installed one, not the source tree.

Used when testing a built wheel (``scripts/test_wheel.sh``, ``make test-wheel``)::

    FERROSTATOR_EXPECT_UNDER=/path/to/venv python -m pytest -p installed_plugin ...

The session aborts before any test runs if ``ferrostator`` was imported from anywhere
but below ``FERROSTATOR_EXPECT_UNDER`` (e.g. from the repository's ``python/`` directory),
and the report header says which files are under test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _location() -> tuple[Path, Path]:
    import ferrostator
    import ferrostator._core

    return Path(ferrostator.__file__).resolve(), Path(ferrostator._core.__file__).resolve()


def pytest_configure(config: pytest.Config) -> None:
    expected = os.environ.get("FERROSTATOR_EXPECT_UNDER")
    if not expected:
        raise pytest.UsageError("installed_plugin: set FERROSTATOR_EXPECT_UNDER")
    root = Path(expected).resolve()
    for path in _location():
        if not path.is_relative_to(root):
            raise pytest.UsageError(f"ferrostator imported from {path}, not from below {root}")


def pytest_report_header(config: pytest.Config) -> list[str]:
    package, extension = _location()
    return [f"ferrostator under test: {package.parent}", f"extension: {extension.name}"]
