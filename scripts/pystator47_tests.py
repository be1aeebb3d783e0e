"""Runs pystator 0.0.47's own tests of its actions module against ``ferrostator.v47``.

The sdist is fetched with pip (``pip download --no-deps --no-binary :all:``) into a cache
outside the repository; the test files are copied into a temporary directory and their
imports of pystator's action surface re-pointed to ``ferrostator.v47`` (everything else
still comes from pystator, which must be installed: run with ``.venvs/v47/bin/python``).
pystator's tests are never copied into this repository.

    python scripts/pystator47_tests.py [--reference] [pytest arguments...]

``--reference`` runs the same files unchanged (against pystator itself).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import ferrostator.v47

VERSION = "0.0.47"
CACHE = (
    Path(os.environ.get("FERROSTATOR_CACHE", Path.home() / ".cache" / "ferrostator"))
    / "pystator-sdist"
)

# pystator 0.0.47's tests of the actions module (tests/unit/<name>.py).
FILES = [
    "test_actions",
    "test_async_executor",
    "test_action_retry",
    "test_action_timeout",
    "test_action_params",
    "test_branch_action",
    "test_code_action",
    "test_http_action",
    "test_conditional_actions",
    "test_builtins",
    "test_effects",
    "test_registry_catalog_core",
    "test_transition",
    "test_declarative_config",
]

# The names ferrostator.v47 provides (its __all__, less EFFECT_TYPES and __version__, which
# the re-pointed tests keep taking from pystator); an import of any other name keeps its
# pystator module.
SURFACE = set(ferrostator.v47.__all__) - {"EFFECT_TYPES", "__version__"}

# The pystator modules whose imports are re-pointed, and where the surface names go.
MODULES = {
    "pystator": "ferrostator.v47",
    "pystator.actions": "ferrostator.v47.actions",
    "pystator._types": "ferrostator.v47",
    "pystator.errors": "ferrostator.v47",
    "pystator.effects": "ferrostator.v47",
}

IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from (?P<module>pystator(?:\.[\w.]+)?) import "
    r"(?:\((?P<group>[^)]*)\)|(?P<line>[^\n(]+))",
    re.MULTILINE,
)


def sdist_tests() -> Path:
    """The tests/ directory of the unpacked sdist (downloaded on first use)."""
    root = CACHE / f"pystator-{VERSION}"
    if not (root / "tests").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        archive = CACHE / f"pystator-{VERSION}.tar.gz"
        if not archive.exists():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                 f"pystator=={VERSION}", "-d", str(CACHE)],
                check=True,
            )  # fmt: skip
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    return root / "tests"


def repoint(source: str) -> str:
    """``source`` with its imports of the action surface taken from ferrostator.v47."""

    def fix(match: re.Match[str]) -> str:
        module = match["module"]
        target = MODULES.get(module)
        if target is None:
            return match[0]
        body = match["group"] if match["group"] is not None else match["line"]
        names = [n.strip() for n in body.replace("\n", " ").split(",") if n.strip()]
        ours = [n for n in names if n.split(" as ")[0].strip() in SURFACE]
        theirs = [n for n in names if n not in ours]
        indent = match["indent"]
        lines = []
        if theirs:
            lines.append(f"{indent}from {module} import ({', '.join(theirs)})")
        if ours:
            lines.append(f"{indent}from {target} import ({', '.join(ours)})")
        return "\n".join(lines)

    return IMPORT.sub(fix, source)


def main(argv: list[str]) -> int:
    reference = "--reference" in argv
    args = [a for a in argv if a != "--reference"]
    tests = sdist_tests()
    with tempfile.TemporaryDirectory(prefix="pystator47-tests-") as tmp:
        unit = Path(tmp) / "tests" / "unit"
        unit.mkdir(parents=True)
        (Path(tmp) / "tests" / "__init__.py").write_text("")
        (unit / "__init__.py").write_text("")
        # Some tests read the sdist's example machines (relative to the tests directory).
        (Path(tmp) / "examples").symlink_to(tests.parent / "examples")
        # The top-level conftest's fixtures (the unit conftest only adds an API client).
        conftest = (tests / "conftest.py").read_text()
        (Path(tmp) / "tests" / "conftest.py").write_text(
            conftest if reference else repoint(conftest)
        )
        for name in FILES:
            text = (tests / "unit" / f"{name}.py").read_text()
            (unit / f"{name}.py").write_text(text if reference else repoint(text))
        ini = Path(tmp) / "pytest.ini"
        ini.write_text(
            "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
            "filterwarnings =\n    error\n    ignore::UserWarning\n"
        )
        cmd = [sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", tmp,
               "-p", "no:cacheprovider", "--timeout=120", str(unit), *args]  # fmt: skip
        return subprocess.run(cmd, cwd=tmp, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
