# The two README commands are `make test` and `make demo`; each does its own set-up.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# pytest-xdist workers for make test: most tests wait on servers and clocks, not the CPU
TEST_WORKERS ?= 3
DEMO_SECONDS ?=
DEMO_NETNS ?= ohlcv-demo
BENCH ?= full
BENCH_NETNS ?= ohlcv-bench

.PHONY: help test demo demo-embedded bench venv tools image lint format lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

test: venv tools image lint ## set everything up, then run the whole suite (real PostgreSQL, Redis, Kubernetes node)
	$(BIN)/python -m tests.harness.netns -- $(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

demo: venv tools image ## the main job on a real single-node cluster: helm install, collectors as Pods, live status (Ctrl-C stops it)
	OHLCV_NETNS_NAME=$(DEMO_NETNS) $(BIN)/python -m tests.harness.netns -- $(BIN)/python -m examples.demo $(DEMO_SECONDS)

bench: venv tools $(BIN)/.installed-bench ## benchmarks B1..B7 (docs/benchmarks.md): JSON in bench/results/latest.json, docs regenerated; BENCH=quick runs each small
	OHLCV_NETNS_NAME=$(BENCH_NETNS) $(BIN)/python -m tests.harness.netns -- $(BIN)/python -m bench --mode $(BENCH) --docs

$(BIN)/.installed-bench: $(BIN)/.installed
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	touch $@

demo-embedded: venv ## one collector process per exchange on SQLite, no Kubernetes
	bash examples/embedded-demo.sh $(or $(DEMO_SECONDS),60)

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

tools: venv ## PostgreSQL, Redis, containerd, runc, CNI, buildah; etcd and Kubernetes (apiserver to kubelet), helm
	bash tests/toolchain/install.sh $(BIN)

image: venv ## the container image, built from the Dockerfile with buildah into an OCI archive (cached)
	bash tests/toolchain/image.sh $(BIN)

.PHONY: chart
chart: ## the Helm chart as dist/fullon-ohlcv-<version>.tgz, its version (and the CRD's) from pyproject.toml
	HELM=$(if $(wildcard $(BIN)/helm),$(BIN)/helm,helm) PYTHON=$(PYTHON) bash charts/package.sh dist

lint: venv ## ruff and mypy, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: ## re-resolve the pinned dependencies into constraints.txt
	rm -rf .cache/lock && $(PYTHON) -m venv .cache/lock
	.cache/lock/bin/python -m pip install -q --disable-pip-version-check '.[dev,bench]'
	{ echo "# Every package the project installs, resolved together; regenerate with make lock."; \
	  .cache/lock/bin/python -m pip freeze --exclude fullon-ohlcv-operator; \
	  echo "# aiohttp and redis need it only before Python 3.11.3 (Debian bookworm's 3.11.2: the image built here)."; \
	  echo 'async-timeout==5.0.1 ; python_full_version < "3.11.3"'; } > constraints.txt
	rm -rf .cache/lock

clean: ## remove the virtual environment and caches in the checkout (not the toolchain cache)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
