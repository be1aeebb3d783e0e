"""Reliability: a hypothesis fuzz of the whole public API, in a child interpreter.

tests/_reliability_fuzz.py draws short programs of public calls fed wrong and odd
values (see its docstring for the values and the oracles). It runs in a child
process, so a segfault or abort is a failed test with the last call made, not a dead
test run.

Examples: 200 (derandomized, so the default run is deterministic); with
HYPOTHESIS_PROFILE=slow, 10 000 (the same profile conftest.py registers).
tests/stress/test_stress_fuzz.py runs >= 10 000 with a fresh random seed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import _reliability as R

FUZZ_SCRIPT = Path(__file__).resolve().parent / "_reliability_fuzz.py"


def run_fuzz(
    tmp_path: Path,
    examples: int,
    seed: int | None = None,
    timeout: float = 600,
    allow=(),
    env: dict | None = None,
):
    """Runs the fuzz child (``env``: extra environment variables for it); returns (ok,
    report text)."""
    last_call = tmp_path / "last_call.txt"
    args = ["--examples", str(examples), "--last-call", str(last_call)]
    if seed is not None:
        args += ["--seed", str(seed)]
    for item in allow:
        args += ["--allow", item]
    script = repr(str(FUZZ_SCRIPT))
    code = (
        f"import runpy, sys; sys.argv = [{script}] + sys.argv[1:]; "
        f"runpy.run_path({script}, run_name='__main__')"
    )
    proc = R.run_python(code, *args, timeout=timeout, env=env)
    ok = proc.returncode == 0 and "FUZZ OK" in proc.stdout
    last = last_call.read_text(errors="replace").strip() if last_call.exists() else "(none)"
    report = f"{R.describe_exit(proc)}\n--- last call started ---\n{last}"
    return ok, report, proc


def default_examples() -> int:
    return 10_000 if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else 200


def test_fuzz_public_api_in_a_subprocess(tmp_path):
    examples = default_examples()
    ok, report, proc = run_fuzz(tmp_path, examples, timeout=60 + examples * 0.1)
    assert ok, report
    assert f"FUZZ OK {examples} " in proc.stdout


def test_fuzz_harness_reports_a_segfault(tmp_path):
    """The harness turns a crash of the child into a failure that names the last
    call: a child that segfaults mid-run (on purpose, at call 7) is reported with
    its signal and the call it was making, not mistaken for a pass."""
    crash = {"RELIABILITY_FUZZ_SELFTEST_CRASH_AT": "7"}  # the child's environment only
    ok, report, proc = run_fuzz(tmp_path, 50, timeout=120, env=crash)
    assert not ok
    assert proc.returncode == -11 or sys.platform != "linux", report
    assert "killed by signal 11" in report
    last = report.split("--- last call started ---")[1].strip()
    assert last not in ("", "(none)") and "(" in last, report
