#!/usr/bin/env bash
# Profile-guided optimisation (PGO) of the extension's release builds.
#
#   RUSTFLAGS="$(bash scripts/pgo.sh PYTHON)" maturin develop --release      (make build-dev)
#       Prints the rustc flags that build the extension on a profile of benches/pgo_train.py,
#       making that profile first when there is none for this exact source; prints nothing
#       (a plain release build) when no llvm-profdata can be had or a step fails, saying why
#       on stderr. Everything but the flags goes to stderr. The profile is made without
#       touching PYTHON's venv: an instrumented `maturin build --release` (the same cargo
#       command as `maturin develop --release`), unpacked and put first on sys.path
#       (PYTHONPATH) for the training run in PYTHON's own environment.
#
#   bash scripts/pgo.sh wheel PYTHON OUT [MATURIN_BUILD_ARGS...]   (make wheel, the wheels workflow)
#       Builds the release wheel for PYTHON into OUT with `maturin build MATURIN_BUILD_ARGS
#       --interpreter PYTHON`, profile-guided, or fails. The profile is made by that same
#       command with -Cprofile-generate (target directory CARGO_TARGET_DIR/pgo-generate),
#       trained in a fresh venv of PYTHON (target/pgo/train-wheel-<tag>: requirements-
#       reference.txt, or simpleeval alone where pystator cannot be installed), and the
#       wheel is checked to be built on it (below). Writes OUT/<wheel>.pgo.json, how it was
#       built (scripts/test_wheel.sh copies it into the venvs it makes; benches/report.py's
#       header reports it).
#
# Why: under pystator's engine the extension's code runs cold after every stretch of
# interpreter work, so what it costs there is mostly L1 instruction misses (`make
# cachesim`); a profile lets the compiler lay the paths users run out densely and move the
# others away.
#
# Why the wheel's profile is made by the wheel's own command: LLVM finds a function's
# profile by its symbol name, and rustc's symbol names carry a hash of the crate's
# -C metadata, which cargo derives from, among other things, whether --target was given.
# maturin's --zig builds always pass --target (the host's triple, here), so a profile of a
# `maturin develop` build matched none of the wheel's functions, and no compiler said so: a
# function without profile data is quietly optimised without one (the warning for it,
# -pgo-warn-missing-function, is off by default). So the wheel is checked: rustc warns for
# every function of the crate without profile data or whose profile no longer matches its
# code, the log must show the crate compiled with -Cprofile-use, and the wheel is removed
# and the build fails unless every one of its functions found its profile.
#
# What is hot: LLVM calls a block hot when it is among those that make up the top
# FERRO_PGO_HOT_CUTOFF (default 999000, i.e. 99.9%; LLVM's own default is 99%) of all the
# profile's counts. Both builds use the same cutoff on the same kind of profile (the
# training's counts only: what instrumented proc macros and build scripts count while
# the instrumented build compiles is dropped), so the development build and the wheel
# are optimised alike. (A development profile used to include those counts: they lowered
# the hot threshold about tenfold, which made that build faster on the micro-benchmarks
# than a wheel on LLVM's default; 99.9% measured the same as it.)
#
# Profiles are cached in target/pgo/ under a key of everything that shapes them (the Rust
# and Python sources, Cargo.lock, the training scripts and their requirements, this script,
# rustc's, maturin's and PYTHON's versions, and for wheels maturin's arguments): any change
# makes a new one (a minute or two). llvm-profdata: LLVM_PROFDATA if set; else rustup's
# llvm-tools (`rustup component add llvm-tools`) if installed; else (Debian/Ubuntu only)
# Debian's llvm-19, fetched once with `apt-get download` (no root needed) and unpacked into
# FERROSTATOR_CACHE (default ~/.cache/ferrostator)/llvm-19; LLVM 19's llvm-profdata reads
# the raw profiles of rustc 1.95's LLVM 22 and writes an indexed profile LLVM 22 reads.
# FERRO_PGO=0 turns it all off (a wheel then records that it is not profile-guided).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${FERROSTATOR_CACHE:-$HOME/.cache/ferrostator}
PGO_DIR=$ROOT/target/pgo
MATURIN=${MATURIN:-maturin}
HOT_CUTOFF=${FERRO_PGO_HOT_CUTOFF:-999000}
CRATE=$(sed -n '/^\[lib\]/,/^\[/s/^name = "\(.*\)"$/\1/p' Cargo.toml | head -n1)     # _core
PACKAGE=$(sed -n '/^\[package\]/,/^\[/s/^name = "\(.*\)"$/\1/p' Cargo.toml | head -n1) # ferrostator

