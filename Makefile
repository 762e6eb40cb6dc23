# The two set-up commands: `make test` (the whole suite) and, later, `make up` (the local stack).
# The quick loop while changing code: `make check` (lint, then every test that needs no stack).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test check lint install clean-db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

EXAMPLE_FAMILY := examples/airflow-hub-container-jobs

$(STAMP): pyproject.toml $(EXAMPLE_FAMILY)/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	# The example family plugs in through its entry point, as any family package would.
	$(BIN)/pip install --quiet -e $(EXAMPLE_FAMILY)
	touch $(STAMP)

install: $(STAMP)

# HUB_EXECUTOR=celery make up: the Celery stack (Redis, two workers). Default: LocalExecutor.
up: $(STAMP)
	$(BIN)/hubctl up

# Tests run on WORKERS pytest-xdist workers, each with its own PostgreSQL. The tests that run
# Airflow's own processes share one xdist group, so one worker runs them one after another: two
# stacks at once on two cores would only make both time out.
WORKERS ?= 2
# What `make check` leaves to `make test`: the Airflow stacks, the wheel build and the fault,
# load and hostile-input suite (docs/performance.md, "Test loop", has the counts).
CHECK_SELECTION := not e2e and not wheel and not reliability

test: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS)

check: lint
	$(BIN)/pytest -n $(WORKERS) -m "$(CHECK_SELECTION)" -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean-db:
	rm -rf .hub
