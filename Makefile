# Two commands that work on a fresh clone:
#   make quickstart   set up .venv and train + evaluate + export a reward model on the built-in suite (CPU, minutes)
#   make test         set up .venv and run the default test suite
#   make lint         ruff: lint and formatting check (CI runs it before the tests)
PYTHON ?= python3
VENV ?= .venv
# CPU build by default; on a GPU machine use e.g. TORCH_SPEC="torch" (any version >= 2.4 works).
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup quickstart test test-slow lint format clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

quickstart: setup
	$(BIN)/rewardkit quickstart

test: setup
	$(BIN)/python -m pytest

test-slow: setup
	$(BIN)/python -m pytest -m slow

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: setup
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
