"""The generated docs agree with the generated project.

- With the cache demo included, each pitfall of docs/jargon.md ends with a "Try it"
  line. The `make cache-demo` scenarios named there exist in the demo's own list
  (`make cache-demo SCENARIO=list`), each under the pitfall the demo says it replays,
  and every scenario the demo has for a pitfall is named by that pitfall.
  Without the demo there is no "Try it" line.
- The generated README.md and every docs/*.md never name a file the baked project does
  not have: every relative path or file name they mention, in backticks (from the
  project's root) or as a link (from the doc's own folder), is checked against the
  project on disk, for every option combination.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pytest

from harness.cachedemo import list_scenarios
from harness.infra.policy import require_tool
from harness.template import COMBINATIONS, combination_id

PITFALL_RE = re.compile(r"^### (?P<number>\d+)\. (?P<title>.+)$", re.MULTILINE)
TRY_IT_RE = re.compile(r"^Try it: ", re.MULTILINE)
SCENARIO_RE = re.compile(r"`make cache-demo SCENARIO=([a-z0-9-]+)`")

# What counts as naming a file: a code span or a link target that is a relative path
# (segments of letters, digits, "._-"), ending in "/" (a folder) or whose last segment
# is a known file name or has one of these extensions.
PATH_RE = re.compile(r"^(?:\./)?[\w.-]+(?:/[\w.-]+)*/?$")
EXTENSIONS = {".go", ".md", ".yml", ".yaml", ".json", ".toml", ".mod", ".sum", ".sh", ".mjs"}
FILE_NAMES = {"Dockerfile", "Makefile", ".dockerignore", ".gitignore"}
# Files the docs name that belong to something else than the project, on purpose.
NOT_THE_PROJECTS = {
    "config.toml": "a GitLab runner's configuration",
    "buildkitd.toml": "a BuildKit configuration the reader writes for the demo",
    ".gitlab-ci-local/": "gitlab-ci-local's working folder, which it creates",
    "buildctl-daemonless.sh": "the launcher inside the rootless BuildKit image",
    "config.json": "the docker credentials file in $DOCKER_CONFIG",
}


def pitfall_sections(text: str) -> dict[str, str]:
    """Pitfall title -> its text, up to the next heading."""
    matches = list(PITFALL_RE.finditer(text))
    sections = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        section = text[match.end() : end]
        sections[match["title"]] = section.split("\n## ")[0]
    return sections


WITH_DEMO = {"include_cache_demo": True}


@pytest.fixture(scope="module")
def demo_project(bake) -> Path:
    return bake(WITH_DEMO)


@pytest.fixture(scope="module")
def demo_scenarios(demo_project: Path) -> dict[str, str]:
    """Scenario -> the pitfall it replays, from the demo itself."""
    return list_scenarios(demo_project, require_tool("go"))


def test_without_the_demo_no_pitfall_says_try_it(default_project: Path):
    assert TRY_IT_RE.findall((default_project / "docs/jargon.md").read_text(encoding="utf-8")) == []


def test_every_pitfall_says_how_to_try_it(demo_project: Path):
    sections = pitfall_sections((demo_project / "docs/jargon.md").read_text(encoding="utf-8"))
    assert len(sections) >= 6, sections.keys()
    for title, section in sections.items():
        assert len(TRY_IT_RE.findall(section)) == 1, f"pitfall {title!r}: one 'Try it:' line"


def test_named_scenarios_exist_under_their_pitfall(demo_project: Path, demo_scenarios):
    sections = pitfall_sections((demo_project / "docs/jargon.md").read_text(encoding="utf-8"))
    for title, section in sections.items():
        for scenario in SCENARIO_RE.findall(section):
            assert scenario in demo_scenarios, f"{title!r} names {scenario!r}: not in the demo"
            assert demo_scenarios[scenario] == title, (
                f"{title!r} names {scenario!r}, which replays {demo_scenarios[scenario]!r}"
            )


def test_every_pitfall_scenario_is_named_by_its_pitfall(demo_project: Path, demo_scenarios):
    sections = pitfall_sections((demo_project / "docs/jargon.md").read_text(encoding="utf-8"))
    with_pitfall = {name: title for name, title in demo_scenarios.items() if title}
    # The pitfalls the demo must replay, whatever the list says (issue 13).
    for required in ("arg-at-top", "mode-min", "inline-cache", "no-warm-up"):
        assert required in with_pitfall, f"the demo lost the {required!r} scenario"
    for required in ("docker-driver", "cache-mount"):
        assert required in with_pitfall, f"the demo lost the {required!r} scenario"
    for name, title in with_pitfall.items():
        assert title in sections, f"scenario {name!r} replays {title!r}: no such pitfall"
        assert name in SCENARIO_RE.findall(sections[title]), f"{title!r} does not name {name!r}"


def named_paths(markdown: str, doc_folder: str = "") -> set[str]:
    """Every relative path or file name in a code span or a link target, from the project's
    root (a link is relative to the doc's folder, doc_folder)."""
    spans = re.findall(r"`([^`\n]+)`", markdown)
    links = re.findall(r"\]\(([^)\s#]+)", markdown)
    found = set()
    for candidate, folder in [*((s, "") for s in spans), *((link, doc_folder) for link in links)]:
        if not PATH_RE.match(candidate) or "://" in candidate:
            continue
        last = candidate.rstrip("/").rsplit("/", 1)[-1]
        first = candidate.split("/", 1)[0]
        if "/" in candidate and "." in first and not first.startswith("."):
            continue  # a host or module path: gcr.io/..., example.org/...
        if candidate.endswith("/") or last in FILE_NAMES or Path(last).suffix in EXTENSIONS:
            path = posixpath.normpath(posixpath.join(folder, candidate.removeprefix("./")))
            found.add(path + "/" if candidate.endswith("/") else path)
    return found


def test_path_finder_resolves_links_from_the_docs_folder():
    text = "[the pipeline](pipeline.md), [up](../Makefile), `main.go`, `docs/builder.md`"
    expected = {"docs/pipeline.md", "Makefile", "main.go", "docs/builder.md"}
    assert named_paths(text, "docs") == expected


def test_path_finder_finds_paths():
    text = (
        "See `docs/jargon.md`, [the tool](tools/cachedemo/), `main.go`, `bin/`, `Dockerfile`; "
        "not `net/http`, `linux/amd64`, `gcr.io/distroless/x`, `/certs/client`, "
        "`golang:1.27`, `*_test.go`, [site](https://example.org/a.md)."
    )
    assert named_paths(text) == {
        "docs/jargon.md",
        "tools/cachedemo/",
        "main.go",
        "bin/",
        "Dockerfile",
    }


@pytest.mark.parametrize("overrides", [*COMBINATIONS, WITH_DEMO], ids=combination_id)
def test_docs_name_only_files_the_project_has(bake, overrides):
    project = bake(overrides)
    missing = {}
    docs = ["README.md", *(f"docs/{d.name}" for d in sorted((project / "docs").glob("*.md")))]
    assert len(docs) >= 4, docs
    for doc in docs:
        folder = posixpath.dirname(doc)
        for path in named_paths((project / doc).read_text(encoding="utf-8"), folder):
            if path in NOT_THE_PROJECTS:
                continue
            if not (project / path).exists():
                missing.setdefault(doc, []).append(path)
    assert missing == {}, f"the docs name files the project does not have: {missing}"
