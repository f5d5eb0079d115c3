# Two commands: `make run` (set up and start the demo node) and `make test` (the whole suite).
# `make lock` re-resolves requirements.lock after a change of pyproject.toml's dependencies.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Every Python package the venv gets (runtime, postgres and test extras, the build backend) is
# pinned with its hashes here; pip refuses anything else (--require-hashes).
LOCK   := requirements.lock
# The lock tool lives in a venv of its own, so that it never enters the locked environment.
UV_VERSION := 0.13.8
LOCKENV    := .venv-lock
HOST   ?= 127.0.0.1
PORT   ?= 8000
NPM    ?= npm
# The COP page, built from web/ with packages from the npm registry (no CDN, nothing vendored).
DIST   := src/fossatum/web/dist/index.html

.PHONY: run test clean bench lock api-types

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The locked packages with their hashes, then Fossatum itself without resolving anything
# (--no-deps) and built with the locked setuptools (--no-build-isolation: no unpinned download).
$(VENV)/.installed: $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(LOCKENV)/bin/uv:
	$(PYTHON) -m venv $(LOCKENV)
	$(LOCKENV)/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'

# One lock for every platform (--universal) and Python >= 3.11, hashes of every file. Pins already
# in the lock are kept unless needed otherwise; `make lock UPGRADE=1` moves everything to the newest.
lock: $(LOCKENV)/bin/uv
	$(PYTHON) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
	  > $(LOCKENV)/build-system.in
	$(LOCKENV)/bin/uv pip compile --quiet pyproject.toml $(LOCKENV)/build-system.in \
	  --extra postgres --extra test --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade) -o $(LOCK)

# The page's API types are generated from the API's OpenAPI document, committed as web/openapi.json
# (tests/test_openapi.py fails when the API has changed without it): `make api-types` renews both.
api-types: $(VENV)/.installed
	$(BIN)/python -m fossatum.api.openapi > web/openapi.json
	cd web && $(NPM) run api-types

$(DIST): web/package.json web/package-lock.json web/index.html web/vite.config.ts web/tsconfig.json web/openapi.json $(shell find web/src -type f 2>/dev/null)
	cd web && $(NPM) ci --no-audit --no-fund && $(NPM) run build

run: $(VENV)/.installed $(DIST)
	$(BIN)/fossatum demo --host $(HOST) --port $(PORT)

# Lint and type-check first (rules in pyproject.toml, [tool.ruff] and [tool.mypy]): a finding fails
# the target before any test runs.
test: $(VENV)/.installed $(DIST)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(VENV)/.installed $(DIST)
	$(BIN)/python bench/cop_query.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/federation.py
	$(BIN)/python bench/cop_page.py

clean:
	rm -rf $(VENV) $(LOCKENV) demo-data .pytest_cache .hypothesis web/node_modules src/fossatum/web/dist
