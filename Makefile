# The two set-up commands: `make test` (the whole suite) and, later, `make up` (the local stack).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint install clean-db

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

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean-db:
	rm -rf .hub
