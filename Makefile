# Two commands do everything: `make demo` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv demo test test-fast unit integration static lint typecheck format clean build validate bench
.PHONY: reliability scan scan-venv complex browser

# `make help` prints every target with its `##` line (tests/static/test_makefile.py checks none is missing).
help: ## this list
	@awk -F':.*## ' '/^[a-z][a-z-]*:.*## / { printf "make %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

venv: $(VENV)/.installed ## create .venv from requirements-dev.lock (the runtime, the local runtime and dev tools)

# The lock pins everything a developer needs: the CLI's dependencies, the `local` and `spark` extras
# and the dev tools; the package itself goes in editable, with no resolution of its own.
$(VENV)/.installed: requirements-dev.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e '.[local,spark]'
	@touch $@

demo: venv ## run the sample job end to end on the local runtime; writes demo-report.json and runs.html
	$(BIN)/emr-autopilot local demo --report demo-report.json

test: lint typecheck complex validate static unit integration ## the whole suite: lint, types, complexity, template checks, static, unit and integration tests

test-fast: venv ## unit and static tests only, stop at the first failure
	$(BIN)/pytest -q -x tests/unit tests/static

unit: venv ## unit tests
	$(BIN)/pytest -q tests/unit

static: venv ## static tests: the template, the layer build, packaging, the Makefile and the test layout
	$(BIN)/pytest -q tests/static

integration: venv ## conformance and integration tests on the local runtime (the aws tests skip without a stack)
	$(BIN)/pytest -q -p no:cacheprovider tests/conformance tests/integration tests/aws

lint: venv scan ## ruff check, ruff format --check, and the template scans
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The template scanners live in a venv of their own: checkov pins an older boto3 than moto and SAM need.
SCAN_VENV := .venv-scan

scan-venv: $(SCAN_VENV)/.installed ## create .venv-scan from requirements-scan.lock (checkov, cfn-lint serverless rules)

$(SCAN_VENV)/.installed: requirements-scan.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.lock
	@touch $@

scan: scan-venv ## checkov and cfn-lint serverless rules on template.yaml (part of make lint)
	bash scripts/scan-template.sh

# Every cell of the fault matrix, in two worker processes, then the fuzz tests with many random examples.
reliability: venv ## the fault matrix and deep fuzzing; writes reliability-report.json, fuzz-report.json (~5 min)
	$(BIN)/emr-autopilot local reliability --full --report reliability-report.json
	rm -f fuzz-report.json
	FUZZ_PROFILE=deep FUZZ_REPORT=fuzz-report.json $(BIN)/pytest -q -p no:cacheprovider tests/unit/test_fuzz_*.py

# The runs page's browser test (tests/integration/test_runs_page_browser.py) renders it in Debian's Chromium;
# without it that test skips, unless EMR_AUTOPILOT_REQUIRE_BROWSER=1 (as in .ci/run) makes it fail.
browser: ## install Debian's chromium (apt-get, as root or with sudo) when /usr/bin/chromium is missing
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null)"; else \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; fi

typecheck: venv ## mypy
	$(BIN)/mypy

validate: venv ## template checks: sam validate --lint, SAM transform, cfn-lint, statelint
	bash scripts/lint-template.sh

# No block (function, method, class) worse than rank C in cyclomatic complexity (radon's ranks: C is 11-20).
complex: venv ## complexity gate: xenon, no block worse than C in layers/shared and devkit
	$(BIN)/xenon --max-absolute C layers/shared devkit

format: venv ## ruff format and ruff check --fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

build: venv ## sam build (needs python3.11 on PATH, no Docker)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/sam build

# Benchmarks and their budgets (docs/performance.md). BENCH_ARGS passes options, e.g. --only coldstart.
bench: venv ## benchmarks and budgets, writes bench-results.json (~16 min; SKIP_TEST_TIME=1 skips timing make test)
	$(BIN)/python -m emr_autopilot_devkit.bench $(if $(SKIP_TEST_TIME),--skip-test-time) $(BENCH_ARGS)

clean: ## remove build output, caches and reports
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-report.json runs.html reliability-report.json fuzz-report.json
