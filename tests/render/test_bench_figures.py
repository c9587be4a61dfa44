"""The benchmark figures that README.md and the explainer quote are the example report's
(bench/results-example/results.json), rounded as the docs print them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results-example" / "results.json"
EXPLAINER = "docs/jargon.md"

# Row labels of the docs' tables and the benchmark's scenario names.
ROWS = {
    "cold": "cold",
    "no change": "no-change",
    "source change + new commit": "source-change",
    "new commit only": "commit-only",
    "test file change only": "test-only",
    "dependency bump + new commit": "dep-bump",
}
# Column headings and the benchmark's variant names.
COLUMNS = {"(a)": "ours-max", "(b)": "common-max", "(s)": "ours-shared"}


def seconds(value: float) -> str:
    """How the docs print a median: two decimals below a second, one above."""
    return f"{value:.2f} s" if value < 1 else f"{value:.1f} s"


def tables(text: str, marker: str) -> list[list[list[str]]]:
    """The Markdown tables whose header row contains `marker`, as rows of cells."""
    found, current = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if current is None and marker in line:
                current = [cells]
            elif current is not None:
                current.append(cells)
        elif current is not None:
            found.append(current)
            current = None
    if current is not None:
        found.append(current)
    return found


def check(table: list[list[str]], service: str, results: dict) -> int:
    """Compares every cell that names a variant and a scenario; returns how many."""
    header, _rule, *rows = table
    checked = 0
    for row in rows:
        scenario = ROWS[row[0]]
        for heading, cell in zip(header[1:], row[1:], strict=True):
            variant = next((v for key, v in COLUMNS.items() if heading.startswith(key)), None)
            if variant is None or cell in ("", "-"):
                continue
            build = results["services"][service]["builds"][variant][scenario]
            assert cell == seconds(build["seconds"]["median"]), (service, row[0], heading)
            checked += 1
    return checked


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def test_readme_quotes_the_example_report(results):
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    found = tables(text, "(a) ours")
    assert len(found) == 2, "README's default and deps tables"
    assert check(found[0], "default", results) >= 15
    assert check(found[1], "deps", results) >= 15


def test_explainer_quotes_the_example_report(results, default_project: Path):
    text = (default_project / EXPLAINER).read_text(encoding="utf-8")
    found = tables(text, "(a) ours")
    assert len(found) == 2, "the explainer's default and deps tables"
    assert check(found[0], "default", results) >= 15
    assert check(found[1], "deps", results) >= 15


def test_the_docs_name_the_machine_and_the_session(results):
    meta = results["meta"]
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert meta["machine"]["cpu"] in text
    assert re.search(rf"\b{meta['machine']['cores']}-core\b", text)
    assert meta["started"][:10] in text
