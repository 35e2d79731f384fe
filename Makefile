# The two README commands: `make book` (the main job) and `make test`.
# Everything the project needs is installed into .venv by these targets.

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium

# Offline and quiet: no Hugging Face hub look-ups, no Ray telemetry. JAX keeps the programs it
# compiles in TEST_CACHE, so that the processes of one test run (pytest, the notebooks' kernels, the
# smoke book build's) compile each program once; `make test` empties it first, so every run starts
# cold and no program outlives the code that made it.
TEST_CACHE := $(CURDIR)/.cache/jax-test
TEST_ENV := PHANTOM_PROFILE=smoke HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
            RAY_USAGE_STATS_ENABLED=0 JAX_COMPILATION_CACHE_DIR=$(TEST_CACHE)

# `make lab`: JupyterLab opens a chapter's .md source as a notebook (jupytext's viewer by default);
# LAB_ARGS adds options, e.g. `make lab LAB_ARGS=--port=8890`.
LAB_SETTINGS := $(CURDIR)/.jupyter/lab/settings
LAB_ARGS     ?=

.PHONY: install browser book book-smoke check-book lab lint test test-unit test-notebooks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -e '.[all]'
	@touch $(STAMP)

# Debian's chromium for the browser check (Playwright's own browser download cannot work on
# these machines). Installed with apt-get when missing and root; otherwise the check is skipped.
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser check"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "note: no $(CHROMIUM) and not root: the browser check will be skipped (apt-get install chromium)"; \
	fi

book: install          ## execute every notebook (full profile) and build the HTML book
	RAY_USAGE_STATS_ENABLED=0 $(BIN)/phantom book --profile full
	@echo "HTML: $(CURDIR)/_build/html/index.html"

book-smoke: install    ## the same with the fast smoke profile
	RAY_USAGE_STATS_ENABLED=0 $(BIN)/phantom book --profile smoke
	@echo "HTML: $(CURDIR)/_build/html/index.html"

lab: install            ## JupyterLab on this checkout: notebooks/NN_*.md open as notebooks
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.app_settings_dir=$(LAB_SETTINGS) \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

check-book: install browser  ## open every page of the last build (_build/html) in headless Chromium
	$(BIN)/python -m phantom_lib.book.browser _build/html --screenshots _build/screenshots

lint: install           ## ruff (pyflakes, pycodestyle, import order, 120 columns) and mypy (strict on sim/ and study/)
	$(BIN)/ruff check phantom_lib tests
	$(BIN)/mypy

test: install browser lint  ## lint, unit tests, every notebook under nbval (smoke), a smoke book build, the browser check
	rm -rf $(TEST_CACHE)
	$(TEST_ENV) $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env --durations=25

test-unit: install lint  ## lint and the unit tests (skips the slow book build)
	$(TEST_ENV) $(BIN)/python -m pytest tests -m "not slow"

test-notebooks: install
	$(TEST_ENV) $(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env

clean:
	rm -rf _build book/chapters .pytest_cache
