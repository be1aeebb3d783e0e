#!/usr/bin/env bash
# Build CPython 3.14, 3.14t, 3.15 and 3.15t from the source trees in ../shared/cpython/
# into a cache outside the repository, reusing every interpreter already there.
#
# Usage: scripts/build_pythons.sh [VARIANT ...]      (default: 3.14t 3.14 3.15t 3.15)
#   VARIANT is X.Y (GIL build) or X.Yt (free-threaded, --disable-gil).
# Environment:
#   FERRO_PYTHONS   the cache (default: ~/.cache/ferrostator/pythons); each variant is
#                   installed under FERRO_PYTHONS/X.Y[t] with bin/pythonX.Y[t]
#   CPYTHON_SRC     where the tarballs are (default: ../shared/cpython beside the repository,
#                   or beside the main work tree when this is a `git worktree`)
#
# Shared builds (--enable-shared, rpath to the prefix): `cargo test` with PyO3's
# auto-initialize links libpython and cannot embed a static-only interpreter. Build
# dependencies come from Debian's packages (apt-get, as root) when a compiler header is
# missing. Each variant is installed into a staging folder and renamed into place once it
# works, under a lock per variant: a half-installed interpreter is never seen there, and two
# runs at once (another work tree) build a variant once. Prints the interpreter paths at
# the end; exits non-zero if one failed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${FERRO_PYTHONS:-$HOME/.cache/ferrostator/pythons}
src_dir=${CPYTHON_SRC:-$root/../shared/cpython}
if [ -z "${CPYTHON_SRC:-}" ] && [ ! -d "$src_dir" ]; then
    common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    [ -n "$common" ] && [ -d "$(dirname "$common")/../shared/cpython" ] &&
        src_dir=$(dirname "$common")/../shared/cpython
fi
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(3.14t 3.14 3.15t 3.15)

declare -A tarball=([3.14]=Python-3.14.7.tar.xz [3.15]=Python-3.15.0rc1.tar.xz)

ensure_build_deps() {
    # One header per library the stdlib modules the suite needs link to (ssl, sqlite3, ...).
    local missing=0 h
    for h in /usr/include/openssl/ssl.h /usr/include/zlib.h /usr/include/ffi.h \
        /usr/include/sqlite3.h /usr/include/lzma.h /usr/include/bzlib.h \
        /usr/include/uuid/uuid.h /usr/include/readline/readline.h; do
        [ -e "$h" ] || [ -e "/usr/include/x86_64-linux-gnu/${h#/usr/include/}" ] || missing=1
    done
    [ $missing -eq 0 ] && return 0
    echo "--- installing CPython build dependencies (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq build-essential pkg-config libssl-dev zlib1g-dev libffi-dev \
        libbz2-dev libreadline-dev libsqlite3-dev liblzma-dev libncurses-dev uuid-dev \
        libgdbm-dev libzstd-dev libexpat1-dev >/dev/null
}

# The stdlib extension modules the suite and pip need; _decimal rather than decimal, which
# falls back to pure Python (3.15 without --without-system-libmpdec on bookworm).
works() { # $1 interpreter, $2 X.Y, $3 "1" when free-threaded
    [ -x "$1" ] && "$1" -c "import sys, sysconfig, ssl, sqlite3, ctypes, _decimal, lzma, bz2, zlib
sys.exit(not ('%d.%d' % sys.version_info[:2] == '$2'
              and bool(sysconfig.get_config_var('Py_GIL_DISABLED')) == bool('$3')))" 2>/dev/null
}

mkdir -p "$cache"
failed=0
for variant in "${variants[@]}"; do
    v=${variant%t}
    ft=""; [ "$variant" != "$v" ] && ft=1
    [ -n "${tarball[$v]:-}" ] || { echo "build_pythons: unknown variant $variant" >&2; exit 2; }
    prefix=$cache/$variant
    exe=$prefix/bin/python$variant
    exec {lock}>"$cache/.$variant.lock"
    if ! flock -n "$lock"; then
        echo "=== CPython $variant: another build of it is running; waiting for it"
        flock "$lock"
    fi
    if works "$exe" "$v" "$ft"; then
        echo "=== CPython $variant: cached at $exe"
        exec {lock}>&-
        continue
    fi
    if [ ! -f "$src_dir/${tarball[$v]}" ]; then
        echo "build_pythons: no $src_dir/${tarball[$v]} (set CPYTHON_SRC)" >&2
        exit 2
    fi
    echo "=== CPython $variant: building into $prefix"
    started=$SECONDS
    ensure_build_deps
    work=$(mktemp -d "${TMPDIR:-/tmp}/ferro-cpython-$variant.XXXXXX")
    tar -xJf "$src_dir/${tarball[$v]}" -C "$work"
    srcdir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'Python-*' | head -n1)
    opts=(--prefix="$prefix" --enable-shared "LDFLAGS=-Wl,-rpath,$prefix/lib")
    [ -n "$ft" ] && opts+=(--disable-gil)
    [ "$v" = 3.15 ] && opts+=(--without-system-libmpdec)
    # make install DESTDIR=stage puts the tree at stage/$prefix; on the cache's file system,
    # so the final rename is atomic.
    stage=$cache/.$variant.stage
    rm -rf "$stage" "$prefix"
    if (cd "$srcdir" && ./configure -q "${opts[@]}" >"$work/configure.log" 2>&1 &&
        make -j"$(nproc)" >"$work/make.log" 2>&1 &&
        make install DESTDIR="$stage" >"$work/install.log" 2>&1) &&
        mv "$stage$prefix" "$prefix" && works "$exe" "$v" "$ft"; then
        rm -rf "$work" "$stage"
        echo "=== CPython $variant: built $exe in $((SECONDS - started)) s"
    else
        echo "build_pythons: CPython $variant failed; logs in $work" >&2
        tail -n 30 "$work"/*.log >&2 || true
        rm -rf "$stage" "$prefix"
        failed=1
    fi
    exec {lock}>&-
done

echo "=== interpreters in $cache"
for variant in "${variants[@]}"; do
    exe=$cache/$variant/bin/python$variant
    [ -x "$exe" ] && echo "  $variant  $exe  $("$exe" -VV | head -n1)"
done
exit $failed
