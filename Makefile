# Two commands do all the set-up (see README.md):
#   make demo   run Opsbook on SQLite, watching a bundled sample app
#   make test   run the whole test suite (ruff, mypy, pytest on SQLite and PostgreSQL)
# Each creates or reuses ./.venv itself.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/opsbook demo

test: $(STAMP)
	bash scripts/test

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .opsbook-demo .pytest_cache .mypy_cache .ruff_cache
