#!/usr/bin/env bash
# Lay out the sdist's source tree in STAGE_DIR, with every crate vendored:
#
#   vendor/              `cargo vendor --locked`: the sources of every crate in Cargo.lock
#   .cargo/config.toml   cargo vendor's own source replacement (crates.io -> vendor/), so a
#                        build of the unpacked sdist needs no network access to crates
#
# `maturin sdist`, run in STAGE_DIR (`make sdist`, the CI sdist job), packs the tree;
# [tool.maturin] include in pyproject.toml adds vendor/ and .cargo/config.toml, which
# exist only in the stage: the work tree itself is never touched, so local builds keep
# resolving crates from crates.io and a new dependency never needs re-vendoring by hand.
#
# The stage holds the files git sees (tracked + untracked, minus .gitignore'd ones: no
# target/, no built *.so), i.e. what maturin would pick from the work tree anyway.
#
# No profile goes into the sdist, so a build from it (`pip install ferrostator-X.tar.gz`) is a
# plain release build (fat LTO, one codegen unit), not the profile-guided build the wheels are
# (scripts/pgo.sh). A profile fits only the build that made it: LLVM finds a function's
# profile by its symbol name, and cargo hashes into every symbol name (-C metadata) rustc's
# exact version and whether --target was given; the CPython version changes the code too. A
# shipped profile would therefore match nothing unless the user's rustc were the very one
# that made it, and where the user's LLVM cannot read it, -Cprofile-use fails the build
# outright; nothing in a PEP 517 build can make the flag conditional (a build script cannot
# pass -C flags to its own crate).
#
# Usage: scripts/stage_sdist.sh STAGE_DIR   (STAGE_DIR is emptied first; keep it outside
# the repository, so cargo in the stage never sees the repository's own files)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
stage=${1:?usage: scripts/stage_sdist.sh STAGE_DIR}

rm -rf "$stage"
mkdir -p "$stage"
stage=$(cd "$stage" && pwd)
case "$stage/" in
"$root"/*) echo "stage_sdist: STAGE_DIR must be outside $root" >&2; exit 2 ;;
esac

cd "$root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Files deleted from the work tree but still in the index are skipped.
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do if [ -f "$f" ]; then printf '%s\0' "$f"; fi; done |
        tar --null --no-recursion -T - -cf - | tar -xf - -C "$stage"
else
    tar --exclude=./target --exclude=./.venv --exclude=./.venvs --exclude=./dist \
        --exclude='*.so' --exclude='*.pyd' --exclude=__pycache__ -cf - . | tar -xf - -C "$stage"
fi

cd "$stage"
mkdir -p .cargo
# cargo vendor prints the matching [source] replacement; `vendor` is relative to the
# directory holding .cargo/, i.e. the unpacked sdist's root.
log=$(mktemp)
if ! cargo vendor --locked vendor >.cargo/config.toml 2>"$log"; then
    cat "$log" >&2
    exit 1
fi
rm -f "$log"
# Builds from the sdist must use exactly the vendored versions.
grep -q 'replace-with = "vendored-sources"' .cargo/config.toml

echo "stage_sdist: $(find vendor -mindepth 1 -maxdepth 1 -type d | wc -l) crates vendored into $stage/vendor"
