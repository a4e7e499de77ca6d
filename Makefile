# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed markers: reinstall (and rebuild the C matcher) when the build's inputs change.
BUILD_INPUTS := pyproject.toml setup.py engine/_fastmatch.c engine/_fastwire.c

$(VENV)/.installed: $(BUILD_INPUTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BUILD_INPUTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: $(BUILD_INPUTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $@ $(VENV)/.installed $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(BIN)/routeconsole demo_app

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-bench
	$(BIN)/python tests/benchmarks/bench_match.py
	$(BIN)/python tests/benchmarks/bench_serve.py
	$(BIN)/python tests/benchmarks/bench_reload.py
	$(BIN)/python tests/benchmarks/bench_console.py
	$(BIN)/python tests/benchmarks/bench_console_serving.py --pin
	$(BIN)/python tests/benchmarks/bench_console_latency.py
	$(BIN)/python tests/benchmarks/bench_match_bar.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build engine/*.so
