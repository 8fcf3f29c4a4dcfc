# Two commands: `make demo` and `make test`. Everything lands in .venv; nothing is installed
# outside the repository.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
EDITABLES := -e . $(foreach p,$(PLUGIN_DIRS),-e $(p))
# Extras the test suite exercises (Great Expectations, dbt, Airflow) besides the test tools.
TEST_EXTRAS ?= test,gx,dbt,airflow
# Extras the demo (and `synthpipe run` with its default validation) uses: Great Expectations,
# dbt, Airflow.
DEMO_EXTRAS ?= gx,dbt,airflow
# `make test` runs the suite in parallel with pytest-xdist: PYTEST_WORKERS processes (auto: one
# per core). tests/conftest.py keeps each test module, and the modules sharing an expensive
# fixture, on one worker; every worker has its own AIRFLOW_HOME, SYNTHPIPE_HOME, tmp folders
# and database/bucket names. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=

.PHONY: install install-test demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools

# Core plus every plugin distribution under plugins/, editable.
$(VENV)/.installed: $(BIN)/python pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(BIN)/pip install -q $(EDITABLES)
	rm -rf src/*.egg-info plugins/*/src/*.egg-info  # stale copies would declare entry points twice
	touch $@

# What the demo runs on: the core and plugins plus the extras above.
$(VENV)/.installed-demo: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[$(DEMO_EXTRAS)]" $(foreach p,$(PLUGIN_DIRS),-e $(p))
	rm -rf src/*.egg-info plugins/*/src/*.egg-info
	$(BIN)/pip check
	touch $@

install: $(VENV)/.installed-demo

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[$(TEST_EXTRAS)]" $(foreach p,$(PLUGIN_DIRS),-e $(p))
	rm -rf src/*.egg-info plugins/*/src/*.egg-info
	$(BIN)/pip check
	touch $@

install-test: $(VENV)/.installed-test

# The refresh DAG with `airflow dags test` (SQLite metadata DB in a temporary AIRFLOW_HOME),
# then `dbt build` of dbt_project/ on what it delivered; everything under demo-output/.
demo: install
	$(BIN)/python -m synthpipe.demo_run

test: install-test
	GX_ANALYTICS_ENABLED=False DO_NOT_TRACK=1 $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup \
		--durations=10 $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests plugins bench dags

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format src tests plugins bench dags

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo-output .synthpipe .pytest_cache .ruff_cache
