"""Fixtures of the Docker tier: thin wrappers over the harness.

Without a working Docker engine and buildx the tier skips with the reason on a
laptop, and fails under CI (CI=true): a missing daemon must never turn it green.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.builders.buildx import Builder, BuildResult, registry_cache
from harness.ci.ci_file import CiFile
from harness.infra.registry import Login, Registry
from harness.infra.settings import TierSettings

NewBuilder = Callable[[], Builder]


@pytest.fixture(scope="session")
def registry(docker_tier: TierSettings) -> Iterator[Registry]:
    """One registry for the session; each scenario uses repositories of its own."""
    with Registry() as running:
        yield running


@pytest.fixture(scope="module")
def login_registry(docker_tier: TierSettings) -> Iterator[Registry]:
    """A registry that requires a login, as $CI_REGISTRY does: one per test module."""
    with Registry(login=Login("ci-user", secrets.token_urlsafe(18))) as running:
        yield running


@pytest.fixture
def new_builder(docker_tier: TierSettings) -> Iterator[NewBuilder]:
    """Create as many fresh builders as a scenario needs; all are removed afterwards."""
    made: list[Builder] = []

    def make() -> Builder:
        builder = Builder(docker_tier.create_flags).create()
        made.append(builder)
        return builder

    yield make
    for builder in made:
        builder.remove()


@pytest.fixture(scope="session")
def service_template(bake, docker_tier: TierSettings) -> Path:
    """The default project, baked once. Scenarios copy it before changing anything."""
    return bake({})


@pytest.fixture
def project(service_template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / service_template.name
    shutil.copytree(service_template, copy)
    return copy


@dataclass(frozen=True)
class MainCache:
    """The default branch's pipeline, run once: image pushed, cache:main written."""

    registry: Registry
    image: str
    cache_ref: str
    commit: str
    result: BuildResult
    min_ref: str  # the cold build's cache exported with mode=min alone (test_cache.py)


@pytest.fixture(scope="session")
def main_cache(
    registry: Registry, service_template: Path, docker_tier: TierSettings
) -> Iterator[MainCache]:
    builder = Builder(docker_tier.create_flags).create()
    try:
        image = f"{registry.address}/svc/app:main"
        # The refs of the generated pipeline's default-branch rule.
        refs = CiFile.of(service_template).build_job.cache_refs(
            "default", f"{registry.address}/svc/cache"
        )
        (cache_ref,) = refs.read
        assert refs.write == cache_ref == f"{registry.address}/svc/cache:main", refs
        commit = "1111111111111111111111111111111111111111"
        # The project's first pipeline: its cache ref does not exist yet (which
        # test_cache.py::test_missing_cache_ref_is_not_an_error relies on).
        assert registry.manifest("svc/cache", "main") is None, "svc/cache:main exists already"
        # The min-cache pitfall's cache (test_cache.py) comes from this cold build too,
        # but from a build of its own: BuildKit runs a build's cache exports side by side,
        # and a mode=min export also keeps any intermediate layer whose blob already exists
        # (solver/exporter.go: below the final layer, min becomes "remote only"). Exported
        # next to mode=max, it sometimes held the builder stage. So the cold build writes
        # min alone, and a second build on the same builder, served wholly by its local
        # cache, writes the pipeline's mode=max ref.
        min_ref = f"{registry.address}/min/cache:main"
        build_args = {"GIT_COMMIT": commit, "VERSION": "1.0.0"}
        result = builder.build(
            service_template,
            tags=[image],
            push=True,
            cache_from=[f"type=registry,ref={cache_ref}"],
            cache_to=registry_cache(min_ref, mode="min"),
            build_args=build_args,
            extra=CiFile.of(service_template).build_job.attestation_flags(),
        ).assert_ok()
        again = builder.build(
            service_template, cache_to=registry_cache(refs.write), build_args=build_args
        ).assert_ok()
        assert again.table.executed() == [], again.report()
        print("\ncold build of the default project:\n" + result.table.render())
    finally:
        builder.remove()
    yield MainCache(registry, image, cache_ref, commit, result, min_ref)
