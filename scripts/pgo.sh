#!/usr/bin/env bash
# Profile-guided optimisation of the extension's release builds.
#
#   RUSTFLAGS="$(bash scripts/pgo.sh PYTHON)" maturin develop --release
#
# Prints the rustc flags that build the extension with a profile of
# benches/pgo_train.py, making that profile first when there is none for this exact
# source (instrumented build into PYTHON's venv, training run, merge); prints nothing
# (a plain release build) when no llvm-profdata can be had or a step fails, saying why
# on stderr. Everything but the flags goes to stderr.
#
# Why: under pystator's engine the extension's code runs cold after every stretch of
# interpreter work, so what it costs there is mostly L1 instruction misses (see
# README, Performance, and `make cachesim`); a profile lets the compiler lay the
# paths users run out densely and move the others away (with it the executor's
# misses in the engine's sync row fell from +209 to +96 per event over the ceiling).
#
# The profile is cached in target/pgo/ under a key of everything that shapes it (the
# Rust and Python sources, Cargo.lock, the training scripts, rustc's and PYTHON's
# versions): any change makes a new one (~1 minute). llvm-profdata: LLVM_PROFDATA if
# set; else rustup's llvm-tools if installed; else Debian's llvm-19 package, fetched
# once with `apt-get download` (no root needed) and unpacked into
# FERROSTATOR_CACHE (default ~/.cache/ferrostator)/llvm-19. LLVM 19's llvm-profdata reads
# the raw profiles of rustc 1.95's LLVM 22 (raw format version 10) and writes an
# indexed profile LLVM 22 reads. FERRO_PGO=0 turns it all off.
set -uo pipefail

PYTHON=${1:?usage: scripts/pgo.sh PYTHON}
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${FERROSTATOR_CACHE:-$HOME/.cache/ferrostator}

say() { echo "pgo: $*" >&2; }

if [ "${FERRO_PGO:-1}" = 0 ]; then
    say "off (FERRO_PGO=0): plain release build"
    exit 0
fi

# --- llvm-profdata -----------------------------------------------------------------
profdata_ok() { [ -n "$1" ] && "$1" merge --help >/dev/null 2>&1; }

find_profdata() {
    local candidate
    if [ -n "${LLVM_PROFDATA:-}" ] && profdata_ok "$LLVM_PROFDATA"; then
        echo "$LLVM_PROFDATA"; return 0
    fi
    candidate=$(ls "$(rustc --print sysroot 2>/dev/null)"/lib/rustlib/*/bin/llvm-profdata 2>/dev/null | head -n1)
    if profdata_ok "$candidate"; then echo "$candidate"; return 0; fi
    local dir=$CACHE/llvm-19
    candidate=$dir/llvm-profdata
    if [ ! -x "$candidate" ] && command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
        say "fetching Debian's llvm-19 (llvm-profdata) into $dir"
        local tmp
        tmp=$(mktemp -d)
        if (cd "$tmp" && apt-get download llvm-19 libllvm19 >/dev/null 2>&1); then
            for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
            mkdir -p "$dir/lib"
            cp "$tmp"/root/usr/lib/llvm-19/bin/llvm-profdata "$dir/llvm-profdata.bin"
            cp -P "$tmp"/root/usr/lib/x86_64-linux-gnu/libLLVM* "$dir/lib/" 2>/dev/null
            cp -P "$tmp"/root/usr/lib/llvm-19/lib/libLLVM* "$dir/lib/" 2>/dev/null
            printf '#!/bin/sh\nLD_LIBRARY_PATH="%s/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s/llvm-profdata.bin" "$@"\n' \
                "$dir" "$dir" >"$candidate"
            chmod +x "$candidate"
        fi
        rm -rf "$tmp"
    fi
    if profdata_ok "$candidate"; then echo "$candidate"; return 0; fi
    return 1
}

# --- the profile --------------------------------------------------------------------
key=$(
    {
        git ls-files -z rust python Cargo.toml Cargo.lock pyproject.toml \
            benches/pgo_train.py benches/workloads.py benches/e2e.py tests/_engine.py 2>/dev/null |
            sort -z | xargs -0 cat 2>/dev/null
        rustc -vV
        "$PYTHON" -VV
    } | sha256sum | cut -c1-16
)
profile=$ROOT/target/pgo/$key.profdata
flags="-Cprofile-use=$profile -Cllvm-args=-no-pgo-warn-mismatch"

if [ -f "$profile" ]; then
    echo "$flags"
    exit 0
fi

if ! profdata=$(find_profdata); then
    say "no usable llvm-profdata (set LLVM_PROFDATA, or install rustup's llvm-tools): plain release build"
    exit 0
fi

say "making the profile $profile (instrumented build, training run, merge)"
raw=$(mktemp -d)
venv=$(cd "$(dirname "$PYTHON")/.." && pwd)
if ! RUSTFLAGS="-Cprofile-generate=$raw" CARGO_TARGET_DIR="$ROOT/target/pgo-generate" \
    VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release -q >&2; then
    say "instrumented build failed: plain release build"
    rm -rf "$raw"
    exit 0
fi
if ! "$PYTHON" benches/pgo_train.py >&2; then
    say "training run failed: plain release build"
    rm -rf "$raw"
    exit 0
fi
mkdir -p "$ROOT/target/pgo"
if ! "$profdata" merge -o "$profile.tmp" "$raw"/*.profraw >&2; then
    say "llvm-profdata merge failed: plain release build"
    rm -rf "$raw" "$profile.tmp"
    exit 0
fi
rm -rf "$raw"
find "$ROOT/target/pgo" -name '*.profdata' ! -name "$key.profdata" -delete
mv "$profile.tmp" "$profile"
say "profile ready"
echo "$flags"
