# The front door: every command a person or the pipeline runs is a target here.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip -q --disable-pip-version-check
SERVICE_DIRS := gateway auth_service user_service product_service inventory_service order_service payment_service

.DEFAULT_GOAL := help
.PHONY: help install install-test tools up migrate test lint image-check e2e bench clean \
	images push-images deploy rollback smoke

help:
	@echo "make up      run the whole platform (embedded profile: nothing to install but Python)"
	@echo "make test    install the test requirements and run every suite"
	@echo "make lint    ruff, migrations and system checks, every delivery artifact's validator"
	@echo "make image-check  rehearse the image's final stage in a clean virtualenv"
	@echo "make e2e     the whole platform on real services, customer and staff journeys"
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

# Debian programs the validators and browser tests run (promtool, docker-compose, groovy, chromium).
tools: install
	$(PY) -m service_kit.testing.tools

up: install
	$(PY) -m service_kit.platform up

migrate: install
	$(PY) -m service_kit.platform migrate

# make test SUITES="order_service payment_service" runs some suites; JUNIT_DIR keeps the reports.
test: install-test
	$(PY) -m service_kit.testing.run_all $(SUITES)

e2e: install-test tools
	$(PY) -m service_kit.testing.run_all e2e

# The image's final stage rehearsed here (no Docker engine needed): see shared/docker/.
image-check: install
	$(PY) -m service_kit.testing.delivery.image_check

lint: install-test tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m service_kit.testing.lint
	$(PY) -m service_kit.testing.delivery

bench: install-test
	$(PY) -m service_kit.bench

# Release targets, run by the pipelines (Jenkinsfile, .github/workflows) with Docker and Helm.
REGISTRY  ?= registry.example.com/platform
TAG       ?= $(shell git rev-parse --short HEAD)
ENV       ?= staging
NAMESPACE ?= platform-$(ENV)
images:
	for service in $(SERVICE_DIRS); do \
	  docker build -f shared/docker/Dockerfile --build-arg SERVICE=$$service \
	    -t $(REGISTRY)/$$service:$(TAG) . || exit 1; \
	done

push-images:
	for service in $(SERVICE_DIRS); do docker push $(REGISTRY)/$$service:$(TAG) || exit 1; done

deploy:
	helm upgrade --install platform charts/platform --namespace $(NAMESPACE) --create-namespace \
	  -f charts/platform/values-$(ENV).yaml --set global.image.registry=$(REGISTRY) \
	  --set global.image.tag=$(TAG) --rollback-on-failure --wait --timeout 15m

# Back to the release before the current one (after a smoke test failed on a good deploy).
rollback:
	helm rollback platform --namespace $(NAMESPACE) --wait --timeout 15m

smoke: install
	$(PY) -m service_kit.testing.smoke $(SMOKE_URL)

clean:
	rm -rf var reports
