# The two commands of the README: `make dev` serves all three functions, `make test` checks everything.
# `make package` builds the deploy packages under dist/ (the Cloud Build pipeline runs it too).
# `make bench` measures each function against the bare framework in one run (bench/, docs/performance.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
# relman (cli/), installed into .venv as users install it (not editable), for tests/cli to run as a command.
CLI_STAMP := $(VENV)/.relman-installed
CLI_SOURCES := cli/pyproject.toml $(wildcard cli/src/relman/*.py cli/src/relman/commands/*.py)
# Spectral (npm), for `make lint-api`; installed under .tools/ (ignored by git) when Node is present.
SPECTRAL_VERSION := 6.16.3
TOOLS := .tools
SPECTRAL_STAMP := $(TOOLS)/.spectral-$(SPECTRAL_VERSION)
# axe-core (npm), which the console's browser tests run in each page; its own folder, so that npm
# does not prune Spectral.
AXE_VERSION := 4.14.1
AXE_STAMP := $(TOOLS)/axe/.axe-core-$(AXE_VERSION)
NODE := $(shell command -v node 2>/dev/null)
export PYTHONPATH := $(CURDIR)

.PHONY: dev test lint lint-api typecheck security docs clean package fuzz bench

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

$(CLI_STAMP): $(STAMP) $(CLI_SOURCES)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check ./cli
	@rm -rf cli/build
	@touch $(CLI_STAMP)

$(CHECKOV_STAMP): .ci/requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r .ci/requirements-checkov.txt
	@touch $(CHECKOV_STAMP)

dev: $(STAMP)
	$(BIN)/python -m shared.devserver

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

$(SPECTRAL_STAMP):
	npm install --prefix $(TOOLS) --no-audit --no-fund --silent --no-save @stoplight/spectral-cli@$(SPECTRAL_VERSION)
	@touch $(SPECTRAL_STAMP)

# Spectral's OpenAPI ruleset (.spectral.yaml) over the documents exactly as the functions serve them.
$(AXE_STAMP):
	npm install --prefix $(TOOLS)/axe --no-audit --no-fund --silent --no-save axe-core@$(AXE_VERSION)
	@touch $(AXE_STAMP)

lint-api: $(STAMP) $(SPECTRAL_STAMP)
	LOG_LEVEL=WARNING $(BIN)/python -m shared.devserver documents $(TOOLS)/openapi >/dev/null
	$(TOOLS)/node_modules/.bin/spectral lint --fail-severity warn --quiet $(TOOLS)/openapi/*.json

typecheck: $(STAMP)
	MYPYPATH=cli/src $(BIN)/mypy shared functions cli/src

# The documentation site (mkdocs.yml): strict, so a broken link or anchor fails.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir .site

security: $(STAMP)
	$(BIN)/bandit --quiet --recursive --severity-level medium shared functions cli/src

# lint-api runs where Node is installed (`make test` says when it is skipped).
test: lint typecheck security docs $(if $(NODE),lint-api $(AXE_STAMP)) $(CHECKOV_STAMP) $(CLI_STAMP)
	@$(if $(NODE),,echo "make test: no node here, so Spectral (make lint-api) is skipped")
	CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(BIN)/python -m pytest $(PYTEST_ARGS)

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} FUZZ_PHASES=$${FUZZ_PHASES:-examples,coverage,fuzzing,stateful} \
		LOAD_SECONDS=$${LOAD_SECONDS:-60} $(BIN)/python -m pytest tests/fuzz tests/load $(PYTEST_ARGS)

$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@touch $(BENCH_STAMP)

# Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379; BENCH_ARGS=--quick for a smoke run.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

package: $(STAMP)
	$(BIN)/python .ci/package.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(TOOLS) .data dist .pytest_cache .mypy_cache .ruff_cache
