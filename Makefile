# The two commands: `make run` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install es-resolve run test lint format unit integration e2e clean

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

run: es-resolve  ## start the embedded Elasticsearch and Metronome on 127.0.0.1:8080
	$(BIN)/metronome serve

lint: install  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint es-resolve  ## the whole suite: lint, unit, integration, e2e (real Elasticsearch)
	$(BIN)/pytest

unit: install  ## only the pure, fast tests
	$(BIN)/pytest tests/unit

clean:  ## remove the virtualenv, the resolved Elasticsearch and all local data
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
