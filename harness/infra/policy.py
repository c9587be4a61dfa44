"""The rule every tier follows when something it needs is missing.

On a laptop the test is skipped with the reason; under CI (CI=true) it FAILS, so a
missing daemon or tool can never turn the important tests green by skipping them.
"""

from __future__ import annotations

import os
import shutil

import pytest

SETUP_HINT = "Run `sudo bash testbed/testbed.sh up` first"


def in_ci() -> bool:
    """True under CI, where a missing tool must fail the run instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str, reason: str, hint: str = SETUP_HINT) -> None:
    """Skip locally, fail in CI, with one message naming the tier, the cause and the fix."""
    message = f"{what} unavailable: {reason}. {hint}."
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """Return the path of a command-line tool; skip locally, fail in CI, if absent."""
    path = shutil.which(name)
    if path:
        return path
    unavailable(f"the tool {name!r}", "it is not on PATH", "Install the test extras: make setup")
    raise AssertionError("unreachable")  # pytest.skip and pytest.fail raise
