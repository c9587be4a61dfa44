"""The generated build job, run by gitlab-ci-local against a registry that needs a login.

Four pipelines, in the order a team would see them: the default branch cold, the
default branch after a source commit, a feature branch, and a release tag. Each is a
new CI job: a fresh docker config (no builder, no context, no login) and no BuildKit
container left from before, so every cache hit comes from the registry.

Fidelity: the emulator reads the project's own `.gitlab-ci.yml` (rules, variables,
scripts) and runs the job through its docker executor, set up as a runner's config.toml
would: the job in the `docker:<ver>` image, the `docker:<ver>-dind` service privileged
beside it, a fresh volume for /certs/client shared by both, the CI file's DOCKER_HOST and
TLS variables untouched. The registry speaks HTTPS with a test CA that the dind engine
(certs.d) and the builder (buildkitd.default.toml) trust; see TESTING.md ("Pipeline
tier") for what still differs from a GitLab.com runner.
"""

from __future__ import annotations

import base64
import functools
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.ci.command_recorder import CommandRecorder
from harness.evidence.dockerfile_steps import (
    COMPILE,
    COPY_SOURCE,
    DOWNLOAD,
    RERUN_BY_SOURCE_CHANGE,
    WARM_UP,
    assert_complete,
    edit_source,
)
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
from harness.template import buildkit_image

pytestmark = pytest.mark.docker

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

    def run(self, event: Event) -> Pipeline:
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
            # Machine-readable build progress, for the step table.
            "BUILDKIT_PROGRESS": "rawjson",
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
        print(f"\n{event.name}: job passed in {run.seconds:.1f}s\n{run.table.render()}")
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
            return self.run(push(FEATURE))
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


@pytest.fixture(scope="module")
def pipelines(
    emulator: GitLabCiLocal,
    job_network: JobNetwork,
    project_registry: Registry,
    test_ca: TestCA,
    docker_tier,
    tmp_path_factory,
) -> Pipelines:
    return Pipelines(
        emulator,
        job_network,
        project_registry,
        test_ca,
        tmp_path_factory.mktemp("jobs"),
        mirror=docker_tier.mirror,
    )


def test_registry_requires_login(project_registry: Registry):
    assert project_registry.requires_login(), "the registry answered without a login"


def test_job_runs_as_a_docker_executor_runs_it(pipelines: Pipelines):
    """The job in the CI file's docker image, the dind service privileged beside it,
    one /certs/client volume shared by both, the CI file's TLS settings untouched."""
    first = pipelines.default_cold
    job = first.containers.get(pipelines.job_image)
    service = first.containers.get(pipelines.service_image)
    assert job and service, f"containers seen: {sorted(first.containers)}\n{first.report()}"
    assert service["HostConfig"]["Privileged"], "the dind service was not privileged"
    env = dict(item.split("=", 1) for item in job["Config"]["Env"])
    assert env["DOCKER_HOST"] == "tcp://docker:2376" and env["DOCKER_TLS_VERIFY"] == "1", env

    def certs_volume(container: dict) -> str:
        (name,) = [m["Name"] for m in container["Mounts"] if m["Destination"] == "/certs/client"]
        return name

    assert certs_volume(job) == certs_volume(service)
    # The registry speaks only HTTPS: a login that succeeds went through the test CA.
    assert pipelines.registry.scheme == "https"
    assert "Login Succeeded" in first.run.log, first.report()


def test_default_branch_cold_pipeline_pushes_image_and_cache(pipelines: Pipelines):
    first = pipelines.default_cold
    sha = first.commit
    assert "Login Succeeded" in first.run.log, first.report()
    # The builder inside dind ran the BuildKit release the project pins, pulled there.
    assert first.builder_image == buildkit_image(), first.report()
    assert set(first.after.images) == {"main", "latest", sha}, first.report()
    assert first.after.images["main"] == first.after.images["latest"] == first.after.images[sha]
    assert set(first.after.caches) == {"main"}, first.report()
    assert_complete(first.run.table)
    executed = first.run.table.executed()
    for step in first.run.table.labels(DOWNLOAD, *WARM_UP, COMPILE):
        assert step in executed, f"{step} did not run in a cold build\n{first.report()}"


