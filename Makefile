# Two commands a newcomer needs: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: setup lint unit docker chromium prometheus postgres haproxy wrk image integration test run bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python scripts/unasync.py --check

unit: setup
	$(BIN)/pytest -q tests/unit

docker:
	bash scripts/ensure-docker.sh

# Debian's chromium + chromium-driver for the dashboard's browser tests.
chromium:
	bash scripts/ensure-chromium.sh

# Debian's prometheus (with promtool) for the monitoring tests (tests/integration/monitoring).
prometheus:
	bash scripts/ensure-prometheus.sh

# Debian's PostgreSQL 15 server for the PostgreSQL store's tests; they start their own cluster.
postgres:
	bash scripts/ensure-postgres.sh

# Debian's HAProxy for KATO_ROUTER=haproxy and its tests; the manager starts its own.
haproxy:
	bash scripts/ensure-haproxy.sh

# Debian's wrk (an HTTP load generator) for bench/router.py.
wrk:
	bash scripts/ensure-wrk.sh

image: setup docker
	$(BIN)/katoctl build

integration: image chromium prometheus postgres haproxy
	$(BIN)/pytest -q tests/integration

test: lint unit integration

run: image
	$(BIN)/katoctl up --host $(HOST) --port $(PORT)

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
