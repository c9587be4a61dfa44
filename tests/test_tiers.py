"""A missing tool or Docker engine skips on a laptop and fails under CI, never silently."""

from __future__ import annotations

import pytest

from tests.docker import conftest as docker_conftest
from tests.support import require_tool

MISSING = "no-such-tool-gotpl"


def test_missing_tool_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=MISSING):
        require_tool(MISSING)


def test_missing_tool_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=MISSING):
        require_tool(MISSING)


def test_missing_engine_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Docker tier unavailable"):
        docker_conftest._unavailable("no Docker engine answers")


def test_missing_engine_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Docker tier unavailable"):
        docker_conftest._unavailable("no Docker engine answers")
