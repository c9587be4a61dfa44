"""Fixtures for the fast tier: bake the template once per combination per session."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.combinations import COMBINATIONS
from tests.support import REPO_ROOT

Bake = Callable[[dict[str, Any]], Path]


@pytest.fixture(scope="session")
def bake(cookies_session) -> Bake:
    """Bake a combination (once per session) and return the generated project path.

    Baking failures stop the test with cookiecutter's own exception, so the hook's
    message is part of the report.
    """
    baked: dict[str, Path] = {}

    def _bake(overrides: dict[str, Any]) -> Path:
        key = json.dumps(overrides, sort_keys=True)
        if key not in baked:
            result = cookies_session.bake(extra_context=overrides, template=str(REPO_ROOT))
            assert result.exit_code == 0, f"bake failed for {overrides}: {result.exception}"
            assert result.exception is None
            baked[key] = Path(result.project_path)
        return baked[key]

    return _bake


@pytest.fixture(scope="session")
def default_project(bake: Bake) -> Path:
    return bake(COMBINATIONS[0])
