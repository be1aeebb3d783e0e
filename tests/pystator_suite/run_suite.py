#!/usr/bin/env python3
"""Run pystator's own test suite twice — as it is, and with ``ferrostator.install()``
active — and check that both runs give every test the same outcome.

    python tests/pystator_suite/run_suite.py [--cache DIR] [-- PYTEST_ARGS...]

The suite comes from the sdist of the installed pystator version, fetched once with
``pip download --no-binary :all:`` into a cache outside the repository
(``$FERROSTATOR_CACHE``, default ``~/.cache/ferrostator``); pystator's tests are never
part of this repository. Its test dependencies are in ``requirements-pystator-suite.txt``.

A test whose outcome differs must be listed in ``DIFFERENCES`` below with the reason
(docs/contracts.md's table of deliberate differences lists the same ids); a listed test that
no longer differs fails the run too, so the list stays true.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: How many more times a test whose outcome differs is run each way.
RERUNS = 3

#: test id -> why its outcome differs under ferrostator.install() (none today).
DIFFERENCES: dict[str, str] = {}

#: pystator tests whose outcome depends on the wall clock (or the machine's load), with
#: or without ferrostator: a differing outcome of theirs is reported, not a failure.
TIMING_DEPENDENT: dict[str, str] = {
    "tests/unit/test_entity_metrics.py::TestEntityMetrics::"
    "test_metrics_health_score_all_successes": (
        "the health score counts whole seconds since the entity's last transition: when more "
        "than a second passes before the metrics request (a loaded machine), it drops below 80"
    ),
}


def suite_dir(version: str, cache: Path) -> Path:
    """pystator's sdist for ``version``, unpacked in ``cache`` (downloaded if absent)."""
    root = cache / f"pystator-sdist-{version}"
    tree = root / f"pystator-{version}"
    if (tree / "tests").is_dir():
        return tree
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"pystator-{version}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"pystator=={version}",
                "--dest",
                str(root),
            ],
            check=True,
        )
    with tarfile.open(archive) as tar, tempfile.TemporaryDirectory(dir=root) as tmp:
        tar.extractall(tmp, filter="data")
        os.replace(Path(tmp) / f"pystator-{version}", tree)
    return tree


def run(
    tree: Path, installed: bool, extra: list[str], tests: list[str], quiet: bool = False
) -> dict[str, str]:
    """One pytest run of the suite (or of the given node ids): node id -> outcome
    (passed, failed, skipped, error)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "outcomes.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "suite_outcomes",
        ]
        if installed:
            command += ["-p", "ferrostator_installed"]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        env["FERROSTATOR_SUITE_OUTCOMES"] = str(report)
        label = "with ferrostator.install()" if installed else "as it is"
        if not quiet:
            print(f"--- pystator suite, {label}", flush=True)
        output = subprocess.DEVNULL if quiet else None
        completed = subprocess.run(
            command + extra + tests, cwd=tree, env=env, check=False, stdout=output, stderr=output
        )
        if completed.returncode not in (0, 1) or not report.exists():
            raise SystemExit(
                f"the pystator suite could not run ({label}): pytest exit {completed.returncode}"
            )
        return dict(json.loads(report.read_text(encoding="utf-8")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_cache = Path(
        os.environ.get("FERROSTATOR_CACHE", Path.home() / ".cache" / "ferrostator")
    )
    parser.add_argument("--cache", type=Path, default=default_cache)
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    version = metadata.version("pystator")
    tree = suite_dir(version, args.cache)
    plain = run(tree, False, args.pytest_args, ["tests"])
    with_install = run(tree, True, args.pytest_args, ["tests"])

    def counts(result: dict[str, str]) -> str:
        c = Counter(result.values())
        return ", ".join(f"{c[k]} {k}" for k in ("passed", "failed", "error", "skipped") if c[k])

    print(f"pystator {version} suite as it is:             {counts(plain)}")
    print(f"pystator {version} suite, ferrostator.install(): {counts(with_install)}")
    differing = {
        test_id: (plain.get(test_id, "absent"), with_install.get(test_id, "absent"))
        for test_id in sorted(plain.keys() | with_install.keys())
        if plain.get(test_id) != with_install.get(test_id)
    }
    problems = []
    for test_id, (before, after) in sorted(differing.items()):
        if test_id in DIFFERENCES:
            continue
        if test_id in TIMING_DEPENDENT:
            print(
                f"timing-dependent in pystator's suite: {test_id}: "
                f"{before} as it is, {after} installed"
            )
            continue
        # Timing-dependent tests of pystator's own vary from run to run: run the test
        # alone a few more times each way, and call it a difference only if each way
        # keeps its own outcome.
        seen = {False: {before}, True: {after}}
        for _ in range(RERUNS):
            for installed in (False, True):
                seen[installed].add(
                    run(tree, installed, args.pytest_args, [test_id], True).get(test_id, "absent")
                )
        if len(seen[False]) > 1 or seen[False] == seen[True]:
            outcomes_seen = ", ".join(sorted(seen[False] | seen[True]))
            print(
                "flaky in pystator's suite (varies without ferrostator too): "
                f"{test_id}: {outcomes_seen}"
            )
            continue
        problems.append(f"  {test_id}: {before} as it is, {after} with ferrostator.install()")
    for test_id in sorted(DIFFERENCES.keys() - differing.keys()):
        problems.append(f"  {test_id}: listed as a difference, but its outcome is the same")
    for test_id in sorted(differing.keys() & DIFFERENCES.keys()):
        print(f"deliberate difference: {test_id}: {DIFFERENCES[test_id]}")
    if problems:
        print("outcomes differ:\n" + "\n".join(problems))
        return 1
    print(f"same outcome for all {len(plain)} tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
