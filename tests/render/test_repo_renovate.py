"""The template repository's own Renovate config (renovate.json next to cookiecutter.json)
is valid and finds every pin of cookiecutter.json, tools/node/package.json and
pyproject.toml, checked by Renovate itself, offline, on a copy of the repository as a
git checkout (`--platform=local --dry-run=extract`, as test_renovate.py does for the
generated project).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from harness.infra.nodetools import node_command
from harness.infra.renovate import extract, found, renovate_tool, run
from harness.paths import NODE_TOOLS, REPO_ROOT
from harness.pipeline.emulator import GitRepo
from harness.template import default, pins

# A PEP 508 requirement as pyproject.toml writes them: a name, extras, a specifier.
REQUIREMENT_RE = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(?:\[[^\]]*\])?(?P<spec>.*)$")


def tracked_copy(destination: Path) -> Path:
    """The repository's files (tracked and new, minus what .gitignore leaves out)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    for name in filter(None, listing.stdout.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # a file deleted in the work tree is still listed as cached
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="module")
def repo_extraction(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("repo-renovate")
    repo = GitRepo.create(tracked_copy(root / "template"), "main", "demo/template")
    return extract(repo.path, root)


def test_repo_config_passes_renovates_validator(tmp_path: Path):
    validator = renovate_tool("renovate-config-validator")
    result = run([*node_command(validator), "--strict", "renovate.json"], REPO_ROOT, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_repo_extraction_makes_no_request(repo_extraction):
    assert repo_extraction["HTTP statistics"]["requests"] == 0


def test_every_pin_of_cookiecutter_json_is_tracked(repo_extraction):
    expected = {("golang", patch) for patch in pins()["go_patch"].values()}
    expected |= {("moby/buildkit", pins()["buildkit"]), ("docker", default("docker_version"))}
    assert found(repo_extraction, "regex") == expected


def test_every_node_tool_is_tracked(repo_extraction):
    manifest = json.loads((NODE_TOOLS / "package.json").read_text(encoding="utf-8"))
    assert found(repo_extraction, "npm") == set(manifest["dependencies"].items())


def test_every_python_dependency_is_tracked(repo_extraction):
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [
        *project["build-system"]["requires"],
        *(r for group in project["project"]["optional-dependencies"].values() for r in group),
    ]
    # requires-python is one too (Renovate's pep621 manager names it "python").
    expected = {("python", project["project"]["requires-python"])}
    for requirement in requirements:
        match = REQUIREMENT_RE.match(requirement.replace(" ", ""))
        assert match, requirement
        expected.add((match["name"].lower(), match["spec"]))
    tracked = {(name.lower(), value) for name, value in found(repo_extraction, "pep621")}
    assert tracked == expected


def test_the_template_tree_is_not_read(repo_extraction):
    """The Jinja tree's files hold {{ }} that Renovate would misread: none is extracted."""
    files = repo_extraction["Extracted dependencies"]["packageFiles"]
    names = {package["packageFile"] for manager in files.values() for package in manager}
    assert names == {"cookiecutter.json", "tools/node/package.json", "pyproject.toml"}
