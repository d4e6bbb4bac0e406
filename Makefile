# The two commands: `make run` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
JS     := clients/js
APP    := clients/app
# package=the file it installs. Running: chromium (draws the PDF and PNG reports of dashboards).
# Testing: chromium (browser tests), nginx-light (the reverse-proxy test), docker-compose
# (validates docker-compose.yml; no Docker engine needed), poppler-utils (reads the reports' PDFs)
RUN_PACKAGES := chromium=/usr/bin/chromium
TEST_PACKAGES := chromium=/usr/bin/chromium nginx-light=/usr/sbin/nginx docker-compose=/usr/bin/docker-compose \
                 poppler-utils=/usr/bin/pdftoppm

.PHONY: help install es-resolve js js-test app app-test run-tools test-tools run test lint format unit clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Metronome with its test tools

es-resolve: install  ## resolve the embedded Elasticsearch from Maven Central (once; cached)
	$(BIN)/metronome es resolve

$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(JS)/dist/metronome.js: $(JS)/node_modules/.installed $(wildcard $(JS)/src/*.js) $(JS)/types/index.d.ts $(JS)/scripts/build.mjs
	cd $(JS) && npm run --silent build

js: $(JS)/dist/metronome.js  ## build the browser snippet (clients/js/dist), served at /metronome.js

js-test: js  ## the snippet's own tests: node unit tests, type check, size budget
	cd $(JS) && npm test --silent

$(APP)/node_modules/.installed: $(APP)/package.json $(APP)/package-lock.json
	cd $(APP) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(APP)/dist/manifest.json: $(APP)/node_modules/.installed $(wildcard $(APP)/src/*) $(APP)/scripts/build.mjs
	cd $(APP) && npm run --silent build

app: $(APP)/dist/manifest.json  ## build the browser app (clients/app/dist), served at /

app-test: app  ## the app's own tests: node unit tests, type check, size budget
	cd $(APP) && npm test --silent

run-tools:  ## Debian packages Metronome uses: chromium for PDF/PNG reports (apt-get when missing)
	@missing=$$(for entry in $(RUN_PACKAGES); do test -x "$${entry#*=}" || echo "$${entry%%=*}"; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "PDF and PNG reports need Debian's" $$missing "(sudo apt-get install" $$missing"); Metronome starts without them." >&2; fi; fi

test-tools:  ## Debian packages the tests use: chromium, nginx, docker-compose, poppler-utils (apt-get when missing)
	@missing=$$(for entry in $(TEST_PACKAGES); do test -x "$${entry#*=}" || echo "$${entry%%=*}"; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "The tests need Debian's" $$missing ": sudo apt-get install" $$missing >&2; exit 1; fi; fi

run: es-resolve js app run-tools  ## start the embedded Elasticsearch and Metronome on 127.0.0.1:8080
	$(BIN)/metronome serve

lint: install  ## ruff, mypy and the package's layering (.importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint es-resolve js-test app-test test-tools  ## the whole suite: lint, JS tests, unit, integration, e2e (real Elasticsearch, Chromium, nginx)
	$(BIN)/pytest

unit: install  ## only the pure, fast tests
	$(BIN)/pytest tests/unit

clean:  ## remove the virtualenv, the resolved Elasticsearch and all local data
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache $(JS)/node_modules $(JS)/dist \
	       $(APP)/node_modules $(APP)/dist $(APP)/build-test
