"""`cargo clippy --all-targets -- -D warnings` runs clean (slow: compiles the crate)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import _reliability as R
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")
def test_cargo_clippy_is_clean():
    env = dict(os.environ, PYO3_PYTHON=sys.executable)
    proc = subprocess.run(
        ["cargo", "clippy", "--all-targets", "--", "-D", "warnings"],
        cwd=R.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
