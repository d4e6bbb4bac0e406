# The two commands: `make run` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
JS     := clients/js
CHROMIUM := /usr/bin/chromium

.PHONY: help install es-resolve js js-test browser nginx run test lint format unit clean

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

browser:  ## Debian's chromium for the browser tests (installed with apt-get when missing)
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

nginx:  ## Debian's nginx for the reverse-proxy test of config/nginx.conf (apt-get when missing)
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; \
	  else echo "The reverse-proxy test needs Debian's nginx: sudo apt-get install nginx-light" >&2; exit 1; fi; }

run: es-resolve js  ## start the embedded Elasticsearch and Metronome on 127.0.0.1:8080
	$(BIN)/metronome serve

lint: install  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint es-resolve js-test browser nginx  ## the whole suite: lint, JS tests, unit, integration, e2e (real Elasticsearch, Chromium)
	$(BIN)/pytest

unit: install  ## only the pure, fast tests
	$(BIN)/pytest tests/unit

clean:  ## remove the virtualenv, the resolved Elasticsearch and all local data
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache $(JS)/node_modules $(JS)/dist
