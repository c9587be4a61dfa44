"""The dependency warm-up, on a service with real modules (harness.golang.deps_service: chi, uuid,
zerolog, x/text, yaml.v3, served by a module proxy on loopback, no network).

After a source change, on a fresh builder that has only the registry cache, the
compile step must compile our own packages only. If the warm-up precompiled none of
the dependency packages (as happened once: `go build` failed as a whole and an
`|| echo` hid it), the compile step compiles them all, and the count below fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.builders.buildx import Builder, registry_cache
from harness.evidence.dockerfile_steps import (
    DEPS_BUILD,
    DOWNLOAD,
    RERUN_BY_SOURCE_CHANGE,
    STD_BUILD,
    STD_COPY,
    assert_complete,
    edit_source,
)
from harness.evidence.gocache import count_compile_outputs
from harness.golang.deps_service import DEPENDENCY_BUMP, DepsService
from harness.infra.registry import Registry


@pytest.fixture(scope="module")
def deps(service_template: Path, registry: Registry, docker_tier, tmp_path_factory) -> Iterator:
    def new() -> Builder:
        return Builder(docker_tier.create_flags).create()

    with DepsService(service_template, tmp_path_factory.mktemp("deps"), registry, new) as service:
        yield service


@pytest.fixture(scope="module")
def deps_cache(deps: DepsService, docker_tier) -> str:
    """The deps service's first pipeline on its default branch, cold: the cache ref it wrote."""
    cache = f"{deps.registry.address}/deps/cache:main"
    args = {**deps.build_args, "GIT_COMMIT": "1" * 40}
    builder = Builder(docker_tier.create_flags).create()
    try:
        builder.build(deps.base, cache_to=registry_cache(cache), build_args=args).assert_ok()
    finally:
        builder.remove()
    return cache


def test_warm_up_precompiles_the_dependencies(
    deps: DepsService, deps_cache: str, tmp_path, new_builder
):
    cache = deps_cache
    project = tmp_path / deps.base.name
    shutil.copytree(deps.base, project)
    edit_source(project, "a change with dependencies")
    args = {**deps.build_args, "GIT_COMMIT": "2" * 40}
    builder = new_builder()
    result = builder.build(
        project, cache_from=[f"type=registry,ref={cache}"], build_args=args
    ).assert_ok()
    assert_complete(result.table)
    assert result.table.executed() == result.table.labels(*RERUN_BY_SOURCE_CHANGE), result.report()
    outputs = count_compile_outputs(builder, project, "/src/edit.go", args)
    assert outputs.total > 200, f"only {outputs.total} compiled packages in the builder stage"
    # Our main package and the link; the dependencies' dozens of packages came compiled.
    assert outputs.new <= 10, (
        f"the compile step wrote {outputs.new} of {outputs.total} build-cache outputs: "
        "the warm-up did not precompile the dependencies\n" + result.report()
    )
    ok, failed, zips = deps.proxy.summary()
    assert ok > 0 and any("go-chi" in path for path in zips), (ok, failed, zips)


def test_dependency_bump_keeps_the_std_stage(
    deps: DepsService, deps_cache: str, tmp_path, new_builder
):
    """A new module version reruns the download and the dependency warm-up, but the std
    stage never saw go.mod and its linked copy does not depend on the download: both come
    from the registry cache, so the standard library is not compiled again."""
    cache = deps_cache
    project = deps.bumped(tmp_path / "bumped" / deps.base.name, *DEPENDENCY_BUMP)
    args = {**deps.build_args, "GIT_COMMIT": "2" * 40}
    result = (
        new_builder()
        .build(project, cache_from=[f"type=registry,ref={cache}"], build_args=args)
        .assert_ok()
    )
    assert_complete(result.table)
    executed = result.table.executed()
    for label in result.table.labels(DOWNLOAD, DEPS_BUILD):
        assert label in executed, f"{label} did not run after the bump\n{result.report()}"
    for label in result.table.labels(STD_BUILD, STD_COPY):
        assert label not in executed, f"{label} ran again after the bump\n{result.report()}"
