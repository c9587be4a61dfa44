"""This repository's own Python passes ruff, the linter and formatter in pyproject.toml."""

from __future__ import annotations

import subprocess

import pytest

from harness.infra.policy import require_tool
from harness.paths import REPO_ROOT


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    result = subprocess.run(
        [require_tool("ruff"), *command], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
