# p2pescrow developer entry points. `make test` / `make demo` set everything up on first use:
# .venv (pip install -e '.[dev]'), .venv-brownie (pip install -e '.[brownie]', for `make test`)
# and node_modules (npm install --no-save), each redone only when pyproject.toml /
# package-lock.json change (stamp files), so a second run installs nothing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.stamp-pyproject
NODE_STAMP := node_modules/.stamp-package-lock
# eth-brownie pins every dependency exactly, so it lives in a venv of its own ('.[brownie]').
BVENV := .venv-brownie
BROWNIE := $(BVENV)/bin/brownie
BVENV_STAMP := $(BVENV)/.stamp-pyproject

# `make fuzz` and `make coverage` keep their figures here, committed; `make assurance` publishes
# them in README (the deep fuzz run takes about 25 minutes, too long for every `make test`).
FUZZ_RECORD ?= assurance/fuzz-deep.json
COVERAGE_RECORD ?= assurance/coverage.json
COVERAGE_HITS := .build/coverage/hits.json
# Under pytest-xdist each worker writes its own part beside it (hits.gw0.json ...); the gate merges them.
COVERAGE_PARTS := .build/coverage/hits.*.json
COVERAGE_MIN := 95

# Test runs find anvil (the native binary from npm, no Node wrapper in between), ganache and
# solcjs on PATH. Evaluated by the shell at run time, after npm ci has created the folders.
RUN_ENV = PATH="$$(for d in $(CURDIR)/node_modules/@foundry-rs/anvil-*/bin; do \
	[ -x "$$d/anvil" ] && printf '%s:' "$$d" && break; done)$(CURDIR)/node_modules/.bin:$$PATH"

# The main suite and the fast one run on pytest-xdist workers, one test file per worker at a time
# (module fixtures such as a module's Anvil are built once). `make test-fast WORKERS=0`: one process.
WORKERS ?= auto
XDIST = -n $(WORKERS) --dist loadfile
# Leaves out the layers that start real nodes or run subprocesses (tests/nodes, tests/e2e, tests/browser; the brownie
# suite is apart anyway): the edit-test loop.
FAST_MARKERS := not e2e and not nodes
LINT_IMPORTS = $(VENV)/bin/lint-imports --cache-dir .build/import-linter

.PHONY: help setup brownie compile check-artifacts test test-fast test-main test-brownie coverage coverage-gate fuzz \
	slither lint-imports assurance demo diagram bench lint chromium screenshots \
	clean distclean

help:
	@echo "make setup            create .venv and node_modules (only when out of date)"
	@echo "make compile          compile contracts/ into p2pescrow/artifacts/"
	@echo "make check-artifacts  fail if p2pescrow/artifacts/ differs from a fresh compile"
	@echo "make brownie          create .venv-brownie (eth-brownie 1.22.2), register solc for it, .env"
	@echo "make test             both suites: pytest tests/ (.venv) and brownie test (.venv-brownie), slither, lint-imports"
	@echo "                      (installs Debian's chromium for the browser tests first when it is missing, as root)"
	@echo "make test-fast        the edit-test loop: tests/ but nodes and e2e, on all cores (pytest-xdist)"
	@echo "make test-main        only the main pytest suite"
	@echo "make test-brownie     only the brownie suite (tests_brownie/)"
	@echo "make coverage         contract line/branch coverage of tests/contracts (kept in assurance/coverage.json)"
	@echo "make fuzz             the deep property tests: stateful escrow fuzz (400 x 60 steps), split arithmetic"
	@echo "make demo             run \`p2pescrow demo\`: real trades on an embedded chain, narrated"
	@echo "make diagram          redraw docs/trade-states.svg from the state table in p2pescrow/states.py"
	@echo "make bench            run the benchmarks (python -m tools.bench)"
	@echo "make screenshots      redraw docs/screenshots/ (offers and market pages, in Chromium, over a fresh chain)"
	@echo "make chromium         install Debian's chromium for the browser tests when /usr/bin/chromium is missing"
	@echo "make slither          Slither on contracts/ through the project's solc; fails on untriaged findings"
	@echo "make assurance        README's Assurance figures: tests, faults, coverage, fuzz, Slither (from commands)"
	@echo "make lint             ruff check, lint-imports (the layers in pyproject.toml), and slither"
	@echo "make lint-imports     only the import layers (import-linter)"
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

