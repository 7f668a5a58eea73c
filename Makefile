# releng-o-tron — one command for the demo, one for the tests; each installs what it needs.
#   make demo   the main job on the embedded default (SQLite file, no broker, no koji)
#   make test   import contracts, lint, types and the whole test suite
#   make bench  the benchmarks (see bench/)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian packages: koji -> gssapi needs krb5 and a compiler; the artifact tests build
# real RPMs and repodata (rpm, createrepo-c); `relengotron graph --format svg` uses Graphviz;
# the web page is tested in headless Chromium (playwright drives Debian's browser);
# bench/api.py loads the API with wrk; the Bodhi contract test runs bodhi-server from PyPI
# in its own venv on Debian's python3 with python3-rpm/python3-librepo (tests/bodhi_env.py)
# and the update page's moment.js in Node.js; `relengotron sync` and its tests run rsync;
# the release lifecycle (`relengotron ostree`, `relengotron release eol`) drives the ostree
# command on real repositories and rsync.
DEB_PACKAGES := libkrb5-dev gcc pkg-config rpm createrepo-c graphviz chromium wrk rsync \
                python3-venv python3-rpm python3-librepo nodejs ostree
PYTEST_ARGS ?=

.PHONY: demo test check lint bench sysdeps clean bodhi-venv

sysdeps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory sysdeps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/relengotron demo

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: sysdeps lint
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating that as a failure"; fi; \
	exit $$rc

# bodhi-server 26.4.0 for tests/e2e/test_bodhi_contract.py, made once in
# $RELENGOTRON_BODHI_VENV or ~/.cache/relengotron/bodhi-server-26.4.0 (the test makes it too).
bodhi-venv: $(STAMP)
	$(BIN)/python -m tests.bodhi_env

bench: $(STAMP)
	$(BIN)/python bench/ingest.py --n 100000
	$(BIN)/python bench/decide.py --n 20000
	$(BIN)/python bench/graph.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/resultsdb.py

clean:
	rm -rf $(VENV) .relengotron .pytest_cache .mypy_cache .ruff_cache
