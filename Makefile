# timetracker-import — run `make help` for the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the version of $(PYTHON): a venv made with another one is rebuilt ($(PYMARK))
PYVER  := $(shell $(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null)
PYMARK := $(VENV)/.python-$(PYVER)
# a second Python for `make test-other`: the first of these that runs
OTHER_PYTHON ?= $(firstword $(foreach p,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13),$(shell $(p) -c 'print("$(p)")' 2>/dev/null)))

.DEFAULT_GOAL := help
.PHONY: help venv test test-all test-other lint typecheck demo ui bench reliability docs clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(PYMARK):
	@test -n "$(PYVER)" || { echo "error: $(PYTHON) does not run; set PYTHON=python3.X" >&2; exit 2; }
	@if [ "$$($(BIN)/python -c 'import platform; print(platform.python_version())' 2>/dev/null)" != "$(PYVER)" ]; then \
		if [ -d $(VENV) ]; then echo "$(VENV) was not made with $(PYTHON) $(PYVER): rebuilding it"; fi; \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet --upgrade pip; \
	fi
	@touch $@

$(STAMP): pyproject.toml $(PYMARK)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the project with dev dependencies

lint: $(STAMP) ## ruff: the lint rules and the format (`ruff format` fixes the latter)
	$(BIN)/ruff check timetracker_import tests bench
	$(BIN)/ruff format --check timetracker_import tests bench sample_data mappings

typecheck: $(STAMP) ## mypy --strict on the package, relaxed on the tests (pyproject.toml)
	$(BIN)/mypy timetracker_import tests

test: $(STAMP) lint typecheck ## lint, type-check and run the test suite (slow trials sampled)
	$(BIN)/python -m pytest -q

test-all: $(STAMP) ## the whole suite including slow trials
	$(BIN)/python -m pytest -q -m ''

test-other: ## the test suite on a second Python (3.13, in .venv-3.13) when one is installed
	@if [ -z "$(OTHER_PYTHON)" ]; then echo "no second Python (python3.13) installed: skipped"; else \
		$(MAKE) venv PYTHON=$(OTHER_PYTHON) VENV=.venv-3.13 && .venv-3.13/bin/python -m pytest -q; fi

demo: $(STAMP) ## the quick start on a sandbox: validate, dry run, import, runs, undo --dry-run (into out/)
	$(BIN)/timetracker-import demo --out out

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

clean: ## remove the virtualenvs and caches
	rm -rf $(VENV) .venv-3.13 .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
