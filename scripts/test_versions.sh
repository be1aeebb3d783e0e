#!/usr/bin/env bash
# Build ferrostator for every supported CPython found on this machine and run the pytest
# suite on each: a venv per version under .venvs/py3.X, `maturin develop` into it, pytest.
#
# Usage: scripts/test_versions.sh [X.Y ...] [-- PYTEST_ARGS...]   (default: 3.10 3.11 3.12 3.13)
# Environment:
#   VERSIONS_PROFILE     cargo profile for maturin develop (default: release, as `make build-dev`;
#                        `quick` builds much faster)
#   VERSIONS_TARGET_DIR  cargo target directory; each version builds in VERSIONS_TARGET_DIR/py3.X
#                        (default: target/versions), so switching versions never rebuilds
#                        another version's artefacts and never takes the lock of target/
#   PYTHON_3_X           interpreter to use for 3.X (see scripts/find_python.sh)
#
# pystator 0.0.25 (the reference) needs Python >= 3.11: on 3.10 it is not installed and the
# reference comparisons skip (tests/conftest.py). A version whose interpreter is missing is
# reported as such; the script fails if any version that was found fails to build or test.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

versions=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do versions+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#versions[@]} -eq 0 ] && versions=(3.10 3.11 3.12 3.13)
profile=${VERSIONS_PROFILE:-release}
target_base=${VERSIONS_TARGET_DIR:-$root/target/versions}

mkdir -p .venvs
# Like the .gitignore that `python -m venv` writes into a venv on 3.13+: git ignores .venvs/.
[ -e .venvs/.gitignore ] || echo '*' >.venvs/.gitignore

declare -A result detail
failed=0
for v in "${versions[@]}"; do
    echo
    echo "=== CPython $v ==="
    if ! py=$(bash scripts/find_python.sh "$v"); then
        result[$v]="not found"; detail[$v]="no CPython $v on this machine"
        continue
    fi
    venv=$root/.venvs/py$v
    log=$venv/pytest.log
    stamp=$venv/.installed
    reqs=(-r requirements-dev.txt)
    if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        reqs+=(-r requirements-reference.txt)
    fi
    if [ ! -x "$venv/bin/python" ]; then
        "$py" -m venv "$venv" || { result[$v]="venv failed"; failed=1; continue; }
    fi
    if [ ! -e "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ] || [ requirements-reference.txt -nt "$stamp" ]; then
        echo "--- pip install ${reqs[*]}"
        if ! "$venv/bin/python" -m pip install -q --upgrade pip ||
            ! "$venv/bin/python" -m pip install -q "${reqs[@]}"; then
            result[$v]="pip failed"; failed=1; continue
        fi
        touch "$stamp"
    fi
    echo "--- maturin develop --profile $profile ($py)"
    if ! VIRTUAL_ENV=$venv PATH=$venv/bin:$PATH CARGO_TARGET_DIR=$target_base/py$v \
        "$venv/bin/maturin" develop --profile "$profile" -q; then
        result[$v]="build failed"; failed=1; continue
    fi
    echo "--- pytest"
    # -p no:cacheprovider: leave the work tree's .pytest_cache to `make test`.
    VIRTUAL_ENV=$venv PATH=$venv/bin:$PATH "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped)|no tests ran' "$log" | tail -n1 | sed -E 's/^=+ //; s/ =+$//')
    if [ "$rc" -eq 0 ]; then
        result[$v]="ok"
    else
        result[$v]="FAILED (pytest exit $rc)"; failed=1
    fi
    detail[$v]="${summary:-no pytest summary line}"
done

echo
echo "=== test-versions summary (profile $profile) ==="
for v in "${versions[@]}"; do
    printf '  CPython %-5s %-26s %s\n' "$v" "${result[$v]}" "${detail[$v]:-}"
    if [ -f ".venvs/py$v/pytest.log" ] && [[ ${result[$v]} == FAILED* ]]; then
        grep -E '^(FAILED|ERROR) [^ ]+(\.py|::)' ".venvs/py$v/pytest.log" | sed 's/^/      /'
    fi
done
exit $failed
