# ferrostator — run `make help` for the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

$(VENV)/.installed: requirements-dev.txt requirements-reference.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt -r requirements-reference.txt
	touch $@

# pystator 0.0.47's contract (ferrostator.v47) is tested and benchmarked in a venv of
# its own: pystator 0.0.47 and 0.0.25 cannot share one. The extension is the same
# build: both venvs use python3 and install the package editable from python/.
V47 := .venvs/v47
V47_PY := $(V47)/bin/python

$(V47)/.installed: requirements-v47.txt
	$(PYTHON) -m venv $(V47)
	$(V47_PY) -m pip install -q --upgrade pip
	$(V47_PY) -m pip install -q -r requirements-v47.txt
	touch $@

.PHONY: help
help: ## Show this help
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-24s\033[0m %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.installed ## Create .venv with the build, test and reference packages

# Release builds of the extension are profile-guided: scripts/pgo.sh prints the rustc
# flags for the profile of benches/pgo_train.py on this exact source (made, ~1 minute,
# and cached in target/pgo/ when missing), or nothing (a plain release build) when no
# llvm-profdata can be had. FERRO_PGO=0 turns it off.
PGO_RUSTFLAGS = $$(bash scripts/pgo.sh $(abspath $(PY)))

.PHONY: build-dev
build-dev: install ## Build the extension (release mode, fat LTO, profile-guided) into .venv
	RUSTFLAGS="$(PGO_RUSTFLAGS)" maturin develop --release -q

.PHONY: build-prod
build-prod: install ## Build a fully optimised (profile-guided) wheel into dist/
	RUSTFLAGS="$(PGO_RUSTFLAGS)" maturin build --release --out dist

.PHONY: demo
demo: build-dev ## Build, then run the order-lifecycle demo (side by side with pystator)
	$(PY) demo/order_lifecycle.py

# The whole suite again with each test body in THREADS threads at once (pytest-run-parallel;
# tests marked thread_unsafe run once). Not -q: that hides the plugin's report.
THREADS ?= 4
PYTEST_THREADS = $(PY) -m pytest --parallel-threads=$(THREADS)

.PHONY: test
test: build-dev $(VENV)/.pystator-suite ## Build, then run every test: pytest, cargo test, pytest multi-threaded, pystator's suites (0.0.25, 0.0.47), simpleeval's suite, test-v47
	$(PY) -m pytest -q
	bash scripts/cargo_test.sh $(abspath $(PY)) -q
	$(PYTEST_THREADS)
	$(PY) tests/pystator_suite/run_suite.py
	$(PY) tests/simpleeval_suite/run_suite.py
	$(MAKE) --no-print-directory test-v47
	$(MAKE) --no-print-directory test-pystator-suite-v47

$(VENV)/.pystator-suite: requirements-pystator-suite.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-pystator-suite.txt
	touch $@

# pystator's own tests come from its sdist, fetched into FERROSTATOR_CACHE
# (default ~/.cache/ferrostator), never into the repository.
.PHONY: test-pystator-suite
test-pystator-suite: build-dev $(VENV)/.pystator-suite ## pystator's own suite as it is and with ferrostator.install(): same outcomes
	$(PY) tests/pystator_suite/run_suite.py

# simpleeval's own tests, likewise from its sdist: as they are, then with SimpleEval.eval
# routed through ferrostator's expression engine wherever the engine mirrors the evaluator.
.PHONY: test-simpleeval-suite
test-simpleeval-suite: build-dev ## simpleeval's own suite as it is and on ferrostator's expression engine: same outcomes
	$(PY) tests/simpleeval_suite/run_suite.py

.PHONY: build-v47
build-v47: build-dev $(V47)/.installed ## Install the built extension into .venvs/v47 (pystator 0.0.47's venv)
	$(V47_PY) -c "import ferrostator.v47" 2>/dev/null || \
		RUSTFLAGS="$(PGO_RUSTFLAGS)" VIRTUAL_ENV=$(abspath $(V47)) PATH=$(abspath $(V47))/bin:$$PATH \
		$(abspath $(V47))/bin/maturin develop --release -q

.PHONY: test-v47
test-v47: build-v47 ## pystator 0.0.47's own action tests against ferrostator.v47, then tests_v47 (differential) and the e2e bench harness
	$(V47_PY) scripts/pystator47_tests.py -q
	$(V47_PY) -m pytest -q -c tests_v47/pytest.ini tests_v47 tests/test_bench_harness.py

$(V47)/.pystator-suite: requirements-pystator-suite-v47.txt requirements-pystator-suite.txt $(V47)/.installed
	$(V47_PY) -m pip install -q -r requirements-pystator-suite-v47.txt
	touch $@

.PHONY: test-pystator-suite-v47
test-pystator-suite-v47: build-v47 $(V47)/.pystator-suite ## pystator 0.0.47's whole suite as it is and with install() (~3 min)
	$(V47_PY) tests/pystator_suite/run_suite.py

.PHONY: test-threads
test-threads: build-dev ## Build, then run every test body in THREADS (4) threads at once
	$(PYTEST_THREADS)

.PHONY: stress
stress: build-dev ## Long reliability runs: thread storms, 1M-execution RSS, 10k-example fuzz, clippy
	STRESS=1 HYPOTHESIS_PROFILE=slow $(PY) -m pytest -q -s tests/stress  # -s: prints the figures

# `make bench` measures what users install: the release wheel (`make wheel`, profile-guided,
# for WHEEL_PYTHON) installed into fresh venvs, .venvs/bench (0.0.25) and .venvs/bench-v47
# (0.0.47), by scripts/test_wheel.sh; each report's header names the wheel, the CPython and
# the machine. `make bench-dev`: the same reports on the editable development build.
BENCH_WHEELS := target/bench-wheel
BENCH_VENV := .venvs/bench
BENCH_V47_VENV := .venvs/bench-v47

.PHONY: bench
bench: ## Benchmarks of the release wheel side by side with pystator: 0.0.25 (seed), then 0.0.47 (ferrostator.v47), then bench-scaling
	rm -rf $(BENCH_WHEELS)
	$(MAKE) --no-print-directory wheel DIST=$(BENCH_WHEELS)
	bash scripts/test_wheel.sh --no-test --python $(WHEEL_PYTHON) --wheels $(BENCH_WHEELS) --venv $(BENCH_VENV) \
		--requirements requirements-dev.txt --requirements requirements-reference.txt
	bash scripts/test_wheel.sh --no-test --python $(WHEEL_PYTHON) --wheels $(BENCH_WHEELS) --venv $(BENCH_V47_VENV) \
		--requirements requirements-v47.txt
	set -o pipefail; $(BENCH_VENV)/bin/python benches/report.py | tee docs/bench/seed.md
	set -o pipefail; $(BENCH_V47_VENV)/bin/python benches/report.py --contract v47 | tee docs/bench/v47.md
	$(BENCH_VENV)/bin/python benches/chart.py docs/bench/seed.md docs/bench/v47.md docs/performance.svg
	@if [ -x "$(FT_PYTHON)" ]; then $(MAKE) --no-print-directory bench-scaling; \
	else echo "bench-scaling skipped: no free-threaded CPython at $(FT_PYTHON) (make bench-scaling builds it)"; fi

.PHONY: bench-dev
bench-dev: build-v47 ## The benchmarks of `make bench` on the editable development build (.venv, .venvs/v47), into docs/bench/ and the README's chart
	set -o pipefail; $(PY) benches/report.py | tee docs/bench/seed.md
	set -o pipefail; $(V47_PY) benches/report.py --contract v47 | tee docs/bench/v47.md
	$(PY) benches/chart.py docs/bench/seed.md docs/bench/v47.md docs/performance.svg

.PHONY: cachesim
cachesim: build-dev ## The end-to-end sync row under valgrind's cache simulator: ferrostator vs the ceiling, counted, not timed (needs valgrind)
	$(PY) benches/cachesim.py

# Thread scaling (and `make test-threads-ft`) need a free-threaded CPython (FT_VERSION,
# from the `make pythons` cache, built when missing): its own venv and target directory,
# a release build, GIL disabled.
FERRO_PYTHONS ?= $(HOME)/.cache/ferrostator/pythons
FT_VERSION ?= 3.14t
FT_PYTHON ?= $(FERRO_PYTHONS)/$(FT_VERSION)/bin/python$(FT_VERSION)
FT_VENV := .venvs/scaling-$(FT_VERSION)

$(FT_VENV)/.installed: requirements-dev.txt requirements-reference.txt
	FERRO_PYTHONS=$(FERRO_PYTHONS) bash scripts/build_pythons.sh $(FT_VERSION)
	$(FT_PYTHON) -m venv $(FT_VENV)
	$(FT_VENV)/bin/python -m pip install -q --upgrade pip
	$(FT_VENV)/bin/python -m pip install -q -r requirements-dev.txt -r requirements-reference.txt
	touch $@

.PHONY: bench-scaling
bench-scaling: $(FT_VENV)/.installed ## Threads sharing registry, executor and transition vs sharing nothing (FT_PYTHON, 3.14t)
	CARGO_TARGET_DIR=$(abspath target/$(notdir $(FT_VENV))) VIRTUAL_ENV=$(abspath $(FT_VENV)) \
		PATH=$(abspath $(FT_VENV))/bin:$$PATH maturin develop --release -q
	PYTHON_GIL=0 $(FT_VENV)/bin/python benches/scaling.py

.PHONY: clean
clean: ## Remove build products and the virtualenv
	rm -rf $(VENV) $(V47) target dist

# ---------------------------------------------------------------------------
# Packaging, compatibility and lint. cargo and maturin honour CARGO_TARGET_DIR from the
# environment (e.g. CARGO_TARGET_DIR=/tmp/ferro-target-x make wheel keeps off target/).
# ---------------------------------------------------------------------------
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n1)
DIST ?= dist
# Interpreter `make wheel` builds for and `make test-wheel` tests with.
WHEEL_PYTHON ?= $(abspath $(PY))
# Where `make sdist` lays out the vendored source tree (must be outside the repository).
SDIST_STAGE ?= $(or $(TMPDIR),/tmp)/ferrostator-sdist-stage
# CPythons `make pythons` builds from ../shared/cpython into FERRO_PYTHONS (outside the repository;
# scripts/find_python.sh looks there too).
PYTHONS ?= 3.14 3.14t 3.15 3.15t
export FERRO_PYTHONS ?= $(HOME)/.cache/ferrostator/pythons
# CPythons `make test-versions` (and `make wheels`) build and test on: X.Y, or X.Yt for a
# free-threaded build (those this machine lacks are reported).
# PYTEST_ARGS: extra pytest arguments for test-versions, test-threads-ft and test-wheel(s)
# (e.g. "-x -k registry").
TEST_VERSIONS ?= 3.10 3.11 3.12 3.13 3.14 3.14t 3.15 3.15t
WHEEL_VERSIONS ?= $(TEST_VERSIONS)
# FT_VERSION (above, 3.14t) is also the CPython `make test-threads-ft` runs the threaded suite on.
PYTEST_ARGS ?=

