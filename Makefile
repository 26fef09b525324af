# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
DEMO_STAMP := $(VENV)/.installed-demo
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-fast lint sse-server sse-client screenshots redis-server chromium

$(BIN)/pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# What the demo needs: the two commands and their dependencies, nothing for development.
$(DEMO_STAMP): pyproject.toml | $(BIN)/pip
	$(BIN)/pip install -q -e .
	touch $@

# Everything: the Redis backend, the test tools, ruff, the bench's baseline.
$(DEV_STAMP): pyproject.toml | $(BIN)/pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/sse-monitor --demo

test: $(DEV_STAMP) redis-server chromium
	$(BIN)/ruff check .
	$(BIN)/pytest

# The everyday lane, under three minutes: no soak, fuzzing, Redis or benchmark smoke tests, in 2
# workers (the full suite runs serially, as CI does, so its timing-sensitive tests run alone).
test-fast: $(DEV_STAMP)
	$(BIN)/pytest -m "not slow" -n 2

# The Redis backend's tests start their own redis-server: install Debian's when it is missing.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
redis-server:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server (apt-get) for the Redis backend's tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

# The browser tests (tests/browser) drive Debian's headless Chromium: install it when missing.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (apt-get) for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

sse-server: $(DEMO_STAMP)
	$(BIN)/sse-demo-server

sse-client: $(DEMO_STAMP)
	$(BIN)/sse-monitor --plain

screenshots: $(DEV_STAMP) chromium
	$(BIN)/python screenshots/make_screenshots.py
	$(BIN)/python screenshots/web_screenshot.py
