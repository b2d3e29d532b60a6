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
	@echo "Installing facematch and its dependencies into $(VENV) (the first time takes a minute or two)..."
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

#: pytest on several processes (one database template each; a test file stays on one process, so
#: the servers a module shares start once); the 25 slowest tests are listed at the end
TEST_WORKERS ?= 3
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

test: install chromium ## lint, type-check, the whole suite on SQLite, then on PostgreSQL when FACEMATCH_TEST_DATABASE_URL is set
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	env -u FACEMATCH_TEST_DATABASE_URL $(PYTEST) || status=1; \
	if [ -n "$$FACEMATCH_TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-pg || status=1; fi; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see above: lint, the SQLite pass or the PostgreSQL pass)"; fi; \
	exit $$status

test-pg: install ## the suite on PostgreSQL: the tests that touch a database (model, browser and database-free tests run once, on SQLite)
	FACEMATCH_TEST_DATABASE_URL=$${FACEMATCH_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
		$(PYTEST) -m "not model and not e2e"

test-fast: install ## unit tests only (no models, no browser, no long fault-injection runs)
	$(PYTEST) -m "not model and not e2e and not slow"

chromium: ## Debian chromium (browser tests) and jq (the README's commands), installed with apt when missing
	@test -x /usr/bin/chromium && command -v jq >/dev/null || (apt-get update && apt-get install -y chromium jq)

lint: install ## ruff, mypy and the import-linter contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install ## accuracy and speed benchmarks (see BENCHMARKS.md)
	$(BIN)/python bench/engine_bench.py --shared $(SHARED)

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
