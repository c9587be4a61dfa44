"""Every supported combination bakes cleanly into the files it promises."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.paths import TEMPLATE_DIR, text_files
from harness.template import COMBINATIONS, choices, combination_id, default, prompts

# Jinja left behind in a generated file means a variable was misspelled or escaped.
LEFTOVER_RE = re.compile(r"\{\{|\{%|\{#|(?<![.\w])cookiecutter\.(?!json\b)[a-z_]+")
# Lines that legitimately show double braces: a Go template passed to `go list -f`.
ALLOWED = {
    ("Dockerfile", "go list -m -f '{{if not (or .Main .Indirect)}}{{.Path}}/...{{end}}'"),
    ("Dockerfile", "go list -e -f '{{if not (or .Error .DepsErrors)}}{{.ImportPath}}{{end}}'"),
}

ALWAYS_PRESENT = [
    ".cookiecutter.json",
    ".dockerignore",
    ".gitignore",
    ".gitlab-ci.yml",
    "Dockerfile",
    "Makefile",
    "README.md",
    "ci/cache-report.awk",
    "docs/builder.md",
    "docs/operations.md",
    "docs/pipeline.md",
    "go.mod",
    "go.sum",
    "main.go",
    "main_test.go",
    "server.go",
    "server_test.go",
    "shutdown_test.go",
]
# The teaching kit, generated only with include_cache_demo (a Go module of its own).
CACHE_DEMO_FILES = [
    "tools/cachedemo/docker.go",
    "tools/cachedemo/dockerfile.go",
    "tools/cachedemo/edits.go",
    "tools/cachedemo/edits_test.go",
    "tools/cachedemo/explain.go",
    "tools/cachedemo/explain_test.go",
    "tools/cachedemo/main.go",
    "tools/cachedemo/main_test.go",
    "tools/cachedemo/progress.go",
    "tools/cachedemo/progress_test.go",
    "tools/cachedemo/report.go",
    "tools/cachedemo/rootless.go",
    "tools/cachedemo/rootless_test.go",
    "tools/cachedemo/runner.go",
    "tools/cachedemo/scenarios.go",
    "tools/cachedemo/go.mod",
]


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_no_template_syntax_is_left(bake, overrides):
    project = bake(overrides)
    leftovers = [
        f"{path.relative_to(project)}:{number}: {line.strip()}"
        for path in text_files(project)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if LEFTOVER_RE.search(line)
        and not any(path.name == name and text in line for name, text in ALLOWED)
    ]
    assert leftovers == [], "unrendered template syntax:\n" + "\n".join(leftovers)


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_files_present_per_option(bake, overrides):
    project = bake(overrides)
    missing = [name for name in ALWAYS_PRESENT if not (project / name).is_file()]
    assert missing == []
    explainer = project / "docs" / "jargon.md"
    wanted = overrides.get("include_explainer", True)
    assert explainer.is_file() is wanted, f"docs/jargon.md present={explainer.is_file()}"
    demo_page = project / "docs" / "cache-demo.md"
    assert demo_page.is_file() is overrides.get("include_cache_demo", False)
    renovate = project / "renovate.json"
    assert renovate.is_file() is overrides.get("use_renovate", True)
    demo = overrides.get("include_cache_demo", False)
    if demo:
        missing_demo = [name for name in CACHE_DEMO_FILES if not (project / name).is_file()]
        assert missing_demo == []
    else:
        assert not (project / "tools").exists(), "the cache demo was generated unasked"
        makefile = (project / "Makefile").read_text(encoding="utf-8")
        assert "cache-demo" not in makefile and "cachedemo" not in makefile


def test_combinations_use_every_choice():
    """The combinations above are the supported matrix: every choice appears in one."""
    for name, value in prompts().items():
        if isinstance(value, list):
            offered = choices(name)
        elif isinstance(value, bool):
            offered = [True, False]
        else:
            continue  # free text: the render tests pick their own values
        used = {combo.get(name, default(name)) for combo in COMBINATIONS}
        assert set(offered) <= used, f"{name}: no combination uses {set(offered) - used}"


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_answers_are_recorded_for_updates(bake, overrides):
    project = bake(overrides)
    recorded = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    for key, value in overrides.items():
        assert recorded[key] == value, f"{key}: got {recorded[key]!r}, want {value!r}"
    assert recorded["_template"], "cruft-style updates need the template location"
    private = [key for key in recorded if key.startswith("__") or key == "_output_dir"]
    assert private == [], "machine-specific or private values leaked into the answers"


def test_default_slug_and_module_path_are_derived(bake):
    project = bake({"project_name": "Café Über Service"})
    assert project.name == "cafe-uber-service"
    go_mod = (project / "go.mod").read_text(encoding="utf-8")
    assert go_mod.splitlines()[0] == "module gitlab.com/your-group/cafe-uber-service"


def test_generated_files_are_not_executable_by_accident(default_project: Path):
    executable = [
        p.name for p in default_project.rglob("*") if p.is_file() and p.stat().st_mode & 0o111
    ]
    assert executable == []


def test_template_has_no_file_the_tests_do_not_know():
    """A new template file must be added to ALWAYS_PRESENT (or to an option's list)."""
    known = (
        set(ALWAYS_PRESENT)
        | set(CACHE_DEMO_FILES)
        | {
            "docs/{% if cookiecutter.include_explainer %}jargon.md{% endif %}",
            "docs/{% if cookiecutter.include_cache_demo %}cache-demo.md{% endif %}",
            "{% if cookiecutter.use_renovate %}renovate.json{% endif %}",
            # test_shared_manifest.py checks it ships with builder=shared only.
            '{% if cookiecutter.builder == "shared" %}shared-buildkit.yaml{% endif %}',
        }
    )
    actual = {
        str(path.relative_to(TEMPLATE_DIR)) for path in TEMPLATE_DIR.rglob("*") if path.is_file()
    }
    assert actual == known


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_no_file_points_at_a_file_the_project_lacks(bake, overrides):
    """Optional files (the explainer, renovate.json, the demo) are named only where they exist."""
    project = bake(overrides)
    optional = ["docs/jargon.md", "docs/cache-demo.md", "renovate.json", "shared-buildkit.yaml"]
    optional += ["tools/cachedemo"]
    absent = [name for name in optional if not (project / name).exists()]
    if "tools/cachedemo" in absent:
        absent.append("cache-demo")  # the make target goes with the demo's folder
    mentions = [
        f"{path.relative_to(project)}:{number}: {name}"
        for path in text_files(project)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for name in absent
        if name in line
    ]
    assert mentions == [], "files name what the project does not have:\n" + "\n".join(mentions)
