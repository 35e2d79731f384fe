# The two README commands: `make book` (the main job) and `make test`.
# Everything the project needs is installed into .venv by these targets.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Offline and quiet: no Hugging Face hub look-ups, no Ray telemetry.
TEST_ENV := PHANTOM_PROFILE=smoke HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
            RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=disabled

.PHONY: install book book-smoke test test-unit test-notebooks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -e '.[all]'
	@touch $(STAMP)

book: install          ## execute every notebook (full profile) and build the HTML book
	RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=disabled $(BIN)/phantom book --profile full
	@echo "HTML: $(CURDIR)/_build/html/index.html"

book-smoke: install    ## the same with the fast smoke profile
	RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=disabled $(BIN)/phantom book --profile smoke
	@echo "HTML: $(CURDIR)/_build/html/index.html"

test: install          ## unit tests, every notebook under nbval (smoke), and a smoke book build
	$(TEST_ENV) $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env

test-unit: install     ## unit tests only (skips the slow book build)
	$(TEST_ENV) $(BIN)/python -m pytest tests -m "not slow"

test-notebooks: install
	$(TEST_ENV) $(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env

clean:
	rm -rf _build book/chapters .pytest_cache
