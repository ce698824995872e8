# Stackyard: `make run` serves on http://127.0.0.1:8080; `make test` runs the whole suite.
VENV := .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := postgresql redis-server chromium
# Tests that talk to the database or the queue: run a second time on PostgreSQL + Redis.
BACKEND_TESTS := tests/web tests/storage tests/cli tests/flows

.PHONY: run test lint system-packages clean

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: $(BIN)/.installed
	$(BIN)/stackyard serve

test: $(BIN)/.installed system-packages
	@echo "== pass 1: SQLite database, SQLite queue (whole suite)"
	STACKYARD_TEST_DB=sqlite STACKYARD_TEST_QUEUE=sqlite $(BIN)/python -m pytest -q
	@echo "== pass 2: PostgreSQL database, Redis queue"
	STACKYARD_TEST_DB=postgresql STACKYARD_TEST_QUEUE=redis $(BIN)/python -m pytest -q $(BACKEND_TESTS)

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) .stackyard
