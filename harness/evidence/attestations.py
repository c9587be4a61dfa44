"""Reads of the attestations a pushed image index holds.

BuildKit puts one attestation manifest per platform image into the index, marked with
`vnd.docker.reference.type` and the image's digest in `vnd.docker.reference.digest`,
and listed as platform `unknown/unknown`. `attested_index_problems()` says what is
wrong with an index against the attestations a project chose (empty: nothing).
"""

from __future__ import annotations

from harness.infra.registry import Registry

REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
# The predicate type of each attestation a project can choose. SLSA provenance v1 is
# BuildKit's default since moby/buildkit#6526 (before: v0.2).
PREDICATES: dict[str, set[str]] = {
    "none": set(),
    "provenance": {"https://slsa.dev/provenance/v1"},
    "provenance+sbom": {"https://slsa.dev/provenance/v1", "https://spdx.dev/Document"},
}


def index_entries(registry: Registry, repository: str, tag: str) -> list[dict]:
    found = registry.manifest(repository, tag)
    assert found is not None, f"{repository}:{tag} was not pushed"
    return found[1].get("manifests") or []


def attestation_predicates(registry: Registry, repository: str, entry: dict) -> set[str]:
    found = registry.manifest(repository, entry["digest"])
    assert found is not None, f"{repository}@{entry['digest']} is listed but absent"
    return {
        layer.get("annotations", {}).get("in-toto.io/predicate-type", "")
        for layer in found[1].get("layers") or []
    }


def attested_index_problems(
    registry: Registry, repository: str, tag: str, choice: str, platforms: str
) -> list[str]:
    """What differs from: one image per platform, and beside each exactly one attestation
    manifest (listed as unknown/unknown) with exactly the chosen predicates."""
    entries = index_entries(registry, repository, tag)
    attestations = [e for e in entries if REFERENCE_TYPE in (e.get("annotations") or {})]
    images = [e for e in entries if e not in attestations]
    problems: list[str] = []
    pushed = sorted(f"{e['platform']['os']}/{e['platform']['architecture']}" for e in images)
    if pushed != sorted(platforms.split(",")):
        problems.append(f"image platforms {pushed}, expected {platforms}")
    expected = PREDICATES[choice]
    if not expected:
        if attestations or any(e.get("platform", {}).get("os") == "unknown" for e in entries):
            problems.append("attestations (or unknown/unknown entries) where none were chosen")
        return problems
    described = sorted(e["annotations"][REFERENCE_DIGEST] for e in attestations)
    if described != sorted(e["digest"] for e in images):
        problems.append(f"attestations describe {described}, not one per image")
    for entry in attestations:
        if entry.get("platform") != {"architecture": "unknown", "os": "unknown"}:
            problems.append(f"attestation {entry['digest']} is listed as {entry.get('platform')}")
        found = attestation_predicates(registry, repository, entry)
        if found != expected:
            problems.append(f"attestation {entry['digest']} holds {found}, expected {expected}")
    return problems
