# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint sse-server sse-client screenshots redis-server

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sse-monitor --demo

test: $(STAMP) redis-server
	$(BIN)/ruff check .
	$(BIN)/pytest

# The Redis backend's tests start their own redis-server: install Debian's when it is missing.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
redis-server:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server (apt-get) for the Redis backend's tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .

sse-server: $(STAMP)
	$(BIN)/sse-demo-server

sse-client: $(STAMP)
	$(BIN)/sse-monitor --plain

screenshots: $(STAMP)
	$(BIN)/python screenshots/make_screenshots.py