$(BVENV_STAMP): pyproject.toml
	test -x $(BVENV)/bin/python || $(PYTHON) -m venv $(BVENV)
	$(BVENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[brownie]'
	touch $@

# Each time (it is cheap): the solcjs shim as py-solc-x's solc 0.8.30 in .build/solcx/, and a
# start-up line in .venv-brownie pointing $SOLCX_BINARY_PATH there, so brownie compiles offline with
# this checkout's solc; nothing outside the checkout is written (brownie keeps its own data in
# ~/.brownie when it runs). brownie-config.yaml reads .env, which must exist (git ignores it).
brownie: $(BVENV_STAMP) $(NODE_STAMP)
	@$(BVENV)/bin/python -c 'import sysconfig; from pathlib import Path; \
		from p2pescrow.build import register_solc_for_brownie as r; \
		d = r(Path.cwd(), Path(sysconfig.get_paths()["purelib"])); print(f"solc for brownie: {d.shim.path} ({d.shim.status})")'
	@test -f .env || { cp .env.example .env && echo "created .env from .env.example"; }

compile: setup
	$(PY) -m p2pescrow.build

check-artifacts: setup
	$(PY) -m p2pescrow.build --check

# pytest exits 5 when it collected no test: that must fail, not pass silently. `-p no:...`: the
# main suite never runs under brownie's pytest plugin (.venv has no brownie; this makes it sure).
# It also records which contract code py-evm ran, for the coverage gate of `make test`.
test-main: setup
	rm -f $(COVERAGE_HITS) $(COVERAGE_PARTS)
	status=0; P2PESCROW_COVERAGE=$(COVERAGE_HITS) $(RUN_ENV) $(PY) -m pytest -q -p no:pytest-brownie $(XDIST) tests/ \
		|| status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

test-fast: setup
	status=0; $(RUN_ENV) $(PY) -m pytest -q -p no:pytest-brownie $(XDIST) -m "$(FAST_MARKERS)" tests/ \
		|| status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# Brownie's development network starts Anvil (from node_modules, on PATH) on port 8545, or
# attaches to a node already listening there.
test-brownie: brownie
	status=0; $(RUN_ENV) $(BROWNIE) test -W ignore::FutureWarning || status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: brownie test collected no tests" >&2; exit 1; fi; \
	exit $$status

# Both suites, the coverage gate, Slither and the import layers run even if one fails; any failing
# fails `make test`.
test: chromium setup brownie
	main=0; $(MAKE) --no-print-directory test-main || main=$$?; \
	coverage=0; $(MAKE) --no-print-directory coverage-gate || coverage=$$?; \
	brownie=0; $(MAKE) --no-print-directory test-brownie || brownie=$$?; \
	slither=0; $(MAKE) --no-print-directory slither || slither=$$?; \
	imports=0; $(MAKE) --no-print-directory lint-imports || imports=$$?; \
	if [ $$main -ne 0 ] || [ $$coverage -ne 0 ] || [ $$brownie -ne 0 ] || [ $$slither -ne 0 ] \
			|| [ $$imports -ne 0 ]; then \
		echo "error: main suite exit $$main, coverage gate exit $$coverage, brownie suite exit $$brownie," \
			"slither exit $$slither, lint-imports exit $$imports" >&2; \
		exit 1; fi

# The browser tests (tests/browser) and `make screenshots` drive Debian's Chromium at $(CHROMIUM) through
# Playwright (its own browser download is not used). Missing: installed with apt-get when we are root (the
# apt output kept in $(CHROMIUM_LOG)); otherwise one line naming the package, and the target fails.
# The tests never skip without it: each fails with the same line (tests/support/browser.py).
CHROMIUM := /usr/bin/chromium
CHROMIUM_LOG := .build/chromium-install.log
chromium:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "error: the browser tests need Chromium at $(CHROMIUM): install Debian's chromium package" \
			"(apt-get update && apt-get install -y chromium, as root)" >&2; exit 1; fi; \
	mkdir -p $(dir $(CHROMIUM_LOG)); \
	echo "installing Debian's chromium for the browser tests (apt-get; output in $(CHROMIUM_LOG))"; \
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } >$(CHROMIUM_LOG) 2>&1 \
		&& [ -x $(CHROMIUM) ] \
		|| { echo "error: apt-get could not install Debian's chromium package (see $(CHROMIUM_LOG))" >&2; exit 1; }

