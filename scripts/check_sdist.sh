#!/usr/bin/env bash
# Prove that an sdist builds with no network access to crates, then that the result imports.
#
# pip builds the sdist through its PEP 517 backend (maturin) with
#   CARGO_NET_OFFLINE=true   cargo may not touch the network,
#   an empty CARGO_HOME      no registry index and no crate cache to fall back on,
#   --no-index --no-build-isolation   nothing from PyPI either: maturin comes from PYTHON's env,
# so the build can only succeed on the crates vendored inside the sdist.
#
# Usage: scripts/check_sdist.sh SDIST   (PYTHON: an interpreter with maturin; default python3)
set -euo pipefail

sdist=${1:?usage: scripts/check_sdist.sh SDIST}
python=${PYTHON:-python3}
sdist=$(cd "$(dirname "$sdist")" && pwd)/$(basename "$sdist")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/cargo-home"

echo "check_sdist: building $(basename "$sdist") offline (CARGO_NET_OFFLINE=true, empty CARGO_HOME=$work/cargo-home)"
CARGO_HOME="$work/cargo-home" CARGO_NET_OFFLINE=true CARGO_TARGET_DIR="$work/target" \
    "$python" -m pip wheel --no-deps --no-index --no-build-isolation --no-cache-dir \
    -w "$work/wheels" "$sdist"

if [ -d "$work/cargo-home/registry" ]; then
    echo "check_sdist: cargo populated CARGO_HOME/registry: crates did not come from vendor/" >&2
    exit 1
fi

# The wheel built from the sdist imports, and its extension module loads.
"$python" -m venv "$work/venv"
vbin="$work/venv/bin"
[ -d "$work/venv/Scripts" ] && vbin="$work/venv/Scripts"
"$vbin/python" -m pip install -q --no-index --no-deps "$work"/wheels/*.whl
(cd "$work" && "$vbin/python" -c '
import ferrostator, ferrostator._core as core
print("check_sdist: built", ferrostator.__name__, "imports from", ferrostator.__file__)
print("check_sdist: extension", core.__file__)
')
echo "check_sdist: OK: $(basename "$sdist") builds offline from its vendored crates"
echo "check_sdist: a build from the sdist is a plain release build, NOT profile-guided (scripts/stage_sdist.sh says why)"
