# The two commands: `make run` and `make test`. Both build .venv from the lock on first use.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
export DO_NOT_TRACK = 1
export PREFECT_SERVER_ANALYTICS_ENABLED = false

.PHONY: setup run test lint bench clean-warehouse

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: setup
	$(VENV)/bin/recon run

lint: setup
	$(VENV)/bin/ruff check flows tests scripts

test: lint
	$(VENV)/bin/pytest

bench: setup
	$(VENV)/bin/recon bench --docs 20000

clean-warehouse:
	rm -rf warehouse/recon.duckdb warehouse/recon.duckdb.wal warehouse/recon.duckdb.lock warehouse/reports
