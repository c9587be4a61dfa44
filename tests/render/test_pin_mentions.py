"""Versions typed in prose are the pins of cookiecutter.json.

The pins live in one place (`_pins` and the `docker_version` default). Where a text
cookiecutter does not render (the prompts, README.md, TESTING.md, the pre-generation
hook's messages) still names a release as an example, these tests read that number
back and compare it with the pin, so moving a pin without the prose fails here.
The benchmark's own figures name the releases it ran on; those are compared with the
benchmark's recorded metadata instead.
"""

from __future__ import annotations

import json
import re

from harness.infra.nodetools import pinned_version
from harness.paths import NODE_TOOLS, REPO_ROOT
from harness.template import cookiecutter_json, default, pins

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
TESTING = (REPO_ROOT / "TESTING.md").read_text(encoding="utf-8")
HOOK = (REPO_ROOT / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8")
BENCH_META = json.loads(
    (REPO_ROOT / "bench" / "results-example" / "meta.json").read_text(encoding="utf-8")
)
TEMPLATE_DOCS = {
    str(path.relative_to(REPO_ROOT)): path.read_text(encoding="utf-8")
    for path in sorted((REPO_ROOT / "{{cookiecutter.project_slug}}").rglob("*.md"))
}
# The maintainers' pages beside README.md and TESTING.md.
MAINTAINER_PAGES = ("CONTRIBUTING.md", "testbed/README.md", "bench/README.md", "harness/README.md")
MAINTAINER_DOCS = {
    name: (REPO_ROOT / name).read_text(encoding="utf-8") for name in MAINTAINER_PAGES
}
PROSE = {
    "README.md": README,
    "TESTING.md": TESTING,
    "hooks/pre_gen_project.py": HOOK,
    **MAINTAINER_DOCS,
    **TEMPLATE_DOCS,
}

# `golang:1.27.4`, but not the benchmark's `golang:1.27.4-trixie`.
GO_IMAGE_RE = re.compile(r"golang:(1\.\d+\.\d+)(?![\w.-])")
# "1.27 gives 1.27.4", "1.27 gives `golang:1.27.4`", "1.26 `golang:1.26.11`".
GO_LINE_RE = re.compile(r"\b(1\.\d+) (?:gives )?`?(?:golang:)?(1\.\d+\.\d+)\b")
BENCH_GO_RE = re.compile(r"golang:(1\.\d+\.\d+-trixie)")
BUILDKIT_RE = re.compile(r"moby/buildkit:(v\d+\.\d+\.\d+)")


def prompt(name: str) -> str:
    text = cookiecutter_json()["__prompts__"][name]
    return text if isinstance(text, str) else text["__prompt__"]


def test_go_patch_examples_are_the_pins():
    go_patch = pins()["go_patch"]
    seen = 0
    for name, text in PROSE.items():
        for release in GO_IMAGE_RE.findall(text):
            line = release.rsplit(".", 1)[0]
            assert go_patch.get(line) == release, f"{name} names golang:{release}"
            seen += 1
        for line, release in GO_LINE_RE.findall(text):
            assert go_patch.get(line) == release, f"{name}: {line} gives {release}"
            seen += 1
    assert seen, "no Go release example found: the patterns no longer match the prose"


def test_readme_names_every_supported_go_line():
    row = next(line for line in README.splitlines() if line.startswith("| `go_version` |"))
    named = dict(GO_LINE_RE.findall(row))
    assert named == pins()["go_patch"]


def test_go_version_prompt_names_the_supported_lines():
    match = re.search(r"(1\.\d+) is the newest, (1\.\d+) the previous", prompt("go_version"))
    assert match, prompt("go_version")
    newest_first = sorted(pins()["go_patch"], key=lambda v: int(v.split(".")[1]), reverse=True)
    assert list(match.groups()) == newest_first


def test_runtime_image_prompt_names_the_distroless_pin():
    images = re.findall(r"gcr\.io/distroless/([\w-]+)", prompt("runtime_image_tag"))
    assert images == [pins()["distroless"]]


def test_buildkit_examples_are_the_pin():
    for name, text in PROSE.items():
        for tag in BUILDKIT_RE.findall(text):
            assert tag == pins()["buildkit"], f"{name} names moby/buildkit:{tag}"


def test_hook_examples_are_the_defaults():
    """The hook's fixes suggest the default answers as examples."""
    docker = re.findall(r"exact Docker release such as '([^']+)'", HOOK)
    assert docker == [default("docker_version")]
    go_line = re.findall(r"Go release line such as '([^']+)'", HOOK)
    assert go_line == [default("go_version")]


def test_docker_pin_is_typed_only_in_the_prompt_table():
    """Prose names the pinned Docker release as `docker_version`, never as a number
    that would go stale: the one typed copy is README's prompt table (checked against
    cookiecutter.json by test_readme.py) and the hook's example (checked above)."""
    docker = default("docker_version")
    for name, text in {"README.md": README, "TESTING.md": TESTING}.items():
        count = len(re.findall(rf"(?<![\d.]){re.escape(docker)}(?![\d.])", text))
        assert count == (1 if name == "README.md" else 0), f"{name} types {docker} {count}x"


def test_benchmark_figures_name_the_go_image_they_ran_on():
    for name, text in PROSE.items():
        for image in BENCH_GO_RE.findall(text):
            assert f"golang:{image}" == BENCH_META["go_image"], f"{name} names {image}"


def test_readme_names_the_pinned_node_tools():
    """README's dependency table names tools/node's versions: those package.json pins."""
    manifest = json.loads((NODE_TOOLS / "package.json").read_text(encoding="utf-8"))
    rows = [line for line in README.splitlines() if "(npm, `tools/node/`)" in line]
    named = {
        name: version
        for row in rows
        for name, version in re.findall(r"([a-z][\w-]*) (\d+\.\d+\.\d+)", row.split(" | ")[0])
    }
    assert named == {name: pinned_version(name) for name in manifest["dependencies"]}
