#!/usr/bin/env bash
# Print the path of a CPython X.Y interpreter (GIL build) on this machine, or fail.
# Looks at pythonX.Y on PATH, then pyenv's versions (newest patch release first), then
# /usr/local/bin and /usr/bin. PYTHON_X_Y (e.g. PYTHON_3_12=/opt/py/bin/python3.12) overrides.
# Usage: scripts/find_python.sh 3.12
set -euo pipefail
v=${1:?usage: scripts/find_python.sh X.Y}
override="PYTHON_${v//./_}"
check="import sys, sysconfig; sys.exit(not (sys.implementation.name == 'cpython' and '%d.%d' % sys.version_info[:2] == '$v' and not sysconfig.get_config_var('Py_GIL_DISABLED')))"

candidates=()
[ -n "${!override:-}" ] && candidates+=("${!override}")
candidates+=("$(command -v "python$v" 2>/dev/null || true)")
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
if [ -d "$pyenv_root/versions" ]; then
    while IFS= read -r d; do
        candidates+=("$d/bin/python$v")
    done < <(find "$pyenv_root/versions" -mindepth 1 -maxdepth 1 -name "$v.*" | sort -rV)
fi
candidates+=("/usr/local/bin/python$v" "/usr/bin/python$v")

for c in "${candidates[@]}"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" -c "$check" >/dev/null 2>&1; then
        # The interpreter itself: not a pyenv shim, nor a venv's python (e.g. .venv/bin
        # first on PATH under make), so the per-version venvs never nest in another venv.
        "$c" -c 'import sys; print(getattr(sys, "_base_executable", None) or sys.executable)'
        exit 0
    fi
done
echo "find_python: no CPython $v found" >&2
exit 1
