# The habits: demo, test, lint, bench, serve. Each creates .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUNTIME := $(VENV)/.installed-runtime
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test test-fast lint bench serve clean install dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(STAMP_RUNTIME)

install: $(STAMP_RUNTIME)
dev: $(STAMP_DEV)

demo: $(STAMP_RUNTIME)
	$(BIN)/fairshare demo

test: $(STAMP_DEV)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP_DEV)
	$(BIN)/python -m pytest tests/unit -q

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/fairshare

bench: $(STAMP_DEV)
	$(BIN)/python -m bench.run

serve: $(STAMP_RUNTIME)
	$(BIN)/fairshare serve

clean:
	rm -rf $(VENV) var/fairshare.sqlite3* var/synth .pytest_cache  # keeps var/keys: losing it loses health data
