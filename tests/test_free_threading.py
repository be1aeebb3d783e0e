"""Free-threaded CPython (3.14t, 3.15t): the extension declares that it runs without the GIL."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

import pytest


@pytest.mark.skipif(
    not sysconfig.get_config_var("Py_GIL_DISABLED"), reason="a GIL build of CPython"
)
def test_import_leaves_the_gil_disabled() -> None:
    # PYTHON_GIL unset: with PYTHON_GIL=0 (as the test runs use) the GIL stays off whatever
    # a module declares; without it, importing a module that does not declare support
    # turns it back on (with a RuntimeWarning).
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = "import sys, ferrostator, ferrostator._core; print(sys._is_gil_enabled())"
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
