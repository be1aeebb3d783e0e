#!/usr/bin/env bash
# Print the path of a CPython interpreter of one variant on this machine, or fail.
# VARIANT is X.Y (a GIL build) or X.Yt (free-threaded, e.g. 3.14t); the interpreter must be
# exactly that: CPython X.Y, with or without the GIL as asked.
# Looks at PYTHON_X_Y / PYTHON_X_YT (e.g. PYTHON_3_12=/opt/py/bin/python3.12, an override),
# pythonX.Y[t] on PATH, pyenv's versions (newest patch release first), the cache of
# scripts/build_pythons.sh (FERRO_PYTHONS, default ~/.cache/ferrostator/pythons), then
# /usr/local/bin and /usr/bin.
# Usage: scripts/find_python.sh 3.12 | 3.14t
set -euo pipefail
variant=${1:?usage: scripts/find_python.sh X.Y or X.Yt}
v=${variant%t}
ft=0
[ "$variant" != "$v" ] && ft=1
[[ $v =~ ^[0-9]+\.[0-9]+$ ]] || { echo "find_python: bad variant $variant (X.Y or X.Yt)" >&2; exit 2; }
override="PYTHON_${v//./_}"
[ $ft -eq 1 ] && override+=T
check="import sys, sysconfig
sys.exit(not (sys.implementation.name == 'cpython' and '%d.%d' % sys.version_info[:2] == '$v'
              and bool(sysconfig.get_config_var('Py_GIL_DISABLED')) == bool($ft)))"

candidates=()
[ -n "${!override:-}" ] && candidates+=("${!override}")
candidates+=("$(command -v "python$variant" 2>/dev/null || true)")
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
if [ -d "$pyenv_root/versions" ]; then
    while IFS= read -r d; do
        candidates+=("$d/bin/python$variant")
    done < <(find "$pyenv_root/versions" -mindepth 1 -maxdepth 1 -name "$v.*" | sort -rV)
fi
candidates+=("${FERRO_PYTHONS:-$HOME/.cache/ferrostator/pythons}/$variant/bin/python$variant")
candidates+=("/usr/local/bin/python$variant" "/usr/bin/python$variant")

for c in "${candidates[@]}"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" -c "$check" >/dev/null 2>&1; then
        # The interpreter itself: not a pyenv shim, nor a venv's python (e.g. .venv/bin
        # first on PATH under make), so the per-version venvs never nest in another venv.
        "$c" -c 'import sys; print(getattr(sys, "_base_executable", None) or sys.executable)'
        exit 0
    fi
done
echo "find_python: no CPython $variant found" >&2
exit 1
