"""harness.ci.ci_file reads the generated pipeline the way GitLab would evaluate it, so
the Docker tier's flags and refs are the pipeline's own."""

from __future__ import annotations

from harness.builders.buildx import registry_cache
from harness.ci.ci_file import CacheRefs, CiFile, cache_to_options

REPO = "reg.test/g/p/cache"


def test_cache_to_options_are_the_templates():
    options = cache_to_options().split(",")
    assert options[0] == "mode=max"
    assert {"image-manifest=true", "oci-mediatypes=true", "ignore-error=true"} <= set(options)
    assert registry_cache("r:t", mode="min").startswith("type=registry,ref=r:t,mode=min,")


def test_per_branch_refs(default_project):
    job = CiFile.of(default_project).build_job
    assert job.cache_refs("default", REPO, "main") == CacheRefs((f"{REPO}:main",), f"{REPO}:main")
    assert job.cache_refs("branch", REPO, "feature-x") == CacheRefs(
        (f"{REPO}:feature-x", f"{REPO}:main"), f"{REPO}:feature-x"
    )
    assert job.cache_refs("tag", REPO, "v1-0-0") == CacheRefs((f"{REPO}:main",), "")


def test_shared_refs(bake):
    job = CiFile.of(bake({"cache_strategy": "shared"})).build_job
    shared = f"{REPO}:shared"
    for kind in ("default", "branch"):
        assert job.cache_refs(kind, REPO, "feature-x") == CacheRefs((shared,), shared)
    assert job.cache_refs("tag", REPO, "v1") == CacheRefs((shared,), "")


def test_attestation_flags(bake):
    assert CiFile.of(bake({})).build_job.attestation_flags() == [
        "--provenance=false",
        "--sbom=false",
    ]
