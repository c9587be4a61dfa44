"""The generated .gitlab-ci.yml: parsed, validated against GitLab's schema, and its
caching contract (images, builder, cache flags, refs per branch and tag) asserted."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.builders.buildx import PUSH_OUTPUT
from harness.ci.ci_file import CiFile, Job
from harness.ci.stub_runner import run_job_script
from harness.infra.policy import require_tool
from harness.template import (
    COMBINATIONS,
    buildkit_image,
    combination_id,
    default,
    go_image,
)

CACHE_TO_OPTIONS = "mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"


def load_ci(project: Path) -> dict[str, Any]:
    return CiFile.of(project).config


def script_text(project: Path) -> str:
    """The build job's before_script and script, as its shell runs them."""
    return "\n".join(CiFile.of(project).build_job.lines())


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_matches_gitlab_ci_schema(bake, overrides):
    project = bake(overrides)
    tool = require_tool("check-jsonschema")
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.gitlab-ci", str(project / ".gitlab-ci.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stages_and_workflow(default_project):
    ci = load_ci(default_project)
    assert ci["stages"] == ["test", "build"]
    assert ci["go-test"]["stage"] == "test"
    assert ci["build-image"]["stage"] == "build"
    conditions = [rule["if"] for rule in ci["workflow"]["rules"]]
    assert conditions == [
        '$CI_PIPELINE_SOURCE == "merge_request_event"',
        "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS",
        "$CI_COMMIT_BRANCH",
        "$CI_COMMIT_TAG",
    ]
    # The branch pipeline of a branch with an open merge request is the duplicate.
    assert ci["workflow"]["rules"][1]["when"] == "never"
    assert "only" not in ci["build-image"] and "except" not in ci["build-image"]


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_images_are_pinned(bake, overrides):
    project = bake(overrides)
    ci = load_ci(project)
    docker = overrides.get("docker_version", default("docker_version"))
    go = overrides.get("go_version", default("go_version"))
    prefix = "${IMAGE_PREFIX}"
    builder = overrides.get("builder", default("builder"))
    if builder == "dind":
        assert ci["build-image"]["image"] == f"{prefix}docker:{docker}"
        assert ci["build-image"]["services"] == [
            {"name": f"{prefix}docker:{docker}-dind", "alias": "docker"}
        ]
    elif builder == "shared":
        # Only the client: the pinned docker image, no dind service.
        assert ci["build-image"]["image"] == f"{prefix}docker:{docker}"
        assert "services" not in ci["build-image"]
    else:
        # The pinned BuildKit release, its rootless variant, and nothing beside it.
        assert ci["build-image"]["image"]["name"] == "${BUILDKIT_IMAGE}-rootless"
        assert "services" not in ci["build-image"]
    # One place for the Go image: the test job names the variable the build uses.
    assert ci["go-test"]["image"] == "$GO_IMAGE"
    assert ci["variables"]["GO_IMAGE"] == f"{prefix}{go_image(go)}"
    assert ci["variables"]["BUILDKIT_IMAGE"] == f"{prefix}{buildkit_image()}"
    expected_prefix = (
        "${CI_DEPENDENCY_PROXY_DIRECT_GROUP_IMAGE_PREFIX}/"
        if overrides.get("use_dependency_proxy")
        else ""
    )
    assert ci["variables"]["IMAGE_PREFIX"] == expected_prefix
    lines = (project / ".gitlab-ci.yml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    for image in re.findall(r"(?:docker|golang|buildkit):[^\s\"]*", text):
        assert not image.endswith((":latest", ":stable", ":dind", "buildx-stable-1")), (
            f"unpinned image {image}"
        )


def test_dind_uses_tls(default_project):
    variables = load_ci(default_project)["build-image"]["variables"]
    assert variables == {
        "DOCKER_HOST": "tcp://docker:2376",
        "DOCKER_TLS_CERTDIR": "/certs",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": "/certs/client",
    }


def test_login_and_builder(default_project):
    before = load_ci(default_project)["build-image"]["before_script"]
    assert before[0] == (
        'echo "$CI_REGISTRY_PASSWORD" | docker login --username "$CI_REGISTRY_USER" '
        '--password-stdin "$CI_REGISTRY"'
    )
    assert before[1:] == [
        "docker context create ci-context",
        "docker buildx create --name ci-builder --driver docker-container"
        ' --driver-opt "image=$BUILDKIT_IMAGE" --use ci-context',
        "docker buildx inspect --bootstrap",
    ]
    text = script_text(default_project)
    assert " -p " not in text and "--password " not in text


def test_dependency_proxy_login(bake):
    before = load_ci(bake({"use_dependency_proxy": True}))["build-image"]["before_script"]
    assert before[1] == (
        'echo "$CI_DEPENDENCY_PROXY_PASSWORD" | docker login '
        '--username "$CI_DEPENDENCY_PROXY_USER" --password-stdin "$CI_DEPENDENCY_PROXY_SERVER"'
    )


def test_build_command_flags(default_project):
    text = script_text(default_project)
    for fragment in [
        'set -- --output "type=registry,oci-artifact=false" --platform "$PLATFORMS"',
        '--tag "$IMAGE_REPOSITORY:$CI_COMMIT_REF_SLUG"',
        'set -- "$@" --tag "$IMAGE_REPOSITORY:$SHA_TAG"',
        "--provenance=false --sbom=false",
        '--build-arg "GO_IMAGE=$GO_IMAGE"',
        '--build-arg "GIT_COMMIT=$CI_COMMIT_SHA"',
        '--build-arg "VERSION=${CI_COMMIT_TAG:-$CI_COMMIT_SHORT_SHA}"',
        '--cache-from "type=registry,ref=$CACHE_FROM_REF"',
        'set -- "$@" --tag "$IMAGE_REPOSITORY:$EXTRA_TAG"',
        'set -- "$@" --cache-from "type=registry,ref=$CACHE_FALLBACK_REF"',
        f'set -- "$@" --cache-to "type=registry,ref=$CACHE_TO_REF,{CACHE_TO_OPTIONS}"',
        'docker buildx build "$@" .',
    ]:
        assert fragment in text, f"missing from the build script: {fragment}"
    # The Docker tier's pushes (harness.builders.buildx) push as the job does.
    assert CiFile.of(default_project).build_job.export_flags() == [f"--output={PUSH_OUTPUT}"]


@pytest.mark.parametrize(
    ("overrides", "platforms"),
    [({}, "linux/amd64"), ({"platforms": "linux/amd64,linux/arm64"}, "linux/amd64,linux/arm64")],
)
def test_platforms(bake, overrides, platforms):
    assert load_ci(bake(overrides))["variables"]["PLATFORMS"] == platforms


TAG = "$CI_COMMIT_TAG"
DEFAULT = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
OTHER = '$CI_COMMIT_BRANCH || $CI_PIPELINE_SOURCE == "merge_request_event"'


def test_per_branch_cache_refs(default_project):
    ci = CiFile.of(default_project)
    assert ci.variables["CACHE_REPOSITORY"] == "$CI_REGISTRY_IMAGE/cache"
    assert ci.variables["DEFAULT_BRANCH_CACHE_TAG"] == "main"
    job = ci.build_job
    assert [rule["if"] for rule in job.rules] == [TAG, DEFAULT, OTHER]
    main_ref = "$CACHE_REPOSITORY:$DEFAULT_BRANCH_CACHE_TAG"
    branch_ref = "$CACHE_REPOSITORY:$CI_COMMIT_REF_SLUG"
    assert job.rule_if(TAG)["variables"] == {
        "CACHE_FROM_REF": main_ref,
        "CACHE_FALLBACK_REF": "",
        "CACHE_TO_REF": "",  # tags write no cache
        "EXTRA_TAG": "$CI_COMMIT_TAG",
        "SHA_TAG": "",  # the commit's SHA tag stays on its branch build
    }
    assert job.rule_if(DEFAULT)["variables"] == {
        "CACHE_FROM_REF": main_ref,
        "CACHE_FALLBACK_REF": "",
        "CACHE_TO_REF": main_ref,
        "EXTRA_TAG": "latest",
        "SHA_TAG": "$CI_COMMIT_SHA",
    }
    assert job.rule_if(OTHER)["variables"] == {
        "CACHE_FROM_REF": branch_ref,
        "CACHE_FALLBACK_REF": main_ref,
        "CACHE_TO_REF": branch_ref,
        "EXTRA_TAG": "",
        "SHA_TAG": "$CI_COMMIT_SHA",
    }


def test_shared_cache_ref(bake):
    ci = CiFile.of(bake({"cache_strategy": "shared"}))
    assert "DEFAULT_BRANCH_CACHE_TAG" not in ci.variables
    shared = "$CACHE_REPOSITORY:$SHARED_CACHE_TAG"
    job = ci.build_job
    assert [rule["if"] for rule in job.rules] == [TAG, DEFAULT, OTHER]
    for condition in (DEFAULT, OTHER):
        variables = job.rule_if(condition)["variables"]
        assert (variables["CACHE_FROM_REF"], variables["CACHE_TO_REF"]) == (shared, shared)
        assert variables["CACHE_FALLBACK_REF"] == ""
    assert job.rule_if(TAG)["variables"]["CACHE_TO_REF"] == ""


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        ("main", "main"),
        ("develop", "develop"),
        ("release/Stable_2", "release-stable-2"),
        ("v1.x", "v1-x"),
    ],
)
def test_default_branch_cache_tag_is_gitlabs_slug(bake, branch, slug):
    """GitLab's CI_COMMIT_REF_SLUG: lower case, anything but a-z0-9 becomes '-'."""
    ci = load_ci(bake({"default_branch": branch}))
    assert ci["variables"]["DEFAULT_BRANCH_CACHE_TAG"] == slug


