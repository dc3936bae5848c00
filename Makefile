# siyu: `make demo` serves a demo tenant; `make test` runs every check on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DB ?= sqlite+aiosqlite:///./siyu-demo.db

.PHONY: demo test lint check-types check-layers test-sqlite test-postgres test-suites browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(INSTALLED)
	SIYU_DATABASE_URL=$(DEMO_DB) SIYU_DEMO=true $(BIN)/siyu db upgrade
	SIYU_DATABASE_URL=$(DEMO_DB) SIYU_DEMO=true $(BIN)/siyu demo
	SIYU_DATABASE_URL=$(DEMO_DB) SIYU_DEMO=true $(BIN)/siyu serve

browser:
	bash scripts/ensure-browser.sh

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-types: $(INSTALLED)
	$(BIN)/mypy

check-layers: $(INSTALLED)
	$(BIN)/lint-imports

test-sqlite: $(INSTALLED) browser
	SIYU_TEST_DATABASE=sqlite $(BIN)/pytest

test-postgres: $(INSTALLED) browser
	@if $(BIN)/python scripts/postgres_ready.py; then \
		SIYU_TEST_DATABASE=postgres $(BIN)/pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is required under CI=true but 127.0.0.1:5432 is unreachable" >&2; exit 1; \
	else \
		echo "PostgreSQL not reachable: skipped the PostgreSQL run"; \
	fi

# Both databases' runs side by side (scripts/suites.sh); test-sqlite and test-postgres run one alone.
test-suites: $(INSTALLED) browser
	BIN=$(BIN) bash scripts/suites.sh

test: lint check-types check-layers test-suites

clean:
	rm -rf $(VENV) siyu-demo.db* test-artifacts
