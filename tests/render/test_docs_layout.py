"""The shape of the generated docs (issue 24).

- README.md stays short enough to read before the first push: at most 200 lines, for
  every option combination; the depth lives in docs/.
- The cache demo is optional. Without it, no generated doc mentions `make cache-demo`
  or `tools/cachedemo/`, and docs/cache-demo.md is not generated.
- Builder-specific text comes from one partial per builder (templates/docs/), so the
  shared doc templates name the builder choice only to pick that partial.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from harness.template import COMBINATIONS, choices, combination_id

README_MAX_LINES = 200
WITH_DEMO = {"include_cache_demo": True}
TEMPLATE_DOCS = [
    REPO_ROOT / "{{cookiecutter.project_slug}}" / "README.md",
    *sorted((REPO_ROOT / "{{cookiecutter.project_slug}}" / "docs").glob("*")),
]


def generated_docs(project: Path) -> list[Path]:
    return [project / "README.md", *sorted((project / "docs").glob("*.md"))]


@pytest.mark.parametrize("overrides", [*COMBINATIONS, WITH_DEMO], ids=combination_id)
def test_readme_is_at_most_200_lines(bake, overrides):
    lines = (bake(overrides) / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


WITHOUT_DEMO = [combo for combo in COMBINATIONS if not combo.get("include_cache_demo", False)]


@pytest.mark.parametrize("overrides", WITHOUT_DEMO, ids=combination_id)
def test_without_the_demo_no_doc_mentions_it(bake, overrides):
    project = bake(overrides)
    assert not (project / "docs" / "cache-demo.md").exists()
    mentions = [
        f"{doc.relative_to(project)}:{number}: {line.strip()}"
        for doc in generated_docs(project)
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        if "cache-demo" in line or "tools/cachedemo" in line
    ]
    assert mentions == [], "docs mention the demo it left out:\n" + "\n".join(mentions)


def test_with_the_demo_its_page_is_linked(bake):
    project = bake(WITH_DEMO)
    assert (project / "docs" / "cache-demo.md").is_file()
    assert "[docs/cache-demo.md](docs/cache-demo.md)" in (project / "README.md").read_text(
        encoding="utf-8"
    )


@pytest.mark.parametrize("builder", choices("builder"))
def test_each_builder_has_its_partials(builder):
    partials = REPO_ROOT / "templates" / "docs"
    for stem in ("builder", "runner", "pipeline", "jargon"):
        assert (partials / f"{stem}.{builder}.md").is_file(), f"{stem}.{builder}.md"


@pytest.mark.parametrize("template", TEMPLATE_DOCS, ids=lambda path: path.name)
def test_shared_docs_name_the_builder_once(template: Path):
    text = template.read_text(encoding="utf-8")
    assert text.count("cookiecutter.builder") <= 1, "builder text belongs in templates/docs/"
