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

.PHONY: help
help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.installed ## Create .venv with the build, test and reference packages

.PHONY: build-dev
build-dev: install ## Build the extension (release mode, thin LTO) into .venv
	maturin develop --release -q

.PHONY: build-prod
build-prod: install ## Build a fully optimised wheel into dist/
	maturin build --release --out dist

.PHONY: demo
demo: build-dev ## Build, then run the order-lifecycle demo (side by side with pystator)
	$(PY) demo/order_lifecycle.py

.PHONY: test
test: build-dev ## Build, then run every test: pytest and cargo test
	$(PY) -m pytest -q
	PYO3_PYTHON=$(abspath $(PY)) cargo test -q

.PHONY: bench
bench: build-dev ## Benchmarks side by side with pystator 0.0.25 (prints the ratio table)
	$(PY) benches/report.py

.PHONY: clean
clean: ## Remove build products and the virtualenv
	rm -rf $(VENV) target dist
