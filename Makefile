# Two commands for a fresh machine: `make demo` (the main job) and `make test`.
# Everything installs from requirements.lock into .venv; nothing is downloaded at run time.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.9.30
STAMP := $(VENV)/.installed

.PHONY: demo test install airflow-ui lint lock clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The main job: the sandbox insurer's monthly cost allocation, 2017-07 .. 2018-03.
demo: $(STAMP)
	$(BIN)/renkei demo

## The test suite (what CI runs).
test: $(STAMP)
	$(BIN)/python -m pytest

## The Airflow UI on http://127.0.0.1:8080 (login: see README).
airflow-ui: $(STAMP)
	umask 077 && eval "$$($(BIN)/renkei airflow-env)" && PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/airflow standalone

## The UI and API only (no scheduler, no log servers): browse runs on http://127.0.0.1:$(PORT)
PORT ?= 8080
.PHONY: airflow-api
airflow-api: $(STAMP)
	umask 077 && eval "$$($(BIN)/renkei airflow-env)" && PATH="$(CURDIR)/$(BIN):$$PATH" \
	  $(BIN)/airflow api-server --host 127.0.0.1 --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check plugins sandbox dags tests bench

## Benchmarks with same-run baselines, table in bench/README.md: make bench MEMBERS=1000000
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.run --members $(or $(MEMBERS),1000000)

## Lock again after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile -q pyproject.toml --extra test --python-version 3.11 -o requirements.lock

clean:
	rm -rf var exchange reports .airflow dbt_project/target dbt_project/logs
