"""What the generated pipeline's builder runs and pushes, beyond the cache: the pinned
BuildKit release, and exactly the attestations the project chose."""

from __future__ import annotations

import json

import pytest

from harness.ci.ci_file import CiFile
from harness.infra.registry import Registry
from harness.template import buildkit_image, pins

# How buildx marks an attestation manifest in an image index.
REFERENCE_TYPE = "vnd.docker.reference.type"


def test_builder_runs_the_pinned_buildkit(new_builder):
    image, version = new_builder().buildkit_version()
    assert image == buildkit_image(), f"the builder container runs {image}"
    assert pins()["buildkit"] in version.split(), f"buildkitd --version says {version!r}"


def index_entries(registry: Registry, repository: str, tag: str) -> list[dict]:
    found = registry.manifest(repository, tag)
    assert found is not None, f"{repository}:{tag} was not pushed"
    manifest = found[1]
    return manifest.get("manifests") or []


def attestation_predicates(registry: Registry, repository: str, entry: dict) -> set[str]:
    found = registry.manifest(repository, entry["digest"])
    assert found is not None
    return {
        layer.get("annotations", {}).get("in-toto.io/predicate-type", "")
        for layer in found[1].get("layers") or []
    }


@pytest.mark.parametrize(
    ("choice", "predicates"),
    [
        ("none", set()),
        # SLSA provenance v1: BuildKit's default since moby/buildkit#6526 (before: v0.2).
        ("provenance", {"https://slsa.dev/provenance/v1"}),
        ("provenance+sbom", {"https://slsa.dev/provenance/v1", "https://spdx.dev/Document"}),
    ],
)
def test_pushed_index_holds_exactly_the_chosen_attestations(
    bake, tmp_path, registry: Registry, main_cache, new_builder, choice, predicates
):
    """The choice changes only the job's flags, not the Dockerfile: the build reads the
    default branch's cache and commit, so it spends its time on the attestations."""
    project = bake({"attestations": choice})
    flags = CiFile.of(project).build_job.attestation_flags()
    assert len(flags) == 2, f"the build job should say both --provenance and --sbom: {flags}"
    repository = f"attest-{choice.replace('+', '-')}/app"
    result = (
        new_builder()
        .build(
            project,
            tags=[f"{registry.address}/{repository}:main"],
            push=True,
            extra=flags,
            cache_from=[f"type=registry,ref={main_cache.cache_ref}"],
            build_args={"GIT_COMMIT": main_cache.commit, "VERSION": "1.0.0"},
        )
        .assert_ok()
    )
    entries = index_entries(registry, repository, "main")
    attestations = [e for e in entries if REFERENCE_TYPE in (e.get("annotations") or {})]
    images = [e for e in entries if e not in attestations]
    report = json.dumps(entries, indent=2) + "\n" + result.report()
    if not predicates:
        # One image and nothing beside it: no "unknown/unknown" entry in a registry UI.
        assert len(images) <= 1 and attestations == [], report
        assert all(e.get("platform", {}).get("os") != "unknown" for e in entries), report
        return
    assert len(images) == 1 and len(attestations) == 1, report
    assert attestations[0]["platform"] == {"architecture": "unknown", "os": "unknown"}, report
    assert attestations[0]["annotations"]["vnd.docker.reference.digest"] == images[0]["digest"]
    assert attestation_predicates(registry, repository, attestations[0]) == predicates, report
