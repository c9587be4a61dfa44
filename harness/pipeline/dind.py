"""The default builder's (dind) `build-image` job, pipeline after pipeline, run by
gitlab-ci-local's docker executor; tests/pipeline/test_pipeline_runs.py reads them.

`Pipelines` runs each pipeline once, on demand, in the order a team sees them: the
default branch cold, the default branch after a source commit, a feature branch, a
release tag. Each is a new CI job: a fresh docker config (no builder, no context, no
login) and no BuildKit container left from before, so every cache hit comes from the
registry. The pipeline tier keeps one `Pipelines` for its whole session, and the other
builders' first jobs start from a copy of the cache it leaves on the default branch
(`copy_default_branch_cache`): the one build of the tier that compiles from nothing is
the default builder's.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from harness.ci.command_recorder import CommandRecorder
from harness.evidence.dockerfile_steps import edit_source
from harness.infra.commands import docker
from harness.infra.registry import Registry
from harness.infra.tls import TestCA
from harness.pipeline.emulator import Event, GitLabCiLocal, GitRepo, JobRun, push, ref_slug, tag
from harness.pipeline.runner import (
    HELPER_IMAGE,
    WAIT_IMAGE,
    DockerExecutor,
    JobNetwork,
    Leftovers,
    dind_trust_volumes,
    ensure_local,
    job_images,
)

JOB = "build-image"
BUILDER = "ci-builder"  # fixed by the CI file's `docker buildx create --name`
BUILDER_CONTAINER = f"buildx_buildkit_{BUILDER}0"  # buildx's name for its first node
RECORDER_DIR = "/gotpl-recorder"  # where the docker call recorder is mounted in the job
FEATURE = "feature/login"
RELEASE = "v1.0.0"


@dataclass(frozen=True)
class Snapshot:
    """Every tag of the image and cache repositories, with its manifest digest."""

    images: dict[str, str]
    caches: dict[str, str]


@dataclass
class Pipeline:
    event: Event
    commit: str
    run: JobRun
    before: Snapshot
    after: Snapshot
    builder_image: str  # the image of the BuildKit container the job's builder ran
    docker_calls: list[list[str]]  # the arguments of every docker command the job's script ran
    containers: dict[str, dict] = field(default_factory=dict)  # job and service, inspected
    files: list[Path] = field(default_factory=list)  # what the runner side kept for the job

    def report(self) -> str:
        return f"pipeline: {self.event.name} at {self.commit[:8]}\n{self.run.report()}"


class Pipelines:
    """Runs each pipeline once, on demand, in the order the scenarios need."""

    def __init__(
        self,
        emulator: GitLabCiLocal,
        network: JobNetwork,
        registry: Registry,
        ca: TestCA,
        workdir: Path,
        *,
        mirror: str,
    ) -> None:
        self.emulator = emulator
        self.repo: GitRepo = emulator.repo
        self.network = network
        self.registry = registry
        self.ca = ca
        self.workdir = workdir
        self.image_repository = self.repo.project_path
        self.cache_repository = f"{self.repo.project_path}/cache"
        self.runs: list[Pipeline] = []
        self.job_image, self.service_image = job_images(self.repo.path / ".gitlab-ci.yml", JOB)
        ensure_local([self.job_image, self.service_image, HELPER_IMAGE, WAIT_IMAGE], mirror)

    def snapshot(self) -> Snapshot:
        def tags(repository: str) -> dict[str, str]:
            return {
                t: self.registry.digest(repository, t) or "" for t in self.registry.tags(repository)
            }

        return Snapshot(tags(self.image_repository), tags(self.cache_repository))

    def run(self, event: Event, *, progress: str = "rawjson") -> Pipeline:
        """One pipeline's build job. `progress`: rawjson (machine-readable) or plain, as
        a job log shows it by default (the cache report reads plain)."""
        name = f"{len(self.runs) + 1}-{ref_slug(event.name)}"
        folder = self.workdir / name
        address = self.registry.address_on_network()
        recorder = CommandRecorder(
            "docker", folder / "recorded", real="/usr/bin/docker", mounted_at=RECORDER_DIR
        )
        # What a runner's config.toml gives every job and service container: a fresh
        # volume for the client certificates, the trust and mirror settings, the network.
        certs = f"gotpl-certs-{secrets.token_hex(4)}"
        docker("volume", "create", certs)
        volumes = [
            f"{certs}:/certs/client",
            *dind_trust_volumes(
                folder, registry=address, ca_cert=self.ca.cert, mirror=self.network.mirror
            ),
            f"{recorder.folder.parent}:{RECORDER_DIR}",
            # First on the docker image's PATH: records each call, then runs the CLI.
            f"{recorder.folder / 'docker'}:/usr/local/sbin/docker:ro",
        ]
        executor = DockerExecutor(
            privileged=True, volumes=tuple(volumes), networks=(self.network.name,)
        )
        variables = {
            "CI_REGISTRY": address,
            "CI_REGISTRY_IMAGE": f"{address}/{self.image_repository}",
            "CI_REGISTRY_USER": self.registry.login.user,
            # Build progress: rawjson for the step table, or plain as in a job log.
            "BUILDKIT_PROGRESS": progress,
        }
        seen: dict[str, object] = {}

        def inspect(leftovers: Leftovers) -> None:
            seen["containers"] = {c["Config"]["Image"]: c for c in leftovers.containers}
            (dind,) = leftovers.by_image(self.service_image) or [""]
            if dind:
                found = docker(
                    "exec", dind, "docker", "ps", "--all", "--filter",
                    f"name={BUILDER_CONTAINER}", "--format", "{{.Image}}", check=False,
                )  # fmt: skip
                seen["builder_image"] = found.stdout.strip()

        before = self.snapshot()
        try:
            run = self.emulator.run_job(
                JOB,
                event,
                state_dir=f".gitlab-ci-local/{name}",
                variables=variables,
                secrets={"CI_REGISTRY_PASSWORD": self.registry.login.password},
                executor=executor,
                inspect=inspect,
            )
        finally:
            docker("volume", "rm", "--force", certs, check=False)
        pipeline = Pipeline(
            event,
            self.repo.head(),
            run,
            before,
            self.snapshot(),
            str(seen.get("builder_image", "")),
            recorder.calls(JOB),
            dict(seen.get("containers", {})),  # type: ignore[arg-type]
            sorted(p for p in folder.rglob("*") if p.is_file()),
        )
        self.runs.append(pipeline)
        assert run.passed, "the job failed\n" + pipeline.report()
        print(f"\n{event.name}: job {run.outcome(JOB)} in {run.seconds:.1f}s\n{run.table.render()}")
        return pipeline

    @functools.cached_property
    def default_cold(self) -> Pipeline:
        self.repo.checkout(self.repo.default_branch)
        return self.run(push(self.repo.default_branch))

    @functools.cached_property
    def default_second(self) -> Pipeline:
        assert self.default_cold
        self.repo.checkout(self.repo.default_branch)
        edit_source(self.repo.path, "second commit")
        self.repo.commit("Change the source")
        return self.run(push(self.repo.default_branch))

    @functools.cached_property
    def feature(self) -> Pipeline:
        assert self.default_second
        self.repo.checkout(self.repo.default_branch)
        self.repo.checkout(FEATURE, new_branch=True)
        edit_source(self.repo.path, "feature work")
        self.repo.commit("Work on a feature")
        try:
            # As a job log shows it: the cache report reads plain progress.
            return self.run(push(FEATURE), progress="plain")
        finally:
            self.repo.checkout(self.repo.default_branch)

    @functools.cached_property
    def release(self) -> Pipeline:
        assert self.default_second
        self.repo.checkout(self.repo.default_branch)
        self.repo.tag(RELEASE)
        self.repo.checkout(RELEASE)  # a detached checkout of the tag, as a runner makes
        try:
            return self.run(tag(RELEASE))
        finally:
            self.repo.checkout(self.repo.default_branch)

    def copy_default_branch_cache(self, target: Registry, repository: str) -> str:
        """Copy the default branch's cache, as this tier's default-branch pipelines
        leave it (the cold one runs first if it has not yet), byte for byte to
        `repository:<default branch>` in `target`; return its digest."""
        assert self.default_cold
        branch = self.repo.default_branch
        return self.registry.copy_to(target, self.cache_repository, branch, repository)
