# Entry points for this template repository. README.md shows the two that matter.

PYTHON ?= python3

.PHONY: test setup docker-tier lint

# The whole test suite: dependencies and the Docker tier's engine first, then every tier.
test: setup docker-tier
	$(PYTHON) -m pytest

# Python test dependencies, from pyproject.toml.
setup:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'

# A running Docker engine with buildx, and local stand-in images where public ones
# cannot be pulled (needs root the first time, to install packages).
docker-tier:
	bash scripts/docker-tier.sh up

lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
