#!/usr/bin/env bash
# Build ferrostator for every supported CPython found on this machine and run the tests on
# each: a venv per interpreter under .venvs/py<variant>, `maturin develop` into it, pytest,
# then `cargo test` against that interpreter (scripts/cargo_test.sh).
#
# Usage: scripts/test_versions.sh [VARIANT ...] [-- PYTEST_ARGS...]
#   VARIANT is X.Y (GIL build) or X.Yt (free-threaded); default: every one we support,
#   3.10 3.11 3.12 3.13 3.14 3.14t 3.15 3.15t. Interpreters come from scripts/find_python.sh
#   (the machine's, or those `make pythons` built into its cache).
# Environment:
#   VERSIONS_PROFILE     cargo profile for maturin develop (default: release, as `make build-dev`;
#                        `quick` builds much faster)
#   VERSIONS_TARGET_DIR  cargo target directory; each variant builds in VERSIONS_TARGET_DIR/py<variant>
#                        (default: target/versions), so switching versions never rebuilds
#                        another version's artefacts and never takes the lock of target/
#   VERSIONS_THREADS     N: run each test body in N threads at once (pytest-run-parallel,
#                        --parallel-threads=N), as `make test-threads` does
#   VERSIONS_CARGO_TEST  0: skip `cargo test` (default 1)
#   PYTHON_X_Y[T]        interpreter to use for X.Y[t] (see scripts/find_python.sh)
#
# pystator 0.0.25 (the reference) needs Python >= 3.11: on 3.10 it is not installed and the
# reference comparisons skip (tests/conftest.py); from 3.11 on it is installed, on the
# free-threaded builds too (every dependency has wheels up to cp315t).
# Free-threaded variants: importing ferrostator (and the reference) must leave the GIL
# disabled, checked with PYTHON_GIL unset (a module that does not declare free-threading
# support turns it back on); pytest then runs with PYTHON_GIL=0.
# A variant whose interpreter is missing is reported as such; the script fails if any
# variant that was found fails to build or test.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

versions=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do versions+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#versions[@]} -eq 0 ] && versions=(3.10 3.11 3.12 3.13 3.14 3.14t 3.15 3.15t)
profile=${VERSIONS_PROFILE:-release}
target_base=${VERSIONS_TARGET_DIR:-$root/target/versions}
threads=${VERSIONS_THREADS:-}
cargo_test=${VERSIONS_CARGO_TEST:-1}
pytest_args=(-p no:cacheprovider) # leave the work tree's .pytest_cache to `make test`
if [ -n "$threads" ]; then
    pytest_args+=(--parallel-threads="$threads") # not -q: that hides the plugin's report
else
    pytest_args+=(-q)
fi

mkdir -p .venvs
# Like the .gitignore that `python -m venv` writes into a venv on 3.13+: git ignores .venvs/.
[ -e .venvs/.gitignore ] || echo '*' >.venvs/.gitignore

summary_of() { # the closing line of a pytest log
    grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped|deselected)|no tests ran' "$1" |
        tail -n1 | sed -E 's/^=+ //; s/ =+$//'
}
cargo_summary_of() { # cargo test's "test result:" lines (one per test binary), added up
    awk '/^test result:/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^(passed|failed|ignored)/) n[$(i + 1)] += $i; seen = 1 }
        END { if (seen) printf "%d passed, %d failed, %d ignored\n", n["passed;"], n["failed;"], n["ignored;"] }' "$1"
}

declare -A result detail cargo_detail
failed=0
for v in "${versions[@]}"; do
    echo
    echo "=== CPython $v ==="
    if ! py=$(bash scripts/find_python.sh "$v"); then
        result[$v]="not found"; detail[$v]="no CPython $v on this machine (make pythons builds 3.14/3.15[t])"
        continue
    fi
    venv=$root/.venvs/py$v
    log=$venv/pytest.log
    clog=$venv/cargo-test.log
    rm -f "$log" "$clog"
    stamp=$venv/.installed
    reqs=(-r requirements-dev.txt)
    if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        reqs+=(-r requirements-reference.txt)
    fi
    ft=$("$py" -c 'import sysconfig; print(1 if sysconfig.get_config_var("Py_GIL_DISABLED") else "")')
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
    run_env=(VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH")
    if [ -n "$ft" ]; then
        echo "--- GIL after import (PYTHON_GIL unset)"
        if ! env -u PYTHON_GIL "$venv/bin/python" -c '
import sys
import ferrostator  # noqa: F401
try:
    import pystator.actions  # noqa: F401
except ImportError:
    pass
print("sys._is_gil_enabled() after import:", sys._is_gil_enabled())
sys.exit(sys._is_gil_enabled())'; then
            result[$v]="FAILED (GIL enabled)"; failed=1; continue
        fi
        run_env+=(PYTHON_GIL=0)
    fi
    echo "--- pytest ${pytest_args[*]} $*${ft:+ (PYTHON_GIL=0)}"
    env "${run_env[@]}" "$venv/bin/python" -m pytest "${pytest_args[@]}" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    summary=$(summary_of "$log")
    if [ "$rc" -eq 0 ]; then
        result[$v]="ok"
    else
        result[$v]="FAILED (pytest exit $rc)"; failed=1
    fi
    detail[$v]="${summary:-no pytest summary line}"
    if [ "$cargo_test" = 1 ]; then
        echo "--- cargo test ($py)"
        CARGO_TARGET_DIR=$target_base/py$v bash scripts/cargo_test.sh "$venv/bin/python" -q 2>&1 | tee "$clog"
        crc=${PIPESTATUS[0]}
        cargo_detail[$v]="cargo test: $(cargo_summary_of "$clog")"
        if [ "$crc" -ne 0 ]; then
            cargo_detail[$v]="cargo test FAILED (exit $crc): $(cargo_summary_of "$clog")"
            [ "${result[$v]}" = ok ] && result[$v]="FAILED (cargo test)"
            failed=1
        fi
    fi
done

echo
echo "=== test-versions summary (profile $profile${threads:+, $threads threads per test}) ==="
for v in "${versions[@]}"; do
    printf '  CPython %-6s %-24s %s\n' "$v" "${result[$v]}" "${detail[$v]:-}"
    [ -n "${cargo_detail[$v]:-}" ] && printf '  %-39s %s\n' "" "${cargo_detail[$v]}"
    if [ -f ".venvs/py$v/pytest.log" ] && [[ ${result[$v]} == FAILED* ]]; then
        grep -E '^(FAILED|ERROR) [^ ]+(\.py|::)' ".venvs/py$v/pytest.log" | sed 's/^/      /'
    fi
done
exit $failed