def run_build_script(job: Job, kind: str, tmp_path: Path, **ci: str) -> list[str]:
    """The job's script run under `sh` with a stub `docker` that prints its arguments,
    with the variables GitLab would give it in a `kind` pipeline and the CI_* values given."""
    run = run_job_script(job, kind, tmp_path, "docker", **ci)
    assert run.returncode == 0, run.stderr
    args = run.args
    assert args[:2] == ["buildx", "build"]
    assert args[-1] == "."
    return args


def tags_of(args: list[str]) -> list[str]:
    return [value for flag, value in itertools.pairwise(args) if flag == "--tag"]


def test_build_script_runs_in_a_posix_shell(default_project, tmp_path):
    """Run the job's script with a stub `docker` to see the exact arguments per ref kind."""
    job = CiFile.of(default_project).build_job
    args = run_build_script(job, "branch", tmp_path)
    pairs = list(itertools.pairwise(args[2:-1]))
    assert ("--cache-from", "type=registry,ref=reg.test/g/p/cache:feature-x") in pairs
    assert ("--cache-from", "type=registry,ref=reg.test/g/p/cache:main") in pairs
    assert (
        "--cache-to",
        f"type=registry,ref=reg.test/g/p/cache:feature-x,{CACHE_TO_OPTIONS}",
    ) in pairs
    assert ("--build-arg", "VERSION=01234567") in pairs
    # The branch slug and the commit; no latest on a feature branch.
    assert tags_of(args) == ["reg.test/g/p:feature-x", "reg.test/g/p:0123456789abcdef"]


