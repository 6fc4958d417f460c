# Pulse — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, else a private copy installed with pip into .tools/ (nothing system-wide).
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help run test lint fmt sync clean bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: uv.lock pyproject.toml */pyproject.toml services/*/pyproject.toml | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

sync: $(VENV)/.synced ## create .venv and install every package (from uv.lock)

run: sync ## start the whole platform (embedded NATS and PostgreSQL unless PULSE_NATS_URL / PULSE_DATABASE_URL are set)
	@$(PY) -m pulse_runtime.devstack

lint: sync ## ruff (format check + lint) and mypy --strict
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint ## lint, then unit and integration tests against real nats-server and PostgreSQL
	$(VENV)/bin/pytest

bench: sync ## benchmarks (make bench, or make bench ARGS="ingest --points 200000"); results in bench/results/
	PYTHONPATH=. $(PY) -m bench $(ARGS)

fmt: sync ## format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean: ## remove the environment and caches (keeps .data/)
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache
