# cryptoquant — the two commands that matter: `make demo` and `make test`.
# Everything they need (virtual environments, MariaDB, Kafka, browser for UI tests) is set up
# by the targets below on first use and skipped in seconds when already done.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
DBT_VENV := .venv-dbt
CQ := $(VENV)/bin/cryptoquant
PYTEST_ARGS ?=

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export SPARK_LOCAL_IP := 127.0.0.1
export PYTHONUNBUFFERED := 1

.PHONY: help setup demo test lint unit stack-up stack-down stack-status pipeline serve \
        dbt-parse docs bench airflow airflow-down lock clean browser

help:  ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-14s %s\n", $$1, $$2}'

# ---- set-up ------------------------------------------------------------------------------
$(VENV)/.installed: requirements/app.lock.txt pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements/app.lock.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	@touch $@

$(DBT_VENV)/.installed: requirements/dbt.lock.txt
	@test -x $(DBT_VENV)/bin/python || $(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/pip install -q --upgrade pip
	$(DBT_VENV)/bin/pip install -q -r requirements/dbt.lock.txt
	@touch $@

browser:  ## Install Debian's Chromium for the dashboard's browser tests (root only)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium" >&2; exit 1; fi; }

setup: $(VENV)/.installed $(DBT_VENV)/.installed browser  ## Create both virtual environments (idempotent)

dbt-parse: setup  ## Write target/manifest.json (used by Airflow/Cosmos)
	$(CQ) dbt parse --quiet

# ---- the local stack -------------------------------------------------------------------
stack-up: setup  ## Start MariaDB + Kafka under .stack/ (installs them on first use)
	$(CQ) stack up

stack-down:  ## Stop what stack-up started
	$(CQ) stack down

stack-status:  ## Show what runs and how to connect
	$(CQ) stack status

# ---- the two commands ---------------------------------------------------------------------
demo: stack-up dbt-parse  ## Set up, start the stack, run the pipeline on the bundled data, serve the dashboard
	$(CQ) pipeline run
	$(CQ) serve

test: stack-up dbt-parse lint  ## Set up, start the stack, lint, run the whole test suite
	$(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: setup  ## ruff over the Python code
	$(VENV)/bin/ruff check .

# ---- everything else ----------------------------------------------------------------------
pipeline: stack-up dbt-parse  ## Run the pipeline only
	$(CQ) pipeline run

serve: setup  ## Serve the API and dashboard
	$(CQ) serve

docs: stack-up  ## dbt docs generate (target/index.html)
	$(CQ) dbt docs generate

bench: stack-up dbt-parse  ## Run all benchmarks and rewrite docs/benchmarks.md
	$(VENV)/bin/python -m bench

airflow: stack-up dbt-parse  ## Start a local Airflow (api-server, scheduler, dag-processor); prints the UI address
	$(VENV)/bin/python -m cryptoquant.airflow_local up

airflow-down:  ## Stop the local Airflow (by PID)
	$(VENV)/bin/python -m cryptoquant.airflow_local down

lock:  ## Re-resolve requirements/*.in into the lock files
	rm -rf /tmp/cq-lock && $(PYTHON) -m venv /tmp/cq-lock && /tmp/cq-lock/bin/pip install -q -r requirements/app.in \
	  && /tmp/cq-lock/bin/pip freeze > requirements/app.lock.txt
	rm -rf /tmp/cq-lock && $(PYTHON) -m venv /tmp/cq-lock && /tmp/cq-lock/bin/pip install -q -r requirements/dbt.in \
	  && /tmp/cq-lock/bin/pip freeze > requirements/dbt.lock.txt

clean: airflow-down stack-down  ## Stop the stack and remove generated files (keeps the venvs)
	rm -rf .stack target logs
