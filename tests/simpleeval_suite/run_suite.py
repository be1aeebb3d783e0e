#!/usr/bin/env python3
"""Run simpleeval's own test suite twice — as it is, and with ``SimpleEval.eval`` routed
through ferrostator's expression engine — and check that both runs give every test the
same outcome.

    python tests/simpleeval_suite/run_suite.py [--cache DIR] [-- PYTEST_ARGS...]

The suite comes from the sdist of the installed simpleeval version, fetched once with
``pip download --no-binary :all:`` into a cache outside the repository
(``$FERROSTATOR_CACHE``, default ``~/.cache/ferrostator``); simpleeval's tests are never
part of this repository. Only its ``tests/`` are unpacked, so the tests import the
installed simpleeval. Both runs treat warnings as errors, as simpleeval's own CI does.

The second run loads ``ferrostator_engine.py`` (beside this file): every evaluation by an
instance the engine mirrors (a plain ``SimpleEval`` with the default operators, node
handlers, attribute rules; ``simple_eval()`` too) runs on ``ferrostator._core.Evaluator``,
any other on simpleeval. What the engine itself hands back to simpleeval (a names object
that is not a dict, source it does not compile) is counted apart. The runner prints how
many evaluations, and how many tests, ran on the engine, and the final line
``N passed, N failed[, N skipped]`` counts the engine run's outcomes (errors as failed).

Kept true by the run (a stale entry fails it, like a missing one):

- ``DIFFERENCES``: tests whose outcome differs on the engine, with the reason;
- ``NOT_MIRRORED``: tests that evaluate with a configuration the engine does not mirror
  (they pin simpleeval internals), wholly or in part, with the reason;

and every test of ``test_security.py`` must pass on the engine run.
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
from typing import Any

HERE = Path(__file__).resolve().parent

#: simpleeval's file whose tests must all pass on the engine run.
SECURITY_TESTS = "tests/test_security.py"

#: test id -> why its outcome differs on ferrostator's engine (none today).
DIFFERENCES: dict[str, str] = {}

_COMPOUND = "evaluates with EvalWithCompoundTypes (list, tuple, dict, set displays, comprehensions)"
_ALLOWED_ATTRS = "evaluates with allowed_attrs (per-type attribute allow-lists)"


def _tests(test_class: str, names: str, reason: str) -> dict[str, str]:
    return {f"tests/{test_class}::{name}": reason for name in names.split()}


#: test id -> why (some of) its evaluations run on simpleeval, not on the engine: it pins
#: a configuration of simpleeval's that ferrostator's engine does not mirror (the list in
#: docs/expressions.md of what the engine leaves out is this one). Its other evaluations,
#: if any, run on the engine.
NOT_MIRRORED: dict[str, str] = {
    **_tests(
        "test_allowed_attributes.py::TestAllowedAttributes",
        "test_allowed_attrs_ test_allowed_extra_attr test_breakout_via_generator"
        " test_disallowed_extra_attr test_disallowed_types",
        _ALLOWED_ATTRS,
    ),
    **_tests(
        "test_basics.py::TestBasic",
        "test_slicing",
        "adds an entry (ast.Slice) to the instance's operators",
    ),
    **_tests(
        "test_compound_types.py::TestCompoundTypes",
        "test_dict test_dict_contains test_dict_invalid_star_expression"
        " test_dict_star_expression test_list test_list_contains"
        " test_list_invalid_star_expression test_list_star_expression test_not test_set"
        " test_tuple test_tuple_contains test_use_func",
        _COMPOUND,
    ),
    **_tests(
        "test_comprehensions.py::TestComprehensions",
        "test_attr_access_fails test_basic test_dictcomp_basic test_dictcomp_nested_unpack"
        " test_dictcomp_unpack test_dictcomp_with_if test_dictcomp_with_multiple_if"
        " test_dictcomp_with_self_reference test_external_names_work"
        " test_multiple_generators test_nested_unpack test_nesting_generators_to_cheat"
        " test_no_leaking_names test_other_places test_too_long_generator"
        " test_too_long_generator_2 test_triple_generators test_unpack test_with_if"
        " test_with_multiple_if test_with_self_reference",
        _COMPOUND,
    ),
    **_tests(
        "test_evaluator.py::TestEvaluator",
        "test_parse_and_use_previously_parsed",
        "evaluates trees parsed beforehand (previously_parsed), and with the instance's "
        "parse replaced; its evaluation by a fresh SimpleEval runs on the engine",
    ),
    **_tests(
        "test_extending_the_class.py::TestExtendingClass",
        "test_methods_forbidden",
        "evaluates with a subclass of SimpleEval (its own _eval_call)",
    ),
    **_tests(
        "test_get_item_unhappy_paths.py::TestGetItemUnhappy",
        "test_getitem_not_implemented",
        "turns ATTR_INDEX_FALLBACK off half-way; its first two evaluations run on the engine",
    ),
    **_tests(
        "test_names.py::TestNames",
        "test_dict_attr_access_disabled",
        "evaluates with ATTR_INDEX_FALLBACK turned off",
    ),
    **_tests(
        "test_no_entries.py::TestNoEntries",
        "test_no_operators",
        "evaluates with an empty operator table; its first two evaluations run on the engine",
    ),
    **_tests("test_security.py::TestTryingToBreakOut", "test_breakout_via_op", _COMPOUND),
}


def suite_dir(version: str, cache: Path) -> Path:
    """simpleeval's tests for ``version``, unpacked from its sdist in ``cache``
    (downloaded if absent); the sdist's own simpleeval.py is left in the archive."""
    root = cache / f"simpleeval-sdist-{version}"
    tree = root / f"simpleeval-{version}"
    if (tree / "tests").is_dir():
        return tree
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"simpleeval-{version}.tar.gz"
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
                f"simpleeval=={version}",
                "--dest",
                str(root),
            ],
            check=True,
        )
    prefix = f"simpleeval-{version}/tests/"
    with tarfile.open(archive) as tar, tempfile.TemporaryDirectory(dir=root) as tmp:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        if not members:
            raise SystemExit(f"{archive} has no {prefix}")
        tar.extractall(tmp, members=members, filter="data")
        os.replace(Path(tmp) / f"simpleeval-{version}", tree)
    return tree