def test_source_commit_on_default_branch_is_served_from_cache(pipelines: Pipelines):
    second = pipelines.default_second
    assert_complete(second.run.table)
    executed = second.run.table.executed()
    assert executed == second.run.table.labels(*RERUN_BY_SOURCE_CHANGE), (
        "after a source commit only the source copy and compile should run\n" + second.report()
    )
    assert second.after.images["latest"] == second.after.images[second.commit]
    assert second.after.images["latest"] != second.before.images["latest"]
    assert second.after.caches["main"] != second.before.caches["main"], (
        "the default branch did not rewrite its cache\n" + second.report()
    )


def test_feature_branch_reads_default_branch_cache_and_writes_its_own(pipelines: Pipelines):
    feature = pipelines.feature
    slug = ref_slug(FEATURE)
    assert_complete(feature.run.table)
    executed = feature.run.table.executed()
    assert executed == feature.run.table.labels(*RERUN_BY_SOURCE_CHANGE), (
        "the branch's own cache is empty: download and warm-up must come from main's\n"
        + feature.report()
    )
    assert set(feature.after.caches) == {"main", slug}, feature.report()
    assert feature.after.caches["main"] == feature.before.caches["main"], (
        "a feature branch rewrote the default branch's cache\n" + feature.report()
    )
    assert feature.after.images[slug] == feature.after.images[feature.commit]
    assert feature.after.images["latest"] == feature.before.images["latest"]


def test_tag_pipeline_pushes_release_and_writes_no_cache(pipelines: Pipelines):
    release = pipelines.release
    assert release.after.caches == release.before.caches, (
        "a tag pipeline changed a cache\n" + release.report()
    )
    assert not any(name.startswith("exporting cache") for name in release.run.vertex_names()), (
        release.report()
    )
    images = release.after.images
    assert images[RELEASE] == images[ref_slug(RELEASE)], release.report()
    assert images[RELEASE] != release.before.images.get(RELEASE), "the release was not pushed"
    # The commit's SHA tag stays on its branch build (VERSION=short SHA), not the release's.
    assert images[release.commit] == release.before.images[release.commit], (
        "a tag pipeline moved the commit's SHA tag\n" + release.report()
    )
    assert images["latest"] == release.before.images["latest"], "a tag moved latest"
    assert_complete(release.run.table)
    executed = release.run.table.executed()
    for step in release.run.table.labels(DOWNLOAD, *WARM_UP, COPY_SOURCE):
        assert step not in executed, f"{step} ran in a tag pipeline\n{release.report()}"


def test_registry_password_is_on_no_command_line(pipelines: Pipelines):
    """The login must pass the password on stdin: a `-p` argument would show in the
    process list of the runner host. The job's docker calls are recorded as run."""
    first = pipelines.default_cold
    login = pipelines.registry.login
    assert login is not None
    logins = [call for call in first.docker_calls if call[:1] == ["login"]]
    assert logins, "the job's docker login was not recorded\n" + first.report()
    for call in first.docker_calls:
        assert not any(login.password in arg for arg in call), (
            f"the password is an argument of: docker {call[0]} ..."
        )
    assert "--password-stdin" in logins[0], logins[0]


def test_registry_password_appears_in_no_captured_log(pipelines: Pipelines):
    # Run every pipeline first (each is run once per session, whichever test asks).
    runs = [pipelines.default_cold, pipelines.default_second, pipelines.feature, pipelines.release]
    login = pipelines.registry.login
    assert login is not None
    needles = {
        "the password": login.password.encode(),
        "the base64 user:password": login.basic_auth.encode(),
        "the base64 password": base64.b64encode(login.password.encode()),
    }
    for pipeline in runs:
        captured = {"emulator output": pipeline.run.output.encode()}
        for path in [*pipeline.run.captured_files(), *pipeline.files]:
            captured[str(path)] = path.read_bytes()
        assert len(captured) > 1, f"no job log was captured for {pipeline.event.name}"
        for where, content in captured.items():
            for what, needle in needles.items():
                assert needle not in content, f"{what} appears in {where}"
