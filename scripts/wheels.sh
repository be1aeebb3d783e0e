#!/usr/bin/env bash
# `make wheel` for each CPython variant found on this machine (scripts/find_python.sh: the
# machine's, or those `make pythons` built): each wheel profile-guided on a profile of its
# own CPython (scripts/pgo.sh wheel), or the variant's build fails. With --test, `make
# test-wheel`'s check for each: the wheel installed into a fresh venv (.venvs/wheel-test-
# <variant>), pytest run against it (scripts/test_wheel.sh). Ends with a table of the wheels
# (profile-guided or not, from <wheel>.pgo.json) and test counts.
#
# Usage: scripts/wheels.sh [--test] [VARIANT ...] [-- PYTEST_ARGS...]
#   VARIANT is X.Y or X.Yt (default: 3.10 3.11 3.12 3.13 3.14 3.14t 3.15 3.15t)
# Environment:
#   DIST                where the wheels go (default: dist)
#   WHEELS_TARGET_DIR   cargo target directory; each variant builds in WHEELS_TARGET_DIR/py<variant>
#                       (default: target/wheels), so a second run rebuilds nothing
# Runs under make (needs .venv with requirements-wheel.txt: `make wheels` sees to it).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

test=0
[ "${1:-}" = --test ] && { test=1; shift; }
versions=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do versions+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#versions[@]} -eq 0 ] && versions=(3.10 3.11 3.12 3.13 3.14 3.14t 3.15 3.15t)
dist=${DIST:-dist}
target_base=${WHEELS_TARGET_DIR:-$root/target/wheels}
mkdir -p .venvs "$dist"
[ -e .venvs/.gitignore ] || echo '*' >.venvs/.gitignore

declare -A wheel tested
failed=0
for v in "${versions[@]}"; do
    echo
    echo "=== CPython $v: wheel ==="
    if ! py=$(bash scripts/find_python.sh "$v"); then
        wheel[$v]="not found: no CPython $v on this machine (make pythons builds 3.14/3.15[t])"
        continue
    fi
    tag=$("$py" -c 'import sys, sysconfig
print("cp%d%d-cp%d%d%s" % (sys.version_info[:2] * 2 + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "",)))')
    if ! CARGO_TARGET_DIR=$target_base/py$v make --no-print-directory wheel WHEEL_PYTHON="$py" DIST="$dist"; then
        wheel[$v]="BUILD FAILED"; failed=1; continue
    fi
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
    wheel[$v]=$(cd "$dist" && ls -t ferrostator-"$version"-"$tag"-*.whl 2>/dev/null | head -n1)
    [ -n "${wheel[$v]}" ] || { wheel[$v]="BUILD FAILED: no $tag wheel in $dist"; failed=1; continue; }
    guided=$("$py" -c 'import json, sys
info = json.load(open(sys.argv[1], encoding="utf-8"))
print("profile-guided" if info.get("profile_guided") else "NOT profile-guided: %s" % info.get("why"))' \
        "$dist/${wheel[$v]}.pgo.json" 2>/dev/null) || guided="no record of its build"
    wheel[$v]="${wheel[$v]} ($guided)"
    if [ $test -eq 1 ]; then
        echo
        echo "=== CPython $v: test the wheel ==="
        log=.venvs/wheel-test-$v.log
        bash scripts/test_wheel.sh --python "$py" --wheels "$dist" --venv ".venvs/wheel-test-$v" -- -q "$@" 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        counts=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped)|no tests ran' "$log" | tail -n1 | sed -E 's/^=+ //; s/ =+$//')
        if [ "$rc" -eq 0 ]; then tested[$v]="ok: $counts"; else tested[$v]="FAILED (exit $rc): $counts"; failed=1; fi
    fi
done

echo
[ $test -eq 1 ] && echo "=== wheels in $dist, each tested in a fresh venv" || echo "=== wheels in $dist"
for v in "${versions[@]}"; do
    printf '  CPython %-6s %s\n' "$v" "${wheel[$v]}"
    [ -n "${tested[$v]:-}" ] && printf '  %-15s pytest %s\n' "" "${tested[$v]}"
done
exit $failed
