# p2pescrow developer entry points. `make test` / `make demo` set everything up on first use:
# .venv (pip install -e '.[dev]') and node_modules (npm install --no-save), each redone only when
# pyproject.toml / package-lock.json change (stamp files), so a second run installs nothing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.stamp-pyproject
NODE_STAMP := node_modules/.stamp-package-lock

# Test runs find anvil (the native binary from npm, no Node wrapper in between), ganache and
# solcjs on PATH. Evaluated by the shell at run time, after npm ci has created the folders.
RUN_ENV = PATH="$$(for d in $(CURDIR)/node_modules/@foundry-rs/anvil-*/bin; do \
	[ -x "$$d/anvil" ] && printf '%s:' "$$d" && break; done)$(CURDIR)/node_modules/.bin:$$PATH"

.PHONY: help setup compile check-artifacts test demo bench lint clean distclean

help:
	@echo "make setup            create .venv and node_modules (only when out of date)"
	@echo "make compile          compile contracts/ into p2pescrow/artifacts/"
	@echo "make check-artifacts  fail if p2pescrow/artifacts/ differs from a fresh compile"
	@echo "make test             run the test suite (fails if no test ran)"
	@echo "make demo             run scripts/demo.py"
	@echo "make bench            run the benchmarks (python -m p2pescrow.bench)"
	@echo "make lint             ruff check"
	@echo "make clean            remove build output and caches (keeps .venv, node_modules)"
	@echo "make distclean        clean, and remove .venv and node_modules too"

$(VENV_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# Not `npm ci`: the registry our machines reach has no darwin/win32 builds of anvil, so
# package-lock.json cannot list those optional packages and `npm ci` rejects it as out of sync.
# `npm install --no-save` installs exactly the locked versions and never rewrites the lock.
$(NODE_STAMP): package-lock.json package.json
	npm install --no-save --no-audit --no-fund
	touch $@

setup: $(VENV_STAMP) $(NODE_STAMP)

compile: setup
	$(PY) -m p2pescrow.build

check-artifacts: setup
	$(PY) -m p2pescrow.build --check

# pytest exits 5 when it collected no test: that must fail, not pass silently.
test: setup
	status=0; $(RUN_ENV) $(PY) -m pytest -q tests/ || status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

demo: setup
	$(RUN_ENV) $(PY) scripts/demo.py

bench: setup
	$(RUN_ENV) $(PY) -m p2pescrow.bench

lint: setup
	@if [ -x $(VENV)/bin/ruff ]; then $(VENV)/bin/ruff check p2pescrow tests $(wildcard scripts); \
	else echo "ruff is not installed in $(VENV); skipping lint"; fi

clean:
	rm -rf .build build dist *.egg-info .pytest_cache .hypothesis .ruff_cache .mypy_cache
	find . -path ./node_modules -prune -o -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 \
		| xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) node_modules
