# Two commands: `make demo` and `make test`. Everything lands in .venv; nothing is installed
# outside the repository.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
EDITABLES := -e . $(foreach p,$(PLUGIN_DIRS),-e $(p))
# Extras the test suite exercises (Great Expectations, dbt, Airflow) besides the test tools.
TEST_EXTRAS ?= test,gx,dbt,airflow
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

install: $(VENV)/.installed

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[$(TEST_EXTRAS)]" $(foreach p,$(PLUGIN_DIRS),-e $(p))
	rm -rf src/*.egg-info plugins/*/src/*.egg-info
	$(BIN)/pip check
	touch $@

install-test: $(VENV)/.installed-test

demo: install
	@rm -rf demo-output && mkdir -p demo-output
	SYNTHPIPE_HOME=demo-output/.synthpipe $(BIN)/synthpipe run dags/pipelines/ratdat_demo.yaml
	@echo
	@echo "Synthetic data:  demo-output/ratdat.duckdb (DuckDB, schema main)"
	@echo "                 demo-output/parquet/*.parquet"
	@echo "Artifacts:       demo-output/.synthpipe (SYNTHPIPE_HOME=demo-output/.synthpipe synthpipe datasets list)"
	@ls demo-output/.synthpipe/datasets/*/qa_report.html 2>/dev/null | sed "s/^/QA report:       /" || true

test: install-test
	GX_ANALYTICS_ENABLED=False DO_NOT_TRACK=1 $(BIN)/pytest $(PYTEST_ARGS)

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
