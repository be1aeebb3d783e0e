#!/usr/bin/env bash
# `cargo test` against one interpreter. PyO3 builds for it (PYO3_PYTHON), and the test
# binary embeds it (auto-initialize), so the loader must find that interpreter's own
# libpython: its LIBDIR goes first on LD_LIBRARY_PATH. Without it the loader finds none for
# the interpreters of scripts/build_pythons.sh (their rpath is in the python executable, not
# in our test binary) and may find another build of the same name in /usr/lib (Debian's
# 3.11 for pyenv's 3.11).
# Usage: scripts/cargo_test.sh PYTHON [CARGO_TEST_ARGS...]
set -euo pipefail
py=${1:?usage: scripts/cargo_test.sh PYTHON [CARGO_TEST_ARGS...]}
shift
libdir=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')
[ -n "$libdir" ] && export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PYO3_PYTHON=$py exec cargo test "$@"
