"""Helpers shared by the test modules: template paths, tool lookup, file walking."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# The one directory whose name is a Jinja expression: the project cookiecutter renders.
(TEMPLATE_DIR,) = (path for path in REPO_ROOT.iterdir() if path.name.startswith("{{"))
HOOKS_DIR = REPO_ROOT / "hooks"


def in_ci() -> bool:
    """True under CI, where a missing tool must fail the run instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(name: str) -> str:
    """Return the path of a command-line tool; skip locally, fail in CI, if absent."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name!r} is not on PATH (install the test extras: pip install -e '.[test]')"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def text_files(root: Path) -> Iterator[Path]:
    """Every regular file under root that decodes as UTF-8 text."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        yield path
