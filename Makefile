# Mintmark. `make run` sets up and runs the embedded default; `make test` runs the tests.
# Both create .venv (Python 3.11) and install the pinned requirements on first use; later runs
# skip the install until requirements*.txt change. README.md says what each step does.

PYTHON ?= python3.11
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# pytest-xdist processes; tests that start worker processes share one (xdist_group "broker").
TEST_WORKERS ?= 2

PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
REQUIREMENTS := requirements.txt requirements-nodeps.txt
# The stamp is named after the requirements' content, so any change to them reinstalls.
REQ_HASH := $(shell cat $(REQUIREMENTS) | sha256sum | cut -c1-16)
STAMP := $(VENV)/.mintmark-requirements-$(REQ_HASH)

.DEFAULT_GOAL := help
.PHONY: help install optional browser setup run test lint

help:
	@echo "make run    set up (venv, requirements, migrate, static files, demo org) and serve"
	@echo "            on http://$(HOST):$(PORT)/ with a Celery worker; HOST=, PORT= change it"
	@echo "make test   set up the venv and run the tests (PYTEST_ARGS='-k audit' passes options)"
	@echo "make lint   ruff check and ruff format --check"
	@echo "make optional  install the optional plug-ins (NudeNet, AGPL-3.0)"
	@echo "make browser   install Debian's chromium for the browser tests (apt-get; root or sudo)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# open-clip-torch goes in without its declared dependencies: requirements-nodeps.txt says why.
$(STAMP): | $(PY)
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -r requirements-nodeps.txt
	rm -f $(VENV)/.mintmark-requirements-*
	touch $@

install: $(STAMP)

# Optional plug-ins (requirements-optional.txt says why they are not installed by default).
# The tests install them too, so the plug-ins' own code paths are tested.
OPTIONAL_STAMP := $(VENV)/.mintmark-optional-$(shell sha256sum requirements-optional.txt | cut -c1-16)

$(OPTIONAL_STAMP): $(STAMP)
	$(PY) -m pip install -r requirements-optional.txt
	rm -f $(VENV)/.mintmark-optional-*
	touch $@

optional: $(OPTIONAL_STAMP)

# The browser tests drive Debian's Chromium through Playwright (its own browser download does not
# work offline); CHROMIUM= names another binary.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	@[ -x $(CHROMIUM) ] || ($(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver)

setup: install
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput --verbosity 0

run: setup
	$(MANAGE) seed_demo --url http://$(HOST):$(PORT)/
	$(MANAGE) provenance_init
	$(MANAGE) serve --host $(HOST) --port $(PORT)

# Tests build their own databases, so they need no migrate or seed; pytest's own exit status
# (5 when no test was collected) is make's.
# The prompt classifier is built once (about two minutes on a fresh clone) before the test
# processes start, which then load it from the cache instead of each fitting it.
test: optional browser
	$(MANAGE) prompt_gate_load
	MINTMARK_TEST_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
