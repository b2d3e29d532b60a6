# facematch — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared

.DEFAULT_GOAL := help
.PHONY: help install run test test-pg test-fast lint bench clean chromium

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install facematch with its dev tools (quick when nothing changed)

run: install ## migrate, seed a demo partner, serve on http://127.0.0.1:8000 and the demo partner site on :8001
	@$(BIN)/facematch serve --dev & server=$$!; \
	trap 'kill $$server $$demo 2>/dev/null' EXIT INT TERM; \
	for _ in $$(seq 1 100); do test -f var/demo-partner.json && break; sleep 0.2; done; \
	$(BIN)/facematch demo-partner & demo=$$!; \
	echo "demo partner on http://127.0.0.1:8001"; \
	wait $$server

test: install chromium ## lint, type-check, the whole suite on SQLite, then on PostgreSQL when FACEMATCH_TEST_DATABASE_URL is set
	$(MAKE) lint
	env -u FACEMATCH_TEST_DATABASE_URL $(BIN)/python -m pytest -q
	@if [ -n "$$FACEMATCH_TEST_DATABASE_URL" ]; then $(MAKE) test-pg; fi

test-pg: install ## the suite on PostgreSQL (fresh databases; model and browser tests ran on SQLite and run once)
	FACEMATCH_TEST_DATABASE_URL=$${FACEMATCH_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest -q -m "not model and not e2e"

test-fast: install ## unit tests only (no models, no browser)
	$(BIN)/python -m pytest -q -m "not model and not e2e and not slow"

chromium: ## Debian chromium for the e2e tests (installed with apt when /usr/bin/chromium is missing)
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

lint: install ## ruff, mypy and the import-linter contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install ## accuracy and speed benchmarks (see BENCHMARKS.md)
	$(BIN)/python bench/engine_bench.py --shared $(SHARED)

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
