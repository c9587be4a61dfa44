# Entry points for this template repository. README.md shows the two that matter.

PYTHON ?= python3

.PHONY: test setup lint

# The whole test suite: dependencies first, then every tier.
test: setup
	$(PYTHON) -m pytest

# Python test dependencies, from pyproject.toml.
setup:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'

lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
