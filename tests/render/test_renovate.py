"""The generated Renovate config is valid and finds every pinned version, checked by
Renovate itself (the release pinned in tools/node), offline.

Extraction runs Renovate on the baked project as a local repository with
`--platform=local --dry-run=extract`: it reads the files, applies the managers and
stops before any lookup, so no request leaves the machine (the test checks Renovate's
own HTTP count too).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.infra.nodetools import node_command
from harness.infra.renovate import extract, found, renovate_tool, run
from harness.pipeline.emulator import GitRepo
from harness.template import buildkit_image, default, go_patch, runtime_image


@pytest.mark.parametrize("builder", ["dind", "shared"])
def test_config_passes_renovates_validator(bake, builder: str, tmp_path: Path):
    """The shared builder's config adds a kubernetes manager block and a group."""
    project = bake({"builder": builder})
    validator = renovate_tool("renovate-config-validator")
    result = run([*node_command(validator), "--strict", "renovate.json"], project, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_config_fails_the_validator(default_project: Path, tmp_path: Path):
    """The check above can fail: an unknown option is refused."""
    validator = renovate_tool("renovate-config-validator")
    config = json.loads((default_project / "renovate.json").read_text(encoding="utf-8"))
    config["packageRules"][0]["groupNam"] = "typo"
    broken = tmp_path / "renovate.json"
    broken.write_text(json.dumps(config), encoding="utf-8")
    result = run([*node_command(validator), "--strict", str(broken)], tmp_path, tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr


def extract_project(project: Path, root: Path) -> dict[str, object]:
    """Renovate's log records of one extract-only run on a baked project."""
    return extract(GitRepo.from_baked(project, root / "project").path, root)


@pytest.fixture(scope="module")
def extraction(default_project: Path, tmp_path_factory) -> dict[str, object]:
    return extract_project(default_project, tmp_path_factory.mktemp("renovate"))


def test_extraction_makes_no_request(extraction):
    assert extraction["HTTP statistics"]["requests"] == 0


def test_every_pin_is_tracked(extraction):
    go = go_patch()
    docker = default("docker_version")
    distroless, tag = runtime_image().rsplit(":", 1)
    buildkit, buildkit_tag = buildkit_image().split(":")
    assert found(extraction, "dockerfile") == {("golang", go), (distroless, tag)}
    assert found(extraction, "regex") == {
        ("golang", go),
        (buildkit, buildkit_tag),
        ("docker", docker),
        ("docker", f"{docker}-dind"),
    }
    assert found(extraction, "gomod") == {("go", default("go_version"))}


def test_shared_builders_manifest_is_tracked_with_buildkit_image(bake, tmp_path: Path):
    """builder=shared: the service's image in shared-buildkit.yaml is found by the
    kubernetes manager, and one group moves it with BUILDKIT_IMAGE of the CI file."""
    project = bake({"builder": "shared"})
    records = extract_project(project, tmp_path)
    assert records["HTTP statistics"]["requests"] == 0
    buildkit, buildkit_tag = buildkit_image().split(":")
    # The manager also lists each kind's apiVersion (datasource kubernetes-api).
    images = {
        (dep["depName"], dep["currentValue"])
        for package_file in records["Extracted dependencies"]["packageFiles"]["kubernetes"]
        for dep in package_file["deps"]
        if dep.get("datasource") == "docker"
    }
    assert images == {(buildkit, f"{buildkit_tag}-rootless")}
    assert (buildkit, buildkit_tag) in found(records, "regex")
    config = json.loads((project / "renovate.json").read_text(encoding="utf-8"))
    groups = {
        rule.get("groupName"): rule["matchPackageNames"]
        for rule in config["packageRules"]
        if "matchPackageNames" in rule
    }
    assert groups["BuildKit"] == [buildkit]
