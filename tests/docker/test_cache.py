"""What a fresh builder (a new CI job) takes from the registry cache, step by step.

Every test here starts from an empty builder, so any step that does not execute was
served by the registry. Failures print the step table and the end of the build log.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.builders.buildx import Builder, finished, registry_cache, running
from harness.evidence.dockerfile_steps import (
    COMPILE,
    COPY_SOURCE,
    DOWNLOAD,
    RERUN_BY_SOURCE_CHANGE,
    STD_BUILD,
    WARM_UP,
    assert_complete,
    edit_source,
)
from harness.evidence.gocache import count_compile_outputs
from harness.infra.registry import Registry
from harness.paths import COMMON_RECIPE
from harness.template import base_image_args


def test_no_change_rebuild_executes_nothing(main_cache, service_template: Path, new_builder):
    result = (
        new_builder()
        .build(
            service_template,
            tags=[f"{main_cache.registry.address}/svc/app:nochange"],
            push=True,
            cache_from=[f"type=registry,ref={main_cache.cache_ref}"],
            build_args={"GIT_COMMIT": main_cache.commit, "VERSION": "1.0.0"},
        )
        .assert_ok()
    )
    assert_complete(result.table)
    assert result.table.executed() == [], "steps ran although nothing changed\n" + result.report()


def test_test_only_change_executes_nothing(main_cache, project: Path, new_builder):
    """Tests are not inputs of the binary: .dockerignore keeps them out of the build
    context, so editing them reruns no step. (The demo's folder, in projects that have
    it, is kept out the same way: tests/render/test_dockerfile.py.)"""
    (project / "main_test.go").write_text(
        (project / "main_test.go").read_text(encoding="utf-8") + "\n// edited test\n",
        encoding="utf-8",
    )
    result = (
        new_builder()
        .build(
            project,
            cache_from=[f"type=registry,ref={main_cache.cache_ref}"],
            build_args={"GIT_COMMIT": main_cache.commit, "VERSION": "1.0.0"},
        )
        .assert_ok()
    )
    assert_complete(result.table)
    assert result.table.executed() == [], "a test-only edit reran steps\n" + result.report()


def test_source_change_reruns_only_copy_and_compile(main_cache, project: Path, new_builder):
    edit_source(project, "second commit")
    builder = new_builder()
    args = {"GIT_COMMIT": "2222222222222222222222222222222222222222", "VERSION": "1.0.1"}
    cache_from = [f"type=registry,ref={main_cache.cache_ref}"]
    result = builder.build(
        project,
        tags=[f"{main_cache.registry.address}/svc/app:second"],
        push=True,
        cache_from=cache_from,
        build_args=args,
    ).assert_ok()
    table = result.table
    assert_complete(table)
    assert table.executed() == table.labels(*RERUN_BY_SOURCE_CHANGE), result.report()

    # The compile step compiled our package only: count the Go build-cache entries it
    # wrote (harness.evidence.gocache), the standard library having come with the warm-up layer.
    outputs = count_compile_outputs(builder, project, "/src/edit.go", args)
    # net/http alone pulls in well over a hundred standard packages.
    assert outputs.total > 150, f"the warm-up layer holds only {outputs.total} compiled packages"
    assert outputs.new <= 10, (
        f"the compile step wrote {outputs.new} of {outputs.total} build-cache outputs: "
        "it rebuilt more than our own package"
    )


def test_arg_at_top_reruns_dependency_download(registry, project: Path, new_builder):
    """The pitfall, shown: ARG GIT_COMMIT at the top of the builder stage."""
    recipe = COMMON_RECIPE
    images = base_image_args(project)  # the template's own base images
    ref = f"{registry.address}/common/cache:main"
    new_builder().build(
        project,
        dockerfile=recipe,
        cache_to=registry_cache(ref),
        build_args={**images, "GIT_COMMIT": "a" * 40},
    ).assert_ok()
    edit_source(project, "next commit")
    # The pitfall shows once the download has run: the rebuild is stopped there,
    # before its compile (which recompiles the standard library as well).
    result = (
        new_builder()
        .build(
            project,
            dockerfile=recipe,
            cache_from=[f"type=registry,ref={ref}"],
            build_args={**images, "GIT_COMMIT": "b" * 40},
            stop_when=finished(DOWNLOAD),
        )
        .assert_stopped()
    )
    # The recipe's own steps (no warm-up; an unnamed runtime stage) must all be there.
    result.table.labels(
        DOWNLOAD,
        ("builder", "COPY . ."),  # straight from the checkout: no checkout stage
        ("builder", "RUN CGO_ENABLED=0 GOOS="),  # BuildKit shows the ARG values
        ("stage-1", "COPY --from=builder"),
    )
    assert result.table.labels(DOWNLOAD)[0] in result.table.executed(), result.report()


@dataclass(frozen=True)
class FinalLayerCaches:
    """The two caches that describe only the final image's layers: a mode=min registry
    cache, and an inline cache, which rides in the pushed image's config and is always
    like min."""

    min_ref: str
    inline_image: str
    build_args: dict[str, str]


@pytest.fixture(scope="module")
def final_layer_caches(registry, main_cache, service_template: Path, docker_tier):
    """The min cache is the one the session's cold build wrote with mode=min alone, as
    a project that only ever used min has. A min export keeps every intermediate layer
    whose blob its builder already holds, so one written by a build that READ a mode=max
    cache, or exported beside one, carries part of the builder stage (see main_cache).
    The inline cache holds only the pushed image's own layers, so the build that pushes
    it reads the default branch's cache and compiles nothing."""
    caches = FinalLayerCaches(
        min_ref=main_cache.min_ref,
        inline_image=f"{registry.address}/inline/app:main",
        build_args={"GIT_COMMIT": main_cache.commit, "VERSION": "1.0.0"},
    )
    builder = Builder(docker_tier.create_flags).create()
    try:
        builder.build(
            service_template,
            tags=[caches.inline_image],
            push=True,
            cache_from=[f"type=registry,ref={main_cache.cache_ref}"],
            cache_to="type=inline",
            build_args=caches.build_args,
        ).assert_ok()
    finally:
        builder.remove()
    assert registry.manifest("min/cache", "main") is not None, "no min cache was written"
    return caches


