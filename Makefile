# The README's two commands: `make test` and `make demo`. Both set up .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FLOWS := $(filter-out flows/directory.yaml,$(wildcard flows/*.yaml))

.PHONY: test demo serve lint typecheck compile clean

$(STAMP): requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m local.demo

compile: $(STAMP)
	$(PY) -m dsl_compiler compile $(FLOWS) --out statemachines

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

clean:
	rm -rf $(VENV)