say() { echo "pgo: $*" >&2; }
die() { echo "pgo: ERROR: $*" >&2; exit 1; }

# A path rustc can open (Git Bash on Windows: C:/... rather than /c/...).
native_path() { if command -v cygpath >/dev/null 2>&1; then cygpath -m "$1"; else echo "$1"; fi; }
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }

# The rustc flags of a build on PROFILE.
use_flags() { echo "-Cprofile-use=$(native_path "$1") -Cllvm-args=-profile-summary-cutoff-hot=$HOT_CUTOFF"; }

# --- llvm-profdata -----------------------------------------------------------------
profdata_ok() { [ -n "$1" ] && "$1" merge --help >/dev/null 2>&1; }

find_profdata() {
    local candidate
    if [ -n "${LLVM_PROFDATA:-}" ] && profdata_ok "$LLVM_PROFDATA"; then
        echo "$LLVM_PROFDATA"; return 0
    fi
    local sysroot
    sysroot=$(rustc --print sysroot 2>/dev/null)
    if command -v cygpath >/dev/null 2>&1; then sysroot=$(cygpath -u "$sysroot"); fi
    for candidate in "$sysroot"/lib/rustlib/*/bin/llvm-profdata{,.exe}; do
        if profdata_ok "$candidate"; then echo "$candidate"; return 0; fi
    done
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

# --- the profile ----------------------------------------------------------------------
# The key: the sources (tracked and untracked, as they are in the work tree), rustc, the
# user's RUSTFLAGS, and the arguments (the kind of build, PYTHON's and maturin's versions,
# maturin's arguments).
source_key() {
    {
        git ls-files -z --cached --others --exclude-standard -- rust python build.rs Cargo.toml \
            Cargo.lock pyproject.toml benches/pgo_train.py benches/workloads.py benches/e2e.py \
            tests/_engine.py requirements-reference.txt scripts/pgo.sh 2>/dev/null |
            sort -z | xargs -0 cat 2>/dev/null
        rustc -vV
        echo "RUSTFLAGS=${RUSTFLAGS:-}"
        printf '%s\n' "$@"
    } | sha256 | cut -c1-16
}

# The cargo target triple of a maturin build: --target's (less a glibc version suffix), or
# the host's for a --zig build (maturin passes it to cargo explicitly), or nothing (a host
# build, no --target).
cargo_target() {
    local zig=0 prev="" t="" a
    for a in "$@"; do
        case "$a" in
        --target=*) t=${a#--target=} ;;
        --zig) zig=1 ;;
        esac
        [ "$prev" = --target ] && t=$a
        prev=$a
    done
    [ -z "$t" ] && [ $zig -eq 1 ] && t=$(rustc -vV | sed -n 's/^host: //p')
    case "$t" in *-linux-gnu*.*) t=${t%%.[0-9]*} ;; esac
    echo "$t"
}

# A fresh venv of PYTHON with the training's requirements; prints its python.
training_venv() {
    local python=$1 venv=$2 vpy minimal
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2 || return 1
    vpy=$venv/bin/python
    [ -x "$vpy" ] || vpy=$venv/Scripts/python.exe
    "$vpy" -m pip install -q --upgrade pip >&2 || return 1
    # pystator needs CPython >= 3.11; without it the training covers ferrostator's own
    # objects and the expression engine (simpleeval), not pystator's engine.
    minimal=$(sed -n 's/[[:space:]]*#.*//; /^simpleeval/p' requirements-reference.txt)
    if "$vpy" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        if ! "$vpy" -m pip install -q -r requirements-reference.txt >&2; then
            say "the training's requirements (requirements-reference.txt) did not install: training without pystator"
            "$vpy" -m pip install -q $minimal >&2 || return 1
        fi
    else
        "$vpy" -m pip install -q $minimal >&2 || return 1
    fi
    echo "$vpy"
}

