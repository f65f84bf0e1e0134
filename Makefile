# DomainSieve. Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The suite runs against real PostgreSQL and Redis on loopback.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/domainsieve
TEST_BROKER_URL   ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: setup setup-dev demo test test-all services lint bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

## make demo: install, migrate, build the offline demo data, start web + worker on 127.0.0.1:8000
demo: setup
	$(PY) manage.py demo

services:
	bash scripts/services.sh

## make test: dev install, start PostgreSQL and Redis, run the whole suite (slow/gpu skipped)
test: setup-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	  $(PY) -m pytest -m "not slow and not gpu" $(PYTEST_ARGS)

## make test-all: also the slow checks (full-size runs); gpu checks still need a CUDA device
test-all: setup-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	  $(PY) -m pytest -m "not gpu" $(PYTEST_ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(PY) scripts/dead_code.py

## make bench: every benchmark at full size (long: about an hour on 2 cores); figures go in docs/benchmarks.md
bench: setup-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/import_bench.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres $(PY) bench/labeling_load.py --browser
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/agreement_bench.py
	$(PY) bench/embed_bench.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/apply_bench.py

clean:
	rm -rf var/
