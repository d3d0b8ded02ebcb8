# kerasbench: `make reproduce-all` runs every study notebook; `make test` runs the tests.
# Both install into .venv first when needed.

PYTHON_SYSTEM ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
PROFILE ?= demo
DATA_DIR ?=
TIMEOUT ?= 3600
STAMP := $(VENV)/.installed
RUNNER := $(PYTHON) -m kerasbench.notebook_runner --profile $(PROFILE) --timeout $(TIMEOUT) \
	$(if $(DATA_DIR),--data-dir $(DATA_DIR))

.PHONY: install test test-fast lint clean reproduce-all benchmarks

install: $(STAMP)

$(STAMP): requirements.txt setup.cfg pyproject.toml
	test -x $(PYTHON) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m pip install --quiet --no-deps -e .
	$(PYTHON) -m ipykernel install --sys-prefix --name kerasbench --display-name "Python (kerasbench)"
	touch $(STAMP)

test: install
	$(PYTHON) -m pytest -q --durations=15

test-fast: install
	$(PYTHON) -m pytest -q -m "not slow"

lint: install
	$(PYTHON) -m ruff check kerasbench tests benchmarks

reproduce-all: install
	$(RUNNER) --all

reproduce-%: install
	$(RUNNER) --study $*

benchmarks: install
	$(PYTHON) benchmarks/feature_cache.py
	$(PYTHON) benchmarks/head_training.py
	$(PYTHON) benchmarks/throughput.py
	$(PYTHON) benchmarks/xla_check.py

clean:
	rm -rf results .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
