# The front door: every command a person or the pipeline runs is a target here.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip -q --disable-pip-version-check
SERVICE_DIRS := gateway auth_service user_service product_service inventory_service order_service payment_service

.DEFAULT_GOAL := help
.PHONY: help install install-test tools up status down migrate test lint lint-imports image-check images-check e2e \
	bench clean openapi images push-images deploy rollback smoke new-service affected release-check release-tag

help:
	@echo "make up      run the whole platform (embedded profile: nothing to install but Python);"
	@echo "            DETACH=1 in the background (logs under var/log/)"
	@echo "make status  each service of this checkout's platform: health, readiness, pids"
	@echo "make down    stop this checkout's platform (nothing left running)"
	@echo "make test    install the test requirements and run every suite"
	@echo "make lint    ruff, mypy, the import contracts, migrations and system checks, every"
	@echo "            delivery artifact's validator"
	@echo "make affected BASE=<ref>  the services a change since <ref> (default: the latest"
	@echo "            release tag) builds, tests and deploys: changed, and their contracts' readers"
	@echo "make image-check  rehearse the image's final stage in a clean virtualenv"
	@echo "make e2e     the whole platform on real services, customer and staff journeys"
	@echo "make openapi the platform's merged OpenAPI document (OPENAPI=var/openapi/platform.json)"
	@echo "make images-check  build the seven images, boot the compose stack for real, check it"
	@echo "make bench   benchmarks: Markdown tables and PNG plots under reports/"
	@echo "make new-service NAME=review_service  a new service, made and registered (README)"

# Installs happen once; a stamp per requirements set makes the second run reuse them.
$(VENV)/.base: requirements/base.txt shared/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -r requirements/base.txt
	$(PIP) install --no-deps -e shared
	@touch $@

# The tooling (test harness, delivery validators, benchmarks) comes with the test requirements only.
$(VENV)/.test: $(VENV)/.base requirements/test.txt shared/tooling/pyproject.toml
	$(PIP) install -r requirements/test.txt
	$(PIP) install --no-deps -e shared/tooling
	@touch $@

install: $(VENV)/.base
install-test: $(VENV)/.test

# Debian programs the validators and browser tests run (promtool, docker-compose, groovy, chromium).
tools: install-test
	$(PY) -m platform_tools.testing.tools

# One platform per checkout and per port: up refuses at once, naming what holds them.
up: install
	$(PY) -m service_kit.platform up $(if $(filter 1 yes true,$(DETACH)),--detach)

status: install
	$(PY) -m service_kit.platform status

down: install
	$(PY) -m service_kit.platform down

migrate: install
	$(PY) -m service_kit.platform migrate

# The suites: kit (shared/tests), tooling (shared/tooling/tests), system (shared/system_tests) and
# each service's. make test SUITES="kit order_service" runs some; JUNIT_DIR keeps the reports.
test: install-test
	$(PY) -m platform_tools.testing.run_all $(SUITES)

e2e: install-test tools
	$(PY) -m platform_tools.testing.run_all e2e

# The image's final stage rehearsed here (no Docker engine needed): see shared/docker/.
image-check: install-test
	$(PY) -m platform_tools.testing.delivery.image_check

# The seven images built and the compose stack booted for real on a Docker engine (a private one
# started here when none is given): see platform_tools.testing.delivery.stack_check.
images-check: install-test
	$(PY) -m platform_tools.testing.delivery.stack_check

# The architecture (import-linter), its contracts built from the list of services.
lint-imports: install-test
	$(PY) -m platform_tools.testing.architecture

lint: install-test tools lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m platform_tools.testing.typecheck
	$(PY) -m platform_tools.testing.lint
	$(PY) -m platform_tools.testing.openapi
	$(PY) -m platform_tools.release check
	$(PY) -m platform_tools.testing.delivery

# The whole platform's API in one OpenAPI document, as the gateway serves it at /api/schema/, built
# offline from each service's own (no server needed): a release artifact (docs/api.md).
OPENAPI ?= var/openapi/platform.json
openapi: install
	$(PY) gateway/manage.py openapi --output $(OPENAPI)

# Consumers' declarations against producers' contracts; message contracts and OpenAPI documents
# against the latest vX.Y.Z tag (README, Releases): a breaking change needs a new major.
release-check: install-test
	$(PY) -m platform_tools.release check

# The service folders a change needs built, tested and deployed (README, Releases).
affected: install-test
	@$(PY) -m platform_tools.release affected $(BASE)

# The next release tag on HEAD, pushed (BUMP=major|minor|patch, minor by default): the pipelines
# run it after production passed its smoke test.
release-tag: install-test
	$(PY) -m platform_tools.release tag $(BUMP)

bench: install-test
	$(PY) -m platform_tools.bench

# A new service by the README's recipe: its folder, and one line in each shared registration.
new-service: install-test
	@test -n "$(NAME)" || { echo "usage: make new-service NAME=<name>_service [APP=<app>]"; exit 2; }
	$(PY) -m platform_tools.scaffold $(NAME) $(if $(APP),--app $(APP))

# Release targets, run by the pipelines (Jenkinsfile, .github/workflows) with Docker and Helm.
# SERVICES: the folders to build and deploy (every one by default; the pipelines pass
# `make affected`). A deploy of some keeps the others at the images they run (their imageTag).
SERVICES  ?= $(SERVICE_DIRS)
REGISTRY  ?= registry.example.com/platform
TAG       ?= $(shell git rev-parse --short HEAD)
ENV       ?= staging
NAMESPACE ?= platform-$(ENV)
# PYTHON_IMAGE names another base (the Dockerfile's default is the official Python image).
images:
	for service in $(SERVICES); do \
	  docker build -f shared/docker/Dockerfile --build-arg SERVICE=$$service \
	    $(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)) \
	    -t $(REGISTRY)/$$service:$(TAG) . || exit 1; \
	done

push-images:
	for service in $(SERVICES); do docker push $(REGISTRY)/$$service:$(TAG) || exit 1; done

deploy:
	helm upgrade --install platform charts/platform --namespace $(NAMESPACE) --create-namespace \
	  -f charts/platform/values-$(ENV).yaml --set global.image.registry=$(REGISTRY) \
	  $(if $(filter-out $(SERVICES),$(SERVICE_DIRS)),--reset-then-reuse-values \
	    $(foreach s,$(SERVICES),--set services.$(patsubst %_service,%,$(s)).imageTag=$(TAG)), \
	    --set global.image.tag=$(TAG)) --rollback-on-failure --wait --timeout 15m

# Back to the release before the current one (after a smoke test failed on a good deploy).
rollback:
	helm rollback platform --namespace $(NAMESPACE) --wait --timeout 15m

smoke: install-test
	$(PY) -m platform_tools.testing.smoke $(SMOKE_URL)

clean:
	rm -rf var reports