def test_release_pushes_its_tags_and_leaves_the_sha_tag_alone(default_project, tmp_path):
    """A tag pipeline rebuilds the commit with VERSION=<tag>. Pushing :<sha> again would
    move the commit's own tag (pushed by its branch build) to the release build."""
    job = CiFile.of(default_project).build_job
    args = run_build_script(
        job, "tag", tmp_path, CI_COMMIT_TAG="v1.0.0", CI_COMMIT_REF_SLUG="v1-0-0"
    )
    assert tags_of(args) == ["reg.test/g/p:v1-0-0", "reg.test/g/p:v1.0.0"]
    pairs = list(itertools.pairwise(args[2:-1]))
    assert ("--build-arg", "VERSION=v1.0.0") in pairs
    assert "--cache-to" not in args


@pytest.mark.parametrize(
    ("choice", "flags"),
    [
        ("none", "--provenance=false --sbom=false"),
        ("provenance", "--provenance=mode=max --sbom=false"),
        ("provenance+sbom", "--provenance=mode=max --sbom=true"),
    ],
)
def test_attestations_are_explicit(bake, choice, flags):
    """Whatever buildx's default, the pipeline says which attestations it pushes."""
    text = script_text(bake({"attestations": choice}))
    assert text.count("--provenance=") == 1 and text.count("--sbom=") == 1
    assert flags in text