# make_profile KIND PYTHON TAG PROFILE PROFDATA GEN_TARGET MATURIN_BUILD_ARGS...
# KIND develop: the training runs in PYTHON's own environment, the instrumented package
# first on sys.path; KIND wheel: in a fresh venv of PYTHON (training_venv).
make_profile() {
    local kind=$1 python=$2 tag=$3 profile=$4 profdata=$5 gen_target=$6
    shift 6
    local raw gen_out
    raw=$(mktemp -d)
    gen_out=$(mktemp -d)
    # The instrumented build is the final build's command with two differences that change
    # no code: a --zig build is linked by the system's cc (zig cc cannot link the profiler's
    # runtime: it takes rustc's `-u __llvm_profile_runtime` for a file; cargo-zigbuild
    # issue 315), and so the instrumented wheel is not checked against its manylinux tag
    # (--auditwheel skip); it is only ever run here, by the training.
    local gen_args=() linker_env=() prev="" zig=0 a t
    for a in "$@"; do
        if [ "$prev" = --auditwheel ]; then a=skip; fi
        case "$a" in --auditwheel=*) a=--auditwheel=skip ;; --zig) zig=1 ;; esac
        gen_args+=("$a")
        prev=$a
    done
    if [ $zig -eq 1 ]; then
        t=$(cargo_target "$@")
        linker_env=("CARGO_TARGET_$(echo "$t" | tr 'a-z.-' 'A-Z__')_LINKER=${PGO_GENERATE_LINKER:-cc}")
    fi
    say "making the profile $(basename "$profile"): instrumented build (maturin build ${gen_args[*]}), training run, merge"
    if ! env ${linker_env[@]+"${linker_env[@]}"} RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-Cprofile-generate=$(native_path "$raw")" \
        CARGO_TARGET_DIR="$gen_target" "$MATURIN" build "${gen_args[@]}" --interpreter "$python" --out "$gen_out" >&2; then
        say "instrumented build failed"
        rm -rf "$raw" "$gen_out"; return 1
    fi
    # Written while the instrumented build compiled, by instrumented proc macros and build
    # scripts (a build without --target instruments those too): not the extension's.
    rm -f "$raw"/*.profraw

    local runner=() home
    if [ "$kind" = develop ]; then
        home=$gen_out/site
        "$python" -m zipfile -e "$(ls "$gen_out"/*.whl | head -n1)" "$home" || { rm -rf "$raw" "$gen_out"; return 1; }
        runner=(env "PYTHONPATH=$(native_path "$home")" "$python")
    else
        home=$PGO_DIR/train-$kind-$tag
        local vpy
        if ! vpy=$(training_venv "$python" "$home") ||
            ! "$vpy" -m pip install -q --no-deps --force-reinstall "$gen_out"/*.whl >&2; then
            say "could not make the training venv $home"
            rm -rf "$raw" "$gen_out"; return 1
        fi
        runner=("$vpy")
    fi
    if "${runner[@]}" -c 'import sys, sysconfig; sys.exit(not sysconfig.get_config_var("Py_GIL_DISABLED"))'; then
        runner=(env PYTHON_GIL=0 "${runner[@]}")
    fi
    # Run from the repository: benches/ goes first on sys.path; the ferrostator trained must
    # be the instrumented one.
    local where
    where=$("${runner[@]}" -c 'import pathlib, ferrostator._core as c; print(pathlib.Path(c.__file__).as_posix())')
    case "$where" in
    "$home"/* | "$(native_path "$home")"/*) ;;
    *)
        say "the training would import ferrostator from $where, not from the instrumented build in $home"
        rm -rf "$raw" "$gen_out"; return 1 ;;
    esac
    local log=$PGO_DIR/train-$kind-$tag.log
    if ! "${runner[@]}" benches/pgo_train.py >"$log" 2>&1; then
        cat "$log" >&2
        say "training run failed"
        rm -rf "$raw" "$gen_out"; return 1
    fi
    cat "$log" >&2
    rm -rf "$gen_out"
    if ! ls "$raw"/*.profraw >/dev/null 2>&1; then
        say "the training run wrote no raw profile into $raw"
        rm -rf "$raw"; return 1
    fi
    if ! "$profdata" merge -o "$profile.tmp" "$raw"/*.profraw >&2; then
        say "llvm-profdata merge failed"
        rm -rf "$raw" "$profile.tmp"; return 1
    fi
    rm -rf "$raw"
    local note
    note="benches/pgo_train.py on $("${runner[@]}" -c 'import sys; print(sys.version.split()[0])')"
    if grep -q "not trained" "$log"; then
        note="$note, without pystator's engine ($(grep -m1 "not trained" "$log" | sed 's/^pgo_train: //'))"
    else
        note="$note, pystator's engine included"
    fi
    echo "$note" >"$profile.training"
    # This kind's earlier profiles for this CPython.
    find "$PGO_DIR" -maxdepth 1 -name "$kind-$tag-*.profdata*" ! -name "$(basename "$profile")*" -delete
    mv "$profile.tmp" "$profile"
    say "profile ready: $profile"
}

py_tag() {
    "$1" -c 'import sys, sysconfig
print("cp%d%d%s" % (*sys.version_info[:2], "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))'
}

# =====================================================================================
# scripts/pgo.sh PYTHON: the flags for `maturin develop --release` (make build-dev)
# =====================================================================================
# Not checked as the wheel is (the flags go to a build this script does not run): the
# profile is made by the same cargo command as `maturin develop --release`, on the same
# sources (the key); benches/report.py calls such a build unchecked.
develop_flags() {
    local python=$1
    if [ "${FERRO_PGO:-1}" = 0 ]; then
        say "off (FERRO_PGO=0): plain release build"
        exit 0
    fi
    local tag key profile profdata maturin_version
    tag=$(py_tag "$python") || { say "cannot run $python: plain release build"; exit 0; }
    maturin_version=$("$MATURIN" --version 2>/dev/null) || { say "no maturin: plain release build"; exit 0; }
    key=$(source_key develop "$("$python" -VV)" "$maturin_version")
    profile=$PGO_DIR/develop-$tag-$key.profdata
    if [ ! -f "$profile" ]; then
        if ! profdata=$(find_profdata); then
            say "no usable llvm-profdata (set LLVM_PROFDATA, or \`rustup component add llvm-tools\`): plain release build"
            exit 0
        fi
        mkdir -p "$PGO_DIR"
        if ! make_profile develop "$python" "$tag" "$profile" "$profdata" "$ROOT/target/pgo-generate" --release; then
            say "could not make the profile: plain release build"
            exit 0
        fi
        # Profiles of the naming before this one (a bare 16-digit key, develop-<key>).
        local h='[0-9a-f]'
        h="$h$h$h$h$h$h$h$h$h$h$h$h$h$h$h$h"
        find "$PGO_DIR" -maxdepth 1 \( -name "$h.profdata" -o -name "develop-$h.profdata" \) -delete
    fi
    use_flags "$profile"
}

# =====================================================================================
# scripts/pgo.sh wheel PYTHON OUT [MATURIN_BUILD_ARGS...]: the profile-guided release wheel
# =====================================================================================
# OUT/<wheel>.pgo.json: how the wheel was built (the PGO_INFO_* variables).
write_info() {
    PGO_INFO_PATH="$1.pgo.json" "$PYTHON" -c '
import json, os
keys = ("wheel", "profile_guided", "why", "profile", "training", "llvm_args",
        "functions_without_profile", "functions_with_changed_code", "rustc", "llvm_profdata",
        "maturin", "maturin_args")
info = {k: os.environ.get("PGO_INFO_" + k.upper()) for k in keys}
info["profile_guided"] = info["profile_guided"] == "yes"
for k in ("functions_without_profile", "functions_with_changed_code"):
    info[k] = int(info[k]) if info[k] else None
with open(os.environ["PGO_INFO_PATH"], "w", encoding="utf-8") as f:
    json.dump({k: v for k, v in info.items() if v is not None}, f, indent=1)
    f.write("\n")
'
}

wheel() {
    PYTHON=${1:?usage: scripts/pgo.sh wheel PYTHON OUT [MATURIN_BUILD_ARGS...]}
    local out=${2:?usage: scripts/pgo.sh wheel PYTHON OUT [MATURIN_BUILD_ARGS...]}
    shift 2
    mkdir -p "$out" && out=$(cd "$out" && pwd)
    local log wheel_path rc
    log=$(mktemp)
    export PGO_INFO_MATURIN PGO_INFO_MATURIN_ARGS PGO_INFO_RUSTC PGO_INFO_WHEEL PGO_INFO_PROFILE_GUIDED PGO_INFO_WHY
    PGO_INFO_MATURIN=$("$MATURIN" --version) || die "no maturin ($MATURIN)"
    PGO_INFO_MATURIN_ARGS="$*"
    PGO_INFO_RUSTC=$(rustc -V)
    local tag
    tag=$(py_tag "$PYTHON") || die "cannot run $PYTHON"

    if [ "${FERRO_PGO:-1}" = 0 ]; then
        say "FERRO_PGO=0: a plain release build, NOT profile-guided"
        "$MATURIN" build "$@" --interpreter "$PYTHON" --out "$out" 2>&1 | tee "$log" >&2
        rc=${PIPESTATUS[0]}
        [ "$rc" -eq 0 ] || die "maturin build failed (exit $rc)"
        wheel_path=$(sed -n 's/.*Built wheel.* to \(.*\.whl\)[[:space:]]*$/\1/p' "$log" | tail -n1)
        PGO_INFO_WHEEL=$(basename "$wheel_path") PGO_INFO_PROFILE_GUIDED=no PGO_INFO_WHY="FERRO_PGO=0" \
            write_info "$out/$(basename "$wheel_path")"
        rm -f "$log"
        return 0
    fi

    [ -z "${CARGO_ENCODED_RUSTFLAGS:-}" ] ||
        die "CARGO_ENCODED_RUSTFLAGS is set: cargo would ignore RUSTFLAGS, and with it the profile"
    local profdata
    profdata=$(find_profdata) ||
        die "no usable llvm-profdata: \`rustup component add llvm-tools\` (or set LLVM_PROFDATA). FERRO_PGO=0 builds a plain wheel, which is not the release build"
    export PGO_INFO_LLVM_PROFDATA PGO_INFO_PROFILE PGO_INFO_TRAINING PGO_INFO_LLVM_ARGS
    PGO_INFO_LLVM_PROFDATA=$("$profdata" --version 2>&1 | grep -m1 -i 'version' | sed 's/^ *//')
    PGO_INFO_LLVM_ARGS="-profile-summary-cutoff-hot=$HOT_CUTOFF"

    local key profile target
    key=$(source_key wheel "$("$PYTHON" -VV)" "$PGO_INFO_MATURIN" "$*")
    profile=$PGO_DIR/wheel-$tag-$key.profdata
    target=${CARGO_TARGET_DIR:-$ROOT/target}
    mkdir -p "$PGO_DIR"
    if [ -f "$profile" ]; then
        say "profile $(basename "$profile") (cached: made for these sources, this CPython and these arguments)"
    else
        make_profile wheel "$PYTHON" "$tag" "$profile" "$profdata" "$target/pgo-generate" "$@" ||
            die "could not make the profile: no wheel built (FERRO_PGO=0 builds a plain one, which is not the release build)"
    fi
    PGO_INFO_PROFILE=$(basename "$profile")
    PGO_INFO_TRAINING=$(cat "$profile.training" 2>/dev/null)

    # The crate is compiled afresh, so that this build's log shows its rustc command and
    # every warning about its profile.
    local t
    t=$(cargo_target "$@")
    CARGO_TARGET_DIR=$target cargo clean --release -p "$PACKAGE" ${t:+--target "$t"} >/dev/null 2>&1

    local use
    use=$(use_flags "$profile")
    say "building the wheel with the profile: maturin build $* --interpreter $PYTHON"
    # Shown as a build without -v shows it; the profile's warnings are summed up below.
    RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$use -Cllvm-args=-pgo-warn-missing-function" \
        CARGO_TARGET_DIR=$target "$MATURIN" build -v "$@" --interpreter "$PYTHON" --out "$out" 2>&1 |
        tee "$log" |
        grep --line-buffered -vE '^[[:space:]]+(Running|Fresh) |no profile data available for function|function control flow change detected' >&2
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || die "maturin build failed (exit $rc); log: $log"
    wheel_path=$(sed -n 's/.*Built wheel.* to \(.*\.whl\)[[:space:]]*$/\1/p' "$log" | tail -n1)
    [ -n "$wheel_path" ] && [ -f "$wheel_path" ] || die "maturin built no wheel that this script can find; log: $log"
    PGO_INFO_WHEEL=$(basename "$wheel_path")

    local refuse="" running missing changed
    running=$(grep -E "Running .*--crate-name $CRATE " "$log")
    missing=$(grep -c "no profile data available for function" "$log")
    changed=$(grep -c "function control flow change detected" "$log")
    if [ -z "$running" ]; then
        refuse="cargo did not compile $CRATE in this build, so its profile could not be checked"
    elif ! grep -qF -- "-Cprofile-use=$(native_path "$profile")" <<<"$running"; then
        refuse="rustc compiled $CRATE without -Cprofile-use=$(native_path "$profile") (RUSTFLAGS did not reach it)"
    elif [ "$missing" -gt 0 ] || [ "$changed" -gt 0 ]; then
        grep -m3 -E "no profile data available for function|function control flow change detected" "$log" >&2
        refuse="the profile does not match this build: $missing functions of $CRATE have no profile data, $changed have changed since it was made"
    fi
    if [ -n "$refuse" ]; then
        rm -f "$wheel_path"
        die "$refuse. $PGO_INFO_WHEEL is NOT profile-guided: removed. Full log: $log"
    fi
    rm -f "$log"
    PGO_INFO_PROFILE_GUIDED=yes PGO_INFO_FUNCTIONS_WITHOUT_PROFILE=$missing PGO_INFO_FUNCTIONS_WITH_CHANGED_CODE=$changed \
        write_info "$out/$PGO_INFO_WHEEL"
    say "$PGO_INFO_WHEEL is profile-guided: every function of $CRATE found its profile ($(basename "$profile"); training: $PGO_INFO_TRAINING)"
}

case "${1:-}" in
"") echo "usage: scripts/pgo.sh PYTHON | scripts/pgo.sh wheel PYTHON OUT [MATURIN_BUILD_ARGS...]" >&2; exit 2 ;;
wheel) shift; wheel "$@" ;;
*) develop_flags "$1" ;;
esac
