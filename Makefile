# Two commands do everything: `make demo` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv demo test test-fast unit integration static lint typecheck format clean build validate

help:
	@echo "make demo        run the sample job end to end on the embedded AWS emulator"
	@echo "make test        the whole suite: lint, types, template checks, unit and integration tests"
	@echo "make validate    sam validate --lint, SAM transform, cfn-lint, statelint"
	@echo "make build       sam build (needs python3.11 on PATH, no Docker)"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

demo: venv
	$(BIN)/emr-autopilot local demo --report demo-report.json

test: lint typecheck static unit integration

test-fast: venv
	$(BIN)/pytest -q -x tests/unit tests/static

unit: venv
	$(BIN)/pytest -q tests/unit

static: venv
	bash scripts/lint-template.sh
	$(BIN)/pytest -q tests/static

integration: venv
	$(BIN)/pytest -q -p no:cacheprovider tests/integration tests/aws

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

validate: venv
	bash scripts/lint-template.sh

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

build: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/sam build

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-report.json