# README's pictures of the pages (docs/screenshots/offers.png, market.png): a fresh Anvil with a market
# history, its index, and `p2pescrow serve`, photographed in Chromium (tools/screenshots.py).
screenshots: setup chromium
	$(RUN_ENV) $(PY) -m tools.screenshots

# Contract line and branch coverage (tools/coverage.py), measured on the optimized bytecode
# that ships. `coverage`: the contract tests alone (tests/contracts), figures kept in $(COVERAGE_RECORD)
# for README; `coverage-gate`: what the last `make test-main` recorded (the whole suite); both fail
# below $(COVERAGE_MIN)% of lines.
coverage: setup
	rm -f $(COVERAGE_HITS) $(COVERAGE_PARTS)
	P2PESCROW_COVERAGE=$(COVERAGE_HITS) $(RUN_ENV) $(PY) -m pytest -q -p no:pytest-brownie $(XDIST) tests/contracts
	$(PY) -m tools.coverage $(COVERAGE_HITS) --record $(COVERAGE_RECORD) --fail-under $(COVERAGE_MIN)

coverage-gate: setup
	$(PY) -m tools.coverage $(COVERAGE_HITS) --fail-under $(COVERAGE_MIN)

# The deep profile of the property tests (CI runs the short one inside test-main): the stateful
# escrow machine (P2PESCROW_FUZZ=deep: 400 examples x 60 steps, >= 200 of them >= 50 steps; override with
# P2PESCROW_FUZZ_EXAMPLES / _STEPS) and the split arithmetic (10x its CI examples). -s prints the
# figures: examples, steps, invariant checks run, failures.
fuzz: setup
	P2PESCROW_FUZZ=deep P2PESCROW_FUZZ_STATS=1 P2PESCROW_FUZZ_RECORD=$(FUZZ_RECORD) $(RUN_ENV) $(PY) -m pytest -q -s -p no:pytest-brownie \
		tests/contracts/test_stateful.py tests/contracts/test_split_arithmetic.py

# Slither (slither-analyzer, dev extra) on the shipped contracts, compiled by the project's own solc
# (find_compiler: the solcjs shim here) from the build's standard-JSON input. Fails on any finding in
# contracts/ not triaged in slither.triage.json, and on any High/Medium one not triaged as a false
# positive. Findings only inside node_modules (OpenZeppelin) are ignored. See tools/slither.py.
slither: setup
	$(PY) -m tools.slither

# README's "Assurance" figures (tools/assurance.py): tests collected per suite, the fault
# cases (-m fault), Slither, the fuzz profiles, and the records `make coverage` and `make fuzz` keep in
# assurance/. Rewrites assurance/figures.json and README's block. Collecting the brownie suite starts
# Anvil (RUN_ENV).
assurance: setup brownie
	$(RUN_ENV) $(PY) -m tools.assurance --brownie-python $(BVENV)/bin/python --write

demo: setup
	$(VENV)/bin/p2pescrow demo

# README's picture of a trade's life, drawn from p2pescrow/states.py (a test checks it is current).
diagram: setup
	$(PY) -m tools.diagram

bench: setup
	$(RUN_ENV) $(PY) -m tools.bench

# The layers and rules of pyproject.toml's [tool.importlinter]: nothing imports upward, the SDK never
# imports the CLI, the build or tools/, core/ does no I/O, no import cycles.
lint-imports: setup
	$(LINT_IMPORTS)

# ruff, lint-imports and Slither all run; any failing fails `make lint`.
lint: setup
	@ruff=0; if [ -x $(VENV)/bin/ruff ]; then $(VENV)/bin/ruff check p2pescrow tests tools $(wildcard scripts) || ruff=$$?; \
	else echo "ruff is not installed in $(VENV); skipping ruff"; fi; \
	imports=0; $(MAKE) --no-print-directory lint-imports || imports=$$?; \
	slither=0; $(MAKE) --no-print-directory slither || slither=$$?; \
	if [ $$ruff -ne 0 ] || [ $$imports -ne 0 ] || [ $$slither -ne 0 ]; then \
		echo "error: ruff exit $$ruff, lint-imports exit $$imports, slither exit $$slither" >&2; exit 1; fi

clean:
	rm -rf .build build dist *.egg-info .pytest_cache .hypothesis .ruff_cache .mypy_cache
	find . -path ./node_modules -prune -o -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 \
		| xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) $(BVENV) node_modules
