# The two README commands are `make test` and `make demo`; each does its own set-up.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
DEMO_SECONDS ?= 60

.PHONY: help test demo venv tools lint format lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

test: venv tools lint ## set everything up, then run the whole suite (real PostgreSQL, Redis, Kubernetes)
	$(BIN)/pytest $(PYTEST_ARGS)

demo: venv ## the main job: replayed Binance and Kraken collected into SQLite, with live status
	bash examples/demo.sh $(DEMO_SECONDS)

venv: $(BIN)/.installed ## the virtual environment with the pinned dependencies

$(BIN)/.installed: pyproject.toml constraints.txt
	@if [ ! -x $(BIN)/python ]; then \
	  if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
	    if [ "$$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv; \
	    else echo "make: $(PYTHON) has no venv module; install it: sudo apt-get install python3-venv" >&2; exit 1; fi; \
	  fi; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

tools: venv ## PostgreSQL, Redis, etcd, kube-apiserver, kube-controller-manager, kubectl, helm
	bash tests/toolchain/install.sh $(BIN)

lint: venv ## ruff and mypy, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: ## re-resolve the pinned dependencies into constraints.txt
	rm -rf .cache/lock && $(PYTHON) -m venv .cache/lock
	.cache/lock/bin/python -m pip install -q --disable-pip-version-check '.[dev]'
	{ echo "# Every package the project installs, resolved together; regenerate with make lock."; \
	  .cache/lock/bin/python -m pip freeze --exclude fullon-ohlcv-operator; } > constraints.txt
	rm -rf .cache/lock

clean: ## remove the virtual environment and caches in the checkout (not the toolchain cache)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
