# Two commands: `make run` (set up and start the demo node) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
NPM    ?= npm
# The COP page, built from web/ with packages from the npm registry (no CDN, nothing vendored).
DIST   := src/fossatum/web/dist/index.html

.PHONY: run test clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

$(DIST): web/package.json web/package-lock.json web/index.html web/vite.config.ts web/tsconfig.json $(shell find web/src -type f 2>/dev/null)
	cd web && $(NPM) ci --no-audit --no-fund && $(NPM) run build

run: $(VENV)/.installed $(DIST)
	$(BIN)/fossatum demo --host $(HOST) --port $(PORT)

test: $(VENV)/.test-installed $(DIST)
	$(BIN)/python -m pytest

bench: $(VENV)/.test-installed $(DIST)
	$(BIN)/python bench/cop_query.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/federation.py
	$(BIN)/python bench/cop_page.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .hypothesis web/node_modules src/fossatum/web/dist
