# The front door: every command a person or the pipeline runs is a target here.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip -q --disable-pip-version-check
SERVICE_DIRS := gateway auth_service user_service product_service inventory_service order_service payment_service

.DEFAULT_GOAL := help
.PHONY: help install install-test up migrate test test-kit test-services lint bench clean

help:
	@echo "make up      run the whole platform (embedded profile: nothing to install but Python)"
	@echo "make test    install the test requirements and run every suite"
	@echo "make lint    ruff, migrations checks, Django system checks"
	@echo "make bench   benchmarks: Markdown tables and PNG plots under reports/"

# Installs happen once; a stamp per requirements set makes the second run reuse them.
$(VENV)/.base: requirements/base.txt shared/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -r requirements/base.txt
	$(PIP) install --no-deps -e shared
	@touch $@

$(VENV)/.test: $(VENV)/.base requirements/test.txt
	$(PIP) install -r requirements/test.txt
	@touch $@

install: $(VENV)/.base
install-test: $(VENV)/.test

up: install
	$(PY) -m service_kit.platform up

migrate: install
	$(PY) -m service_kit.platform migrate

test: install-test
	$(PY) -m service_kit.testing.run_all

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m service_kit.testing.lint

bench: install-test
	$(PY) -m service_kit.bench

clean:
	rm -rf var reports
