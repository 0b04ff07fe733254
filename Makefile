# Everything builds a local virtualenv from the project's own metadata first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint run bench calibrate clean

demo: $(STAMP) ## Run the service on synthetic traffic and show the dashboard
	$(BIN)/mlmon demo

test: $(STAMP) ## Lint, type-check, check the layers and run the test suite against a real Redis
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP) ## Benchmarks against a private redis-server; writes benchmarks/results.json
	$(BIN)/python -m compileall -q worker producer_sdk benchmarks
	$(BIN)/python benchmarks/run.py

calibrate: $(STAMP) ## False-alarm rates and detection power of the drift checks; writes benchmarks/drift_calibration.json
	$(BIN)/python -m benchmarks.drift_calibration

run: $(STAMP) ## Run every consumer group and RQ worker, supervised, until interrupted
	$(BIN)/mlmon up

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q worker producer_sdk  # read at every start, even where PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
