#!/usr/bin/env bash
# clippy (-D warnings) on the library as built for every CPython we support, without
# needing those interpreters: each run hands PyO3 a config file (PYO3_CONFIG_FILE) naming
# the version and, for free-threaded builds, Py_GIL_DISABLED. PyO3's cfgs (Py_3_11,
# Py_GIL_DISABLED, ...) and pyo3-ffi's struct layouts differ between versions, so code that
# builds for the interpreter at hand can fail to build for another (it once did for 3.10).
# Each variant checks in a target directory of its own under target/pyversions.
#
# Usage: scripts/clippy_pyversions.sh [VARIANT ...]   (default: 3.10 ... 3.15t)
set -euo pipefail
cd "$(dirname "$0")/.."

variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(3.10 3.11 3.12 3.13 3.14 3.14t 3.15 3.15t)
base=$PWD/target/pyversions
mkdir -p "$base"
failed=()
for variant in "${variants[@]}"; do
    version=${variant%t}
    flags=""
    [ "$variant" != "$version" ] && flags="Py_GIL_DISABLED"
    config=$base/pyo3-$variant.txt
    printf 'implementation=CPython\nversion=%s\nshared=true\nabi3=false\nbuild_flags=%s\nsuppress_build_script_link_lines=true\npointer_width=64\n' \
        "$version" "$flags" > "$config"
    echo "--- clippy for CPython $variant"
    if ! PYO3_CONFIG_FILE=$config cargo clippy --quiet --locked --lib --target-dir "$base/$variant" -- -D warnings; then
        failed+=("$variant")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "clippy failed for CPython: ${failed[*]}"
    exit 1
fi
echo "clippy clean for CPython ${variants[*]}"
