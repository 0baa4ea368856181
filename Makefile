# Everything starts from a fresh clone: each target installs what it needs first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: install lock test-versions demo up test bench chaos lint docs docs-serve format clean

install: $(STAMP)

# Exactly the lock: a fresh virtual environment, every package pinned and its hash checked by
# the pip that comes with Python, then our project itself, built by the locked hatchling.
# Our own modules are compiled to bytecode too, as pip does for an installed package: an
# editable install writes none where PYTHONDONTWRITEBYTECODE is set, and `waiter` would compile
# them at every start.
$(STAMP): pyproject.toml $(LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check --disable-pip-version-check
	$(BIN)/python -m compileall -q kitchen restaurant waiter board celeryconfig.py
	touch $(STAMP)

lock: install  ## Resolve pyproject.toml's ranges anew (newest allowed) into requirements.lock.
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	  --generate-hashes --upgrade --quiet --output-file $(LOCK)

test-versions: install  ## The Celery and kombu tests at both ends of pyproject.toml's ranges.
	$(BIN)/python -m tools.versions

demo: install  ## Run the restaurant end to end: Redis (private if needed), a worker, three orders.
	$(BIN)/python -m tools.demo

up: install  ## Run the Procfile (worker, Flower) with honcho, against REDIS_URL or a private Redis.
	$(BIN)/python -m tools.up

test: install lint chromium  ## Run the whole test suite against real Redis servers and real workers.
	$(BIN)/python -m pytest

.PHONY: chromium screenshot

chromium:  ## The browser test drives the system's Chromium: install it where we can (Debian, root).
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update && apt-get install -y chromium; } \
	  || echo "make: the browser test needs /usr/bin/chromium (Debian: apt-get install -y chromium)" >&2

screenshot: install chromium  ## Refresh the README's screenshots (Flower, the board) from the browser tests.
	TASKS_SCREENSHOT=$(CURDIR)/docs/flower-tasks.png $(BIN)/python -m pytest tests/test_flower_browser.py
	BOARD_SCREENSHOTS=$(CURDIR)/docs $(BIN)/python -m pytest tests/test_board_browser.py -k screenshots

bench: install  ## Benchmarks: print figures and write them to .run/bench.json.
	$(BIN)/python -m bench

chaos: install  ## 10,000 orders while workers are killed and Redis restarts; counts what became of each.
	$(BIN)/python -m bench.chaos --orders $${ORDERS:-10000}

lint: install docs  ## ruff, mypy, and the manual's strict build.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# NO_MKDOCS_2_WARNING: Material's notice of its end of life (May 2027) at every build; the
# manual's development page says what it means for us.
docs: install  ## Build the manual (docs/) into .run/site; a broken link or anchor fails it.
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: install  ## Serve the manual at http://127.0.0.1:8000, rebuilt on every change.
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .demo .mypy_cache .ruff_cache .pytest_cache .run/site
