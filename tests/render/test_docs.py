"""The docs agree with the code: every test the explainer cites exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from harness.paths import REPO_ROOT, TEMPLATE_DIR

CITATION_RE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def explainer() -> str:
    (path,) = (TEMPLATE_DIR / "docs").glob("*jargon.md*")
    return path.read_text(encoding="utf-8")


def defined_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_cited_test_exists():
    citations = CITATION_RE.findall(explainer())
    assert citations, "the explainer should point at the tests that show its claims"
    missing = [
        f"{file}::{name}"
        for file, name in citations
        if not (REPO_ROOT / file).is_file() or name not in defined_functions(REPO_ROOT / file)
    ]
    assert missing == []


def test_every_pitfall_test_is_cited():
    """Each Docker-tier test that demonstrates a caching claim is linked from the docs."""
    cited = {name for _, name in CITATION_RE.findall(explainer())}
    for module in ("test_cache.py", "test_drivers.py"):
        path = REPO_ROOT / "tests" / "docker" / module
        for name in sorted(defined_functions(path)):
            if name.startswith("test_") and name != "test_multi_platform_cross_compiles":
                assert name in cited, f"{module}::{name} is not cited in docs/jargon.md"