$(VENV)/.wheel-tools: requirements-wheel.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-wheel.txt
	touch $@

$(VENV)/.lint-tools: requirements-lint.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-lint.txt
	touch $@

$(VENV)/.uvloop: requirements-uvloop.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-uvloop.txt
	touch $@

# The release wheel: `scripts/pgo.sh wheel` makes the profile with this very maturin command
# (per CPython; cached in target/pgo/), builds the wheel on it and checks that every function
# found its profile, or fails (FERRO_PGO=0: a plain wheel, recorded as such). Its tools (maturin,
# zig, auditwheel) live in a venv of their own, so a wheel build never touches .venv; the
# wheels workflow runs the same script with the same arguments.
WHEEL_TOOLS := .venvs/wheel-tools
WHEEL_ARGS := --release --locked --zig --compatibility manylinux2014 --auditwheel check

$(WHEEL_TOOLS)/.installed: requirements-dev.txt requirements-wheel.txt
	$(PYTHON) -m venv $(WHEEL_TOOLS)
	$(WHEEL_TOOLS)/bin/python -m pip install -q --upgrade pip
	$(WHEEL_TOOLS)/bin/python -m pip install -q -r requirements-dev.txt -r requirements-wheel.txt
	touch $@

.PHONY: wheel
wheel: $(WHEEL_TOOLS)/.installed ## Release wheel for WHEEL_PYTHON, profile-guided, manylinux2014 x86_64 (zig), into dist/
	rm -rf $(DIST)/.wheel-build
	CARGO_ZIGBUILD_PYTHON_PATH=$(abspath $(WHEEL_TOOLS))/bin/python MATURIN=$(abspath $(WHEEL_TOOLS))/bin/maturin \
		bash scripts/pgo.sh wheel $(WHEEL_PYTHON) $(DIST)/.wheel-build $(WHEEL_ARGS)
	$(WHEEL_TOOLS)/bin/python -m auditwheel show $(DIST)/.wheel-build/*.whl
	mv -f $(DIST)/.wheel-build/* $(DIST)/ && rmdir $(DIST)/.wheel-build
	@ls -l $(DIST)/*.whl

.PHONY: test-wheel
test-wheel: wheel ## Install the wheel into a fresh venv (.venvs/wheel-test) and run pytest against it
	bash scripts/test_wheel.sh --python $(WHEEL_PYTHON) --wheels $(DIST) -- -q $(PYTEST_ARGS)

.PHONY: sdist
sdist: install ## sdist with every crate vendored (builds with no network access to crates; a build from it is plain, not profile-guided) into dist/
	bash scripts/stage_sdist.sh $(SDIST_STAGE)
	maturin sdist --manifest-path $(SDIST_STAGE)/Cargo.toml --out $(DIST)
	rm -rf $(SDIST_STAGE)
	@ls -l $(DIST)/ferrostator-$(VERSION).tar.gz

.PHONY: sdist-check
sdist-check: sdist ## Build the sdist offline (CARGO_NET_OFFLINE, empty CARGO_HOME, no index) and import it
	PYTHON=$(abspath $(PY)) bash scripts/check_sdist.sh $(DIST)/ferrostator-$(VERSION).tar.gz

.PHONY: test-uvloop
test-uvloop: build-dev $(VENV)/.uvloop ## Run every test file that uses asyncio again, on uvloop
	PYTHONPATH=tests/ecosystem $(PY) -m pytest -q -p uvloop_plugin \
		$$(grep -l asyncio tests/test_*.py) tests/ecosystem/uvloop_checks.py

.PHONY: wheels
wheels: $(WHEEL_TOOLS)/.installed ## `make wheel` for each CPython in WHEEL_VERSIONS found here (each on its own profile)
	bash scripts/wheels.sh $(WHEEL_VERSIONS)

.PHONY: test-wheels
test-wheels: $(VENV)/.wheel-tools ## `make wheels`, then `make test-wheel` for each (.venvs/wheel-test-X.Y)
	bash scripts/wheels.sh --test $(WHEEL_VERSIONS) $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))

.PHONY: pythons
pythons: ## Build CPython 3.14, 3.14t, 3.15, 3.15t from ../shared/cpython into FERRO_PYTHONS (kept)
	bash scripts/build_pythons.sh $(PYTHONS)

.PHONY: test-versions
test-versions: ## Build (maturin develop), run pytest and cargo test on each CPython in TEST_VERSIONS
	bash scripts/test_versions.sh $(TEST_VERSIONS) $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))

.PHONY: test-threads-ft
test-threads-ft: ## Build FT_VERSION (3.14t) if missing; the multi-threaded suite on it, PYTHON_GIL=0
	bash scripts/build_pythons.sh $(FT_VERSION)
	VERSIONS_THREADS=$(THREADS) bash scripts/test_versions.sh $(FT_VERSION) $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))

LINT_CHECKS := rustfmt clippy clippy-pyversions ruff ruff-format stubtest mypy-example mypy workflows
.PHONY: lint $(addprefix lint-,$(LINT_CHECKS))
lint: build-dev $(VENV)/.lint-tools ## Every check below, even after one fails; lists the failures
	@failed=""; for c in $(LINT_CHECKS); do \
		echo "--- lint-$$c"; $(MAKE) --no-print-directory lint-$$c || failed="$$failed lint-$$c"; \
	done; \
	if [ -n "$$failed" ]; then echo "lint: FAILED:$$failed"; exit 1; fi; echo "lint: all $(words $(LINT_CHECKS)) checks passed"
lint-rustfmt: # lists the files; `cargo fmt --all -- --check` shows the diffs
	cargo fmt --all -- --check --files-with-diff
lint-clippy:
	PYO3_PYTHON=$(abspath $(PY)) cargo clippy --locked --all-targets -- -D warnings
lint-clippy-pyversions: # the library for every CPython 3.10-3.15t (PyO3 config files: no interpreters needed)
	bash scripts/clippy_pyversions.sh
lint-ruff: $(VENV)/.lint-tools
	ruff check --output-format concise .
lint-ruff-format: $(VENV)/.lint-tools
	ruff format --check --output-format concise .
lint-stubtest:
	$(PY) -m mypy.stubtest ferrostator._core --allowlist typing/stubtest_allowlist.txt
lint-mypy-example:
	$(PY) -m mypy --strict typing/usage_example.py
lint-mypy:
	$(PY) -m mypy python/ferrostator
lint-workflows: $(VENV)/.lint-tools
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
