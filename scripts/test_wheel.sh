#!/usr/bin/env bash
# Install a built ferrostator wheel into a fresh venv (a real install, not editable) and run
# the pytest suite against it.
#
# The suite runs from a copy of tests/ (with benches/, whose end-to-end harness
# tests/test_bench_harness.py runs, and pyproject.toml, for the pytest settings) in
# a scratch directory, so neither the repository root nor its python/ directory is on
# sys.path; tests/ecosystem/installed_plugin.py aborts the run if ferrostator is imported
# from anywhere but the venv.
#
# Usage: scripts/test_wheel.sh [--python PY] [--wheels DIR] [--venv DIR] [--no-reference]
#                              [--requirements FILE]... [--no-test] [-- PYTEST_ARGS...]
#   --python        interpreter to build the venv from (default: python3); the wheel for it
#                   must be in --wheels
#   --wheels        directory holding the wheel(s) (default: dist); the newest compatible
#                   wheel of the version in Cargo.toml is installed, from there only
#   --venv          the venv to (re)create (default: .venvs/wheel-test)
#   --no-reference  do not install pystator (the reference comparisons then skip); it is
#                   installed on CPython >= 3.11 otherwise (free-threaded builds included)
#   --requirements  install these requirement files (repeatable) instead of the test
#                   requirements and pystator: e.g. the benchmarks' (make bench)
#   --no-test       only make the venv (the wheel and the requirements installed), no pytest
# The venv gets ferrostator-build.json at its root: the wheel pip installed (its file name)
# and, when the wheel has one beside it, what scripts/pgo.sh recorded of its build
# (<wheel>.pgo.json: profile-guided or not, on which profile); benches/report.py's header
# reports it.
# On a free-threaded CPython pytest runs with PYTHON_GIL=0 (as scripts/test_versions.sh).
# Used by `make test-wheel`, `make test-wheels` and by the test job of .github/workflows/wheels.yml.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=python3
wheels=$root/dist
venv=$root/.venvs/wheel-test
reference=auto
requirements=()
run_tests=1
while [ $# -gt 0 ]; do
    case "$1" in
    --python) python=$2; shift 2 ;;
    --wheels) wheels=$2; shift 2 ;;
    --venv) venv=$2; shift 2 ;;
    --no-reference) reference=no; shift ;;
    --requirements) requirements+=(-r "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
    --no-test) run_tests=0; shift ;;
    --) shift; break ;;
    *) echo "test_wheel: unknown argument $1" >&2; exit 2 ;;
    esac
done
wheels=$(cd "$wheels" && pwd)

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)

mkdir -p "$(dirname "$venv")"
[ "$(basename "$(dirname "$venv")")" = .venvs ] && [ ! -e "$(dirname "$venv")/.gitignore" ] &&
    echo '*' >"$(dirname "$venv")/.gitignore"
rm -rf "$venv"
"$python" -m venv "$venv"
venv=$(cd "$venv" && pwd)
vbin=$venv/bin
[ -d "$venv/Scripts" ] && vbin=$venv/Scripts
vpy=$vbin/python

# The package from the wheel directory alone (--no-index: never an sdist, never PyPI).
"$vpy" -m pip install -q --no-index --find-links "$wheels" --only-binary ferrostator \
    --report "$venv/ferrostator-install.json" "ferrostator==$version"
# Which wheel pip picked, and how it was built (scripts/pgo.sh's <wheel>.pgo.json beside it).
"$vpy" - "$venv" <<'EOF'
import json, pathlib, sys, urllib.parse, urllib.request
venv = pathlib.Path(sys.argv[1])
report = json.loads((venv / "ferrostator-install.json").read_text(encoding="utf-8"))
(item,) = [i for i in report["install"] if i["metadata"]["name"] == "ferrostator"]
url = urllib.parse.urlparse(item["download_info"]["url"])
path = pathlib.Path(urllib.request.url2pathname(url.path))
info = {"wheel": path.name}
sidecar = path.with_name(path.name + ".pgo.json")
if sidecar.is_file():
    info.update(json.loads(sidecar.read_text(encoding="utf-8")), wheel=path.name)
else:
    info["why"] = f"no {sidecar.name} beside the wheel: how it was built is not known"
(venv / "ferrostator-build.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
(venv / "ferrostator-install.json").unlink()
guided = {True: "profile-guided", False: "NOT profile-guided"}.get(info.get("profile_guided"), "not known whether profile-guided")
print(f"test_wheel: the wheel is {path.name} ({guided})")
EOF
if [ ${#requirements[@]} -gt 0 ]; then
    reqs=("${requirements[@]}")
else
    reqs=(-r "$root/requirements-test.txt")
    if [ "$reference" = auto ] && "$vpy" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        reqs+=(-r "$root/requirements-reference.txt")
    fi
fi
"$vpy" -m pip install -q "${reqs[@]}"
echo "test_wheel: installed $("$vpy" -m pip show ferrostator | sed -n 's/^Version: //p') into $venv ($("$vpy" -c 'import sys; print(sys.version.split()[0])'))"
[ $run_tests -eq 1 ] || exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$root/tests" "$work/tests"
cp -R "$root/benches" "$work/benches"
cp "$root/pyproject.toml" "$work/pyproject.toml"
cp "$root/tests/ecosystem/installed_plugin.py" "$work/installed_plugin.py"
cd "$work"
"$vpy" -c 'import os, ferrostator, ferrostator._core as c; print("test_wheel: testing", ferrostator.__file__, "with", os.path.basename(c.__file__))'
# `python -m` puts the scratch directory (tests/, pyproject.toml, the plugin: no
# ferrostator) first on sys.path; the venv's own prefix is what the plugin expects.
if "$vpy" -c 'import sys, sysconfig; sys.exit(not sysconfig.get_config_var("Py_GIL_DISABLED"))'; then
    export PYTHON_GIL=0
fi
FERROSTATOR_EXPECT_UNDER=$("$vpy" -c 'import sys; print(sys.prefix)') \
    "$vpy" -m pytest -p installed_plugin -p no:cacheprovider "$@"
