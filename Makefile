# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-pg test-fast lint bench load clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip >/dev/null
	$(PIP) install -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip >/dev/null
	$(PIP) install -e '.[test]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/redline serve

# the second pass of `make test`: the core suites again, with every app fixture on PostgreSQL
# (a template database with the demo, copied per test; see tests/conftest.py)
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PG_SUITES := $(wildcard tests/web tests/command tests/plans tests/scale/test_regions.py)

test: $(VENV)/.test-installed
	.ci/system-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)
	REDLINE_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -ra \
		-m "not server and not browser" $(PG_SUITES) $(PYTEST_ARGS)

test-pg: $(VENV)/.test-installed
	REDLINE_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -ra \
		-m "not server and not browser" $(PG_SUITES) $(PYTEST_ARGS)

test-fast: $(VENV)/.test-installed
	$(PY) -m pytest -q -m "not server and not browser and not services" $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.test-installed
	$(PY) bench/dispatch_latency.py

# 500 Socket.IO clients; eventlet/gevent/threading x 1 process (SQLite) / 2 (PostgreSQL + Redis)
load: $(VENV)/.test-installed
	$(PY) bench/load.py

clean:
	rm -rf $(VENV) instance .pytest_cache
