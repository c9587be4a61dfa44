"""One measured build: a fresh builder of the variant's kind (docker-container, rootless,
or remote on a shared BuildKit service), the build against the throwaway registry, and
its Record (times, compile step, bytes pulled and pushed, load); and the registry sizes
of a run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import measure, plan
from bench.contexts import Service
from bench.plan import SCENARIOS, Variant
from harness.builders.buildx import Builder, BuildResult
from harness.builders.rootless import RootlessBuilder
from harness.builders.shared import SharedBuildKit
from harness.evidence.step_table import STEP_RE, iter_json_objects, merge_vertices
from harness.infra.commands import docker
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings


@dataclass
class Record:
    run: int
    service: str
    variant: str
    scenario: str
    seconds: float
    compile_step: str
    compile_status: str
    compile_seconds: float
    bytes_pulled: int
    bytes_pushed: int
    split: dict[str, float]  # measure.TimeSplit: pull, unpack, steps, export, push, other
    executed: list[str]
    steps: int
    table: list[tuple[str, str, float]]  # every step: label, result, seconds
    other: list[tuple[str, float]]  # BuildKit's other work: cache import/export, push
    load_before: float
    load_after: float
    other_builders: int


def other_builders(mine: str) -> int:
    """BuildKit containers running that are not this build's (other sessions' load)."""
    names = docker("ps", "--format", "{{.Names}}", check=False).stdout.split()
    return sum(1 for name in names if name.startswith("buildx_buildkit_") and mine not in name)


@contextmanager
def fresh_builder(create_flags: tuple[str, ...]) -> Iterator[Builder]:
    builder = Builder(create_flags, name=f"gotpl-bench-{uuid.uuid4().hex[:8]}")
    try:
        yield builder.create()
    finally:
        builder.remove()


class SharedServices:
    """The shared-builder variant's BuildKit services: a new, empty one for each cold
    build, kept for the rebuilds of that run, service and variant; all stopped at the end."""

    def __init__(self, settings: TierSettings, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        self.running: dict[tuple[int, str, str], SharedBuildKit] = {}

    def create_flags(self, run: int, service: str, variant: Variant, scenario: str) -> list[str]:
        """buildx flags for a remote builder on the right service (started if new)."""
        key = (run, service, variant.key)
        if scenario == SCENARIOS[0] or key not in self.running:
            if key in self.running:
                self.running.pop(key).stop()
            folder = self.folder / f"{run}-{service}-{variant.key}-{uuid.uuid4().hex[:6]}"
            self.running[key] = SharedBuildKit(self.settings, folder).__enter__()
        shared = self.running[key]
        return shared.buildx_create_flags(shared.client_files())

    def __enter__(self) -> SharedServices:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for shared in self.running.values():
            shared.stop()


@contextmanager
def builder_for(
    variant: Variant, create_flags: tuple[str, ...] | list[str]
) -> Iterator[Builder | RootlessBuilder]:
    """A new builder of the variant's kind: a buildx builder (docker-container, or
    remote on a shared service), or a rootless BuildKit that lives for the one build
    (nothing to remove afterwards)."""
    if variant.builder == "rootless":
        yield RootlessBuilder(TierSettings.load())
        return
    with fresh_builder(tuple(create_flags)) as builder:
        yield builder


def compile_step(result: BuildResult) -> tuple[str, str, float]:
    """The compile step: the last RUN of the builder stage (in both Dockerfiles)."""
    runs = [s for s in result.table if s.stage == "builder" and s.text.startswith("RUN ")]
    if not runs:
        return "", "", 0.0
    step = runs[-1]
    return step.label, step.status, step.seconds


def other_work(stream: str) -> list[tuple[str, float]]:
    """Seconds of the vertices that are not Dockerfile steps (importing the cache
    manifest, exporting the image and the cache, pushing), of 0.05 s or more."""
    work = []
    for vertex in merge_vertices(iter_json_objects(stream)).values():
        if STEP_RE.match(vertex.name) or not (vertex.started and vertex.completed):
            continue
        seconds = (vertex.completed - vertex.started).total_seconds()
        if seconds >= 0.05:
            work.append((vertex.name[:90], round(seconds, 3)))
    return work


def build_args(service: Service, commit: str) -> dict[str, str]:
    # CI passes the short SHA as VERSION; every Dockerfile gets the same base images.
    return {"GIT_COMMIT": commit, "VERSION": commit[:8], **service.build_args}


def repository(service: str, variant: Variant, run: int) -> str:
    """Each run and variant pushes to repositories of its own: a cold build starts empty."""
    return f"{service}-{variant.name}-r{run}"


def pushed_bytes(
    registry: Registry, repo: str, tag: str, variant: Variant, known: dict[str, set[str]]
) -> int:
    """Bytes of the blobs this build's image and cache manifests hold that their
    repositories did not hold before (known: digests per repository, updated here)."""
    total = 0
    parts = [("app", tag)] + ([("cache", tag)] if variant.cache in ("max", "min") else [])
    for kind, reference in parts:
        name = f"{repo}/{kind}"
        try:
            blobs = measure.manifest_blobs(registry, name, reference)
        except LookupError:
            continue  # a cache export that failed (ignore-error=true) wrote nothing
        total += measure.new_bytes(blobs, known.setdefault(name, set()))
    return total


def measured_build(
    create_flags: tuple[str, ...],
    registry: Registry,
    service: Service,
    variant: Variant,
    scenario: str,
    run: int,
    known: dict[str, set[str]],
    shared: SharedServices | None = None,
) -> Record:
    repo = repository(service.name, variant, run)
    tag = scenario
    cold_cache = f"{registry.address}/{repo}/cache:cold"
    cold_image = f"{registry.address}/{repo}/app:cold"
    project = service.project(scenario)
    assert project is not None, f"{scenario} does not apply to {service.name}"
    output = plan.image_output(variant)
    if variant.builder == "shared":
        assert shared is not None, "the shared-builder variant needs its services"
        create_flags = tuple(shared.create_flags(run, service.name, variant, scenario))
    with builder_for(variant, create_flags) as builder:
        load_before = os.getloadavg()[0]
        others = other_builders(builder.name)
        result = builder.build(
            project,
            dockerfile=plan.dockerfile(variant),
            tags=[f"{registry.address}/{repo}/app:{tag}"],
            push=output is None,
            output=output,
            cache_from=plan.cache_from(variant, cold_cache, cold_image, scenario),
            # Rebuilds write a tag of their own (blobs are shared within the repository),
            # so every rebuild of a run reads the same cold cache, as CI would pay for it.
            cache_to=plan.cache_to(variant, f"{registry.address}/{repo}/cache:{tag}"),
            build_args=build_args(service, plan.commit_of(scenario)),
        ).assert_ok()
        load_after = os.getloadavg()[0]
    label, status, seconds = compile_step(result)
    return Record(
        run=run,
        service=service.name,
        variant=variant.name,
        scenario=scenario,
        seconds=round(result.seconds, 3),
        compile_step=label,
        compile_status=status,
        compile_seconds=round(seconds, 3),
        bytes_pulled=measure.bytes_pulled(result.stream),
        bytes_pushed=pushed_bytes(registry, repo, tag, variant, known),
        split=measure.time_split(result.stream, result.seconds).as_dict(),
        executed=result.table.executed(),
        steps=sum(1 for s in result.table if not s.text.startswith("FROM ")),
        table=[(s.label, s.status, round(s.seconds, 3)) for s in result.table],
        other=other_work(result.stream),
        load_before=round(load_before, 2),
        load_after=round(load_after, 2),
        other_builders=others,
    )


def registry_sizes(
    registry: Registry, service: str, run: int, variants: list[Variant]
) -> dict[str, object]:
    """Cache image size per mode, and image size against binary size, of one run."""
    sizes: dict[str, object] = {}
    for variant in variants:
        repo = repository(service, variant, run)
        try:
            if variant.cache in ("max", "min"):
                sizes[f"cache:{variant.name}"] = measure.manifest_bytes(
                    registry, f"{repo}/cache", "cold"
                )
            sizes[f"config:{variant.name}"] = measure.config_bytes(registry, f"{repo}/app", "cold")
        except LookupError:
            continue
    ours = [v for v in variants if v.name == "ours-max"]
    if ours:
        image = measure.image_sizes(registry, f"{repository(service, ours[0], run)}/app", "cold")
        sizes["image"] = asdict(image)
    return sizes