def run(tree: Path, engine: bool, extra: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
    """One pytest run of the suite: (node id -> outcome (passed, failed, skipped,
    error), the engine run's routing record (see ferrostator_engine.py), else {})."""
    label = "on ferrostator's engine" if engine else "as it is"
    print(f"--- simpleeval suite, {label}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = Path(tmp) / "outcomes.json"
        routing = Path(tmp) / "routing.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            # simpleeval has no pytest configuration; none found above the cache applies.
            "-c",
            os.devnull,
            "--rootdir",
            str(tree),
            "-o",
            "filterwarnings=error",
            "-p",
            "no:cacheprovider",
            "-p",
            "pytest_timeout",
            "--timeout",
            "60",
            "-p",
            "simpleeval_outcomes",
        ]
        if engine:
            command += ["-p", "ferrostator_engine"]
        env = dict(os.environ)
        # Only the plugins named above: the others installed in the venv have nothing to
        # do with simpleeval's suite.
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        env["FERROSTATOR_SUITE_OUTCOMES"] = str(outcomes)
        env["FERROSTATOR_SUITE_ROUTING"] = str(routing)
        completed = subprocess.run(command + extra + ["tests"], cwd=tree, env=env, check=False)
        if completed.returncode not in (0, 1) or not outcomes.exists():
            raise SystemExit(
                f"the simpleeval suite could not run ({label}): pytest exit {completed.returncode}"
            )
        if engine and not routing.exists():
            raise SystemExit("the engine run wrote no routing counts")
        result = dict(json.loads(outcomes.read_text(encoding="utf-8")))
        counts = dict(json.loads(routing.read_text(encoding="utf-8"))) if engine else {}
        return result, counts


def counts(result: dict[str, str]) -> str:
    c = Counter(result.values())
    return ", ".join(f"{c[k]} {k}" for k in ("passed", "failed", "error", "skipped") if c[k])


def ran_on(n: dict[str, int]) -> str:
    """Where a test's evaluations ran: wholly / partly on the engine, only on simpleeval,
    or none (it evaluates nothing)."""
    elsewhere = n["handed_back"] + n["original"]
    if n["engine"]:
        return "partly" if elsewhere else "wholly"
    return "simpleeval" if elsewhere else "none"


def routing_table(counts: dict[str, dict[str, int]]) -> list[str]:
    """Per test file: tests, tests run wholly / partly on the engine, tests run only on
    simpleeval, tests that evaluate nothing; evaluations on the engine, handed back to
    simpleeval by the engine, not routed."""
    rows: dict[str, Counter[str]] = {}
    for test_id, n in counts.items():
        row = rows.setdefault(test_id.split("::")[0], Counter())
        row["tests"] += 1
        row[ran_on(n)] += 1
        row.update(n)
    rows["total"] = sum(rows.values(), Counter())
    columns = {
        "tests": ("", "tests"),
        "wholly": ("wholly on", "the engine"),
        "partly": ("partly on", "the engine"),
        "simpleeval": ("only on", "simpleeval"),
        "none": ("evaluate", "nothing"),
        "engine": ("evaluations:", "on the engine"),
        "handed_back": ("handed", "back"),
        "original": ("not", "routed"),
    }
    width = max(len(name) for name in rows)
    widths = [max(len(top), len(bottom)) for top, bottom in columns.values()]
    lines = [
        " ".join(
            [" " * width] + [h[i].rjust(w) for h, w in zip(columns.values(), widths, strict=True)]
        )
        for i in (0, 1)
    ]
    for name, row in sorted(rows.items(), key=lambda kv: (kv[0] == "total", kv[0])):
        cells = [str(row[c]).rjust(w) for c, w in zip(columns, widths, strict=True)]
        lines.append(" ".join([name.ljust(width)] + cells))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_cache = Path(
        os.environ.get("FERROSTATOR_CACHE", Path.home() / ".cache" / "ferrostator")
    )
    parser.add_argument("--cache", type=Path, default=default_cache)
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()

    from ferrostator.expressions import native

    version = metadata.version("simpleeval")
    if not native():
        raise SystemExit(
            f"simpleeval {version} is installed: not a version ferrostator's engine is "
            "verified against (ferrostator.expressions.native() is False)"
        )
    tree = suite_dir(version, args.cache)
    plain, _ = run(tree, False, args.pytest_args)
    on_engine, routing = run(tree, True, args.pytest_args)

    print(f"simpleeval {version} suite as it is:             {counts(plain)}")
    print(f"simpleeval {version} suite on ferrostator's engine: {counts(on_engine)}")
    counted = {t: n for t, n in routing["counts"].items() if "::" in t}
    print("\n".join(routing_table(counted)))
    if routing["handed_back"]:
        print("evaluations the engine handed back to simpleeval:")
        for test_id, sources in sorted(routing["handed_back"].items()):
            shown = ", ".join(repr(s if len(s) <= 40 else s[:37] + "...") for s in sources[:3])
            more = f" and {len(sources) - 3} more" if len(sources) > 3 else ""
            print(f"  {test_id}: {shown}{more}")

    problems: dict[str, list[str]] = {}

    def problem(test_id: str, text: str) -> None:
        problems.setdefault(test_id, []).append(text)

    differing = {
        test_id: (plain.get(test_id, "absent"), on_engine.get(test_id, "absent"))
        for test_id in sorted(plain.keys() | on_engine.keys())
        if plain.get(test_id) != on_engine.get(test_id)
    }
    for test_id, (before, after) in differing.items():
        if test_id not in DIFFERENCES:
            problem(test_id, f"{before} as it is, {after} on ferrostator's engine")
    for test_id in DIFFERENCES.keys() - differing.keys():
        problem(test_id, "listed in DIFFERENCES, but its outcome is the same")
    for test_id in sorted(differing.keys() & DIFFERENCES.keys()):
        print(f"deliberate difference: {test_id}: {DIFFERENCES[test_id]}")

    security = sorted(t for t in on_engine if t.startswith(SECURITY_TESTS + "::"))
    if not security:
        problem(SECURITY_TESTS, "no tests ran")
    for test_id in security:
        if on_engine[test_id] != "passed":
            problem(test_id, f"a security test, {on_engine[test_id]} on the engine")

    not_mirrored = {t for t, n in counted.items() if n["original"]}
    for test_id in not_mirrored - NOT_MIRRORED.keys():
        n = counted[test_id]
        problem(
            test_id,
            f"{n['original']} of its {sum(n.values())} evaluations were not routed to the "
            "engine: list it in NOT_MIRRORED with the reason",
        )
    # A test that stopped early on the engine may not have reached its other evaluations.
    for test_id in NOT_MIRRORED.keys() - not_mirrored - differing.keys():
        problem(test_id, "listed in NOT_MIRRORED, but all its evaluations were routed")

    ran = Counter(ran_on(n) for n in counted.values())
    total: Counter[str] = Counter()
    for n in counted.values():
        total.update(n)
    secure = sum(1 for t in security if counted.get(t, {}).get("engine"))
    print(
        f"{ran['wholly'] + ran['partly']} of simpleeval's {len(counted)} tests ran on "
        f"ferrostator's engine ({ran['wholly']} wholly, {ran['partly']} in part), "
        f"{secure} of its {len(security)} security tests;\n"
        f"of the {sum(total.values())} evaluations, {total['engine']} ran on the engine, "
        f"{total['handed_back']} were handed back to simpleeval by the engine, "
        f"{total['original']} were not routed (NOT_MIRRORED)."
    )
    if problems:
        print("problems:")
        for test_id, texts in sorted(problems.items()):
            print(f"  {test_id}: {'; '.join(texts)}")
    else:
        print(f"same outcome for all {len(plain)} tests")
    outcome = Counter(on_engine.values())
    final = f"{outcome['passed']} passed, {outcome['failed'] + outcome['error']} failed"
    if outcome["skipped"]:
        final += f", {outcome['skipped']} skipped"
    print(final)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
