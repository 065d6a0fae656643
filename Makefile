# timetracker-import — run `make help` for the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test test-all lint typecheck demo ui bench reliability docs clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the project with dev dependencies

lint: $(STAMP) ## ruff
	$(BIN)/ruff check timetracker_import tests bench

typecheck: $(STAMP) ## mypy on the package
	$(BIN)/mypy timetracker_import

test: $(STAMP) lint typecheck ## lint, type-check and run the test suite (slow trials sampled)
	$(BIN)/python -m pytest -q

test-all: $(STAMP) ## the whole suite including slow trials
	$(BIN)/python -m pytest -q -m ''

demo: $(STAMP) ## validate, then dry-run and import sample_data into a sandbox (mistakes give exit 1)
	@mkdir -p out
	$(BIN)/timetracker-import validate sample_data/payroll_hours.xlsx --preset payroll-demo \
		--rejected out/payroll_hours.rejected.xlsx \
		--report out/payroll_hours.report.html || test $$? -eq 1
	$(BIN)/python -m timetracker_import.app.demo out

ui: $(STAMP) ## the web app on a fresh sandbox with a demo file (prints the link; Ctrl-C stops)
	$(BIN)/python -m timetracker_import.ui.demo $(UI_ARGS)

reliability: $(STAMP) ## fault scenarios, hostile inputs, secrets, 300 crash trials under CPU contention + 100 idle; prints a table
	$(BIN)/python -m tests.reliability.report --trials 300 --idle-trials 100 --jobs 2

bench: $(STAMP) ## the benchmark scripts (validate 1M rows; import at three sizes, a finite-capacity and a rate-limited sandbox; export 100k worklogs)
	$(BIN)/python bench/bench_validate.py
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_export.py

docs: $(STAMP) ## regenerate docs/cli.md from the commands' --help
	$(BIN)/python -m timetracker_import.cli.reference > docs/cli.md

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
