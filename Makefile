# The README's two commands: `make test` and `make demo`. Both set up .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FLOWS := $(filter-out flows/directory.yaml,$(wildcard flows/*.yaml))
# aws-sam-cli and checkov pin boto3 (and more) to versions that conflict with requirements-dev.txt
# and with each other, so each gets a venv of its own; tests/unit/template runs them from there.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .venv-checkov
# asl-validator (npm) checks every compiled machine beside statelint (tests/unit/compiler/test_asl_validator.py).
ASL_VALIDATOR := tests/tools/asl-validator
TOOLS := $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(ASL_VALIDATOR)/node_modules/.installed
ENV ?= default

.PHONY: setup test demo serve integration bench lint typecheck compile check-template deploy clean

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

$(SAM_VENV)/.installed: requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(ASL_VALIDATOR)/node_modules/.installed: $(ASL_VALIDATOR)/package.json $(ASL_VALIDATOR)/package-lock.json
	npm ci --prefix $(ASL_VALIDATOR) --no-audit --no-fund --loglevel=error
	touch $@

# The three venvs and the npm tool live in separate folders, so they install side by side: a fresh
# `make test` waits for the slowest install, not for the sum of them.
setup:
	$(MAKE) --no-print-directory -j4 $(STAMP) $(TOOLS)

test: setup
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m local.demo

# The HTTP API (docs/api.md) on http://127.0.0.1:$(PORT) until Ctrl-C; moto answers on
# $(MOTO_PORT) as LocalStack would, flow time runs $(TIME_SCALE) times faster.
PORT ?= 8080
MOTO_PORT ?= 4566
TIME_SCALE ?= 1
serve: $(STAMP)
	$(PY) -m local.serve --port $(PORT) --moto-port $(MOTO_PORT) --time-scale $(TIME_SCALE)

# The integration suite alone. Against the in-process local stack by default, or against a
# deployed stack: APPROVALS_TARGET=localstack|aws APPROVALS_STACK=... (README, "Two targets").
integration: $(STAMP)
	$(PY) -m pytest tests/integration

# Measurements, not tests: each handler's imports against a bare interpreter, side by side
# (bench/cold_start.py; the goal is 250 ms over bare, median of 10 rounds); one TransactWriteItems on
# 10,000 items against one on 100 (bench/transactions.py; goal 1.2x, median of 30 interleaved rounds);
# the local stack's RSS after 500 finished approvals against after 50 (bench/memory.py; goal 1.5x,
# about 15 minutes); 100 approvers deciding at once on all, quorum, percent and any steps against the
# same decisions one after another (bench/contention.py; goal 5x, lost/doubled/stranded 0); the
# example flows' expected runs under random faults, 10 rounds (bench/soak.py; lost/stranded/doubled 0).
# docs/performance.md.
bench: $(STAMP)
	$(PY) -m bench.cold_start
	$(PY) -m bench.transactions
	$(PY) -m bench.contention
	$(PY) -m bench.soak
	$(PY) -m bench.memory

# After adding or changing a flow: the definitions, then the state machines in template.yaml.
compile: $(STAMP)
	$(PY) -m dsl_compiler compile $(FLOWS) --out statemachines
	$(PY) -m dsl_compiler upgrade statemachines/*.manifest.json
	$(PY) -m dsl_compiler template --statemachines statemachines --template template.yaml

# Is everything generated up to date, and do cfn-lint, sam validate and checkov pass? (Part of `make test`.)
check-template: $(STAMP) $(TOOLS)
	$(PY) -m dsl_compiler compile $(FLOWS) --out statemachines --check
	$(PY) -m dsl_compiler upgrade statemachines/*.manifest.json --check
	$(PY) -m dsl_compiler template --statemachines statemachines --template template.yaml --check
	$(PY) -m pytest tests/unit/template

# `make deploy` (samconfig.toml's default environment) or `make deploy ENV=prod`; docs/deploy.md.
deploy: $(STAMP) $(SAM_VENV)/.installed
	$(PY) -m dsl_compiler compile $(FLOWS) --out statemachines --check
	$(PY) -m dsl_compiler template --statemachines statemachines --template template.yaml --check
	$(SAM) build --config-env $(ENV)
	$(SAM) deploy --config-env $(ENV)

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(ASL_VALIDATOR)/node_modules
