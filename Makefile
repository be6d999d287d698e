# Two commands do everything: `make demo` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv demo test test-fast unit integration static lint typecheck format clean build validate bench
.PHONY: reliability scan scan-venv

help:
	@echo "make demo        run the sample job end to end on the embedded AWS emulator"
	@echo "make test        the whole suite: lint, types, template checks, unit and integration tests"
	@echo "make validate    sam validate --lint, SAM transform, cfn-lint, statelint"
	@echo "make build       sam build (needs python3.11 on PATH, no Docker)"
	@echo "make reliability the fault matrix (both state machines, a fault at every state) and deep fuzzing;"
	@echo "                 writes reliability-report.json and fuzz-report.json (~5 min)"
	@echo "make scan        checkov and cfn-lint serverless rules on template.yaml (part of make lint)"
	@echo "make bench       benchmarks and budgets: prints a table, writes bench-results.json (~16 min;"
	@echo "                 SKIP_TEST_TIME=1 skips timing make test)"

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
	$(BIN)/pytest -q -p no:cacheprovider tests/conformance tests/integration tests/aws

lint: venv scan
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The template scanners live in a venv of their own: checkov pins an older boto3 than moto and SAM need.
SCAN_VENV := .venv-scan

scan-venv: $(SCAN_VENV)/.installed

$(SCAN_VENV)/.installed: requirements-scan.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.lock
	@touch $@

scan: scan-venv
	bash scripts/scan-template.sh

# Every cell of the fault matrix, in two worker processes, then the fuzz tests with many random examples.
reliability: venv
	$(BIN)/emr-autopilot local reliability --full --report reliability-report.json
	rm -f fuzz-report.json
	FUZZ_PROFILE=deep FUZZ_REPORT=fuzz-report.json $(BIN)/pytest -q -p no:cacheprovider tests/unit/test_fuzz_*.py

typecheck: venv
	$(BIN)/mypy

validate: venv
	bash scripts/lint-template.sh

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

build: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/sam build

# Benchmarks and their budgets (README, Performance). BENCH_ARGS passes options, e.g. --only coldstart.
bench: venv
	$(BIN)/python -m emr_autopilot_devkit.bench $(if $(SKIP_TEST_TIME),--skip-test-time) $(BENCH_ARGS)

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-report.json reliability-report.json fuzz-report.json