def test_min_and_inline_caches_lose_builder_stage(
    final_layer_caches: FinalLayerCaches, project: Path, new_builder
):
    """After a source change the std stage and the builder stage run again from the
    top. One rebuild reads BOTH caches: BuildKit takes a step from whichever cache holds
    it, so a step it executes is held by neither. The rebuild stops once the module
    download has run (here BuildKit starts the builder stage only once the std stage's
    compile is done), before the warm-up and the compile."""
    edit_source(project, "next commit")
    caches = final_layer_caches
    result = (
        new_builder()
        .build(
            project,
            cache_from=[
                f"type=registry,ref={caches.min_ref}",
                f"type=registry,ref={caches.inline_image}",
            ],
            build_args={**caches.build_args, "GIT_COMMIT": "b" * 40},
            stop_when=lambda table: finished(DOWNLOAD)(table) and running(STD_BUILD)(table),
        )
        .assert_stopped()
    )
    executed = result.table.executed()
    for step in result.table.labels(DOWNLOAD, STD_BUILD):
        assert step in executed, f"{step} came from a min or an inline cache\n{result.report()}"


@pytest.mark.parametrize("kind", ["min", "inline"])
def test_unchanged_rebuild_is_served_even_by_a_final_layer_cache(
    final_layer_caches: FinalLayerCaches, service_template: Path, new_builder, kind
):
    """The limit of the pitfall above: with NO change, the final image's layers match,
    so BuildKit never needs the builder stage and either cache serves every step. Their
    cost only shows once something inside the builder stage changes."""
    caches = final_layer_caches
    ref = caches.min_ref if kind == "min" else caches.inline_image
    result = new_builder().build(
        service_template, cache_from=[f"type=registry,ref={ref}"], build_args=caches.build_args
    )
    assert_complete(result.assert_ok().table)
    assert result.table.executed() == [], result.report()


def test_missing_cache_ref_is_not_an_error(main_cache):
    """The first pipeline of a project, or of a branch, finds no cache: it builds cold.
    The default branch's first pipeline (the main_cache fixture) is such a build: it
    read svc/cache:main before anything had written it."""
    table = main_cache.result.table
    assert_complete(table)
    executed = table.executed()
    for step in table.labels(DOWNLOAD, *WARM_UP, COPY_SOURCE, COMPILE):
        assert step in executed, main_cache.result.report()
    assert main_cache.registry.manifest("svc/cache", "main") is not None, "no cache was written"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("fault", ["registry down", "registry read-only"])
def test_cache_export_failure_does_not_fail_build(
    registry, main_cache, project: Path, new_builder, fault
):
    """ignore-error=true: the image is pushed even when the cache cannot be written.
    The build reads the default branch's cache (so it compiles nothing): the export is
    what this test is about."""
    image = f"{registry.address}/faults/app:{fault.split()[-1]}"
    with contextlib.ExitStack() as stack:
        if fault == "registry down":
            cache_ref = f"localhost:{free_port()}/faults/cache:main"  # nothing listens there
        else:
            read_only = stack.enter_context(
                Registry(REGISTRY_STORAGE_MAINTENANCE_READONLY='{"enabled": true}')
            )
            cache_ref = f"{read_only.address}/faults/cache:main"
        result = new_builder().build(
            project,
            tags=[image],
            push=True,
            cache_from=[f"type=registry,ref={main_cache.cache_ref}"],
            cache_to=registry_cache(cache_ref),
            build_args={"GIT_COMMIT": main_cache.commit, "VERSION": "1.0.0"},
        )
        assert result.returncode == 0, (
            f"a cache export failure failed the build ({fault})\n" + result.report()
        )
        if fault == "registry read-only":
            assert read_only.manifest("faults/cache", "main") is None, (
                "the read-only registry took a write"
            )
    assert registry.manifest("faults/app", fault.split()[-1]) is not None, (
        "the image was not pushed"
    )
