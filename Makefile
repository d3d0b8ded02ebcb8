# kerasbench: `make reproduce-all` runs every study notebook; `make test` runs the tests.
# Both install into .venv first when needed. Each reproduce target calls the `kerasbench`
# command (see `kerasbench --help`); results go to ./results/<profile>/<study>/.

PYTHON_SYSTEM ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
KERASBENCH := $(VENV)/bin/kerasbench
PROFILE ?= demo
DATA_DIR ?=
TIMEOUT ?= 3600
# Studies run at once by reproduce-all, each in its own process: much of a demo study is
# single-threaded Python (building and tracing models), so two overlap well on 2 cores.
JOBS ?= 2
STAMP := $(VENV)/.installed
RUN := $(KERASBENCH) run --profile $(PROFILE) --timeout $(TIMEOUT)

.PHONY: install test test-fast lint clean reproduce-all report benchmarks

install: $(STAMP)

# requirements.txt pins the versions tested together (tensorflow-cpu on CPU); the package
# itself goes in editable with --no-deps so the pins stay as they are.
$(STAMP): requirements.txt setup.cfg setup.py pyproject.toml
	test -x $(PYTHON) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m pip install --quiet --no-deps -e .
	$(KERASBENCH) kernel install --sys-prefix
	touch $(STAMP)

# Test processes (pytest-xdist): much of a test is single-threaded tracing, so two
# overlap well on 2 cores; TEST_JOBS=0 runs the suite in this process.
TEST_JOBS ?= 2

test: install
	$(PYTHON) -m pytest -q --durations=15 $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS))

test-fast: install
	$(PYTHON) -m pytest -q -m "not slow" $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS))

lint: install
	$(PYTHON) -m ruff check kerasbench tests benchmarks

# DATA_DIR: the folder that holds each study's dataset (looked up by the profile's name).
reproduce-all: install
	$(RUN) --all --jobs $(JOBS) $(if $(DATA_DIR),--data-root $(DATA_DIR))

# DATA_DIR: this study's dataset folder (a name is looked up under KERASBENCH_DATA_ROOT).
reproduce-%: install
	$(RUN) $* $(if $(DATA_DIR),--data-dir $(DATA_DIR))

report: install
	$(KERASBENCH) report results

benchmarks: install
	$(PYTHON) benchmarks/feature_cache.py
	$(PYTHON) benchmarks/head_training.py
	$(PYTHON) benchmarks/throughput.py
	$(PYTHON) benchmarks/xla_check.py

clean:
	rm -rf results .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
