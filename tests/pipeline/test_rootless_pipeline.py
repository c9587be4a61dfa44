"""The rootless builder's `build-image` job, run by gitlab-ci-local's docker executor.

The job runs in the CI file's own image (`${BUILDKIT_IMAGE}-rootless`, the testbed's
stand-in offline) with no services, not privileged, as the image's user (uid 1000),
and with the runner settings of harness.builders.rootless.RUNNER_SETTINGS, which a runner's
`config.toml` would give it (`security_opt`, `cap_drop`, `cap_add`). gitlab-ci-local has
no such options, so a docker CLI wrapper adds them to the job container's `docker
create` (harness.pipeline.runner.job_settings_wrapper). The registry is the tier's TLS registry
with a login; the rootless buildkitd trusts its CA and uses the stand-in mirror through
`~/.config/buildkit/buildkitd.toml`, mounted as a runner's `volumes` would.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.builders import buildkitd
from harness.builders.rootless import (
    CONFIG_IN_IMAGE,
    ROOTLESS_USER,
    RUNNER_SETTINGS,
    rootless_image,
)
from harness.ci.cache_report import CacheReport, expected_counts
from harness.evidence.dockerfile_steps import (
    DOWNLOAD,
    RERUN_BY_SOURCE_CHANGE,
    WARM_UP,
    assert_complete,
    edit_source,
)
from harness.infra.registry import Registry
from harness.infra.tls import TestCA
from harness.pipeline.dind import Pipelines
from harness.pipeline.emulator import GitLabCiLocal, GitRepo, JobRun, push
from harness.pipeline.runner import (
    HELPER_IMAGE,
    DockerExecutor,
    JobNetwork,
    Leftovers,
    ensure_local,
    job_images,
    job_settings_wrapper,
)

pytestmark = pytest.mark.docker

JOB = "build-image"


@dataclass
class RootlessPipeline:
    run: JobRun
    commit: str
    job_container: dict = field(default_factory=dict)

    def report(self) -> str:
        return self.run.report()


class RootlessPipelines:
    def __init__(
        self, emulator: GitLabCiLocal, network: JobNetwork, registry: Registry, ca: TestCA,
        workdir: Path, mirror: str,
    ) -> None:  # fmt: skip
        self.emulator = emulator
        self.repo: GitRepo = emulator.repo
        self.network = network
        self.registry = registry
        self.workdir = workdir
        (self.job_image,) = job_images(self.repo.path / ".gitlab-ci.yml", JOB)
        assert self.job_image == rootless_image(), self.job_image
        ensure_local([self.job_image, HELPER_IMAGE], mirror)
        # What a runner admin mounts so the rootless buildkitd trusts the registry's CA
        # and pulls base images through the mirror.
        config_dir = workdir / "buildkit-config"
        config_dir.mkdir(parents=True)
        (config_dir / "registry-ca.pem").write_bytes(ca.cert.read_bytes())
        address = registry.address_on_network()
        in_image = Path(CONFIG_IN_IMAGE).parent
        (config_dir / "buildkitd.toml").write_text(
            buildkitd.render(network.mirror)
            + f'[registry."{address}"]\n  ca = ["{in_image}/registry-ca.pem"]\n',
            encoding="utf-8",
        )
        wrapper = job_settings_wrapper(workdir / "bin", self.job_image, RUNNER_SETTINGS)
        self.executor = DockerExecutor(
            privileged=False,
            volumes=(f"{config_dir}:{in_image}:ro",),
            networks=(network.name,),
            umask=False,
            container_executable=str(wrapper),
        )
        self.runs: list[RootlessPipeline] = []

    def run(self, overrides: dict[str, str] | None = None) -> RootlessPipeline:
        """One pipeline's build job, with plain progress as a job log shows it (the
        cache report reads it); `overrides`: CI/CD variables given to the pipeline."""
        address = self.registry.address_on_network()
        name = f"rootless-{len(self.runs) + 1}"
        seen: dict[str, dict] = {}

        def inspect(leftovers: Leftovers) -> None:
            for container in leftovers.containers:
                if container["Config"]["Image"] == self.job_image:
                    seen["job"] = container

        run = self.emulator.run_job(
            JOB,
            push(self.repo.default_branch),
            state_dir=f".gitlab-ci-local/{name}",
            variables={
                "CI_REGISTRY": address,
                "CI_REGISTRY_IMAGE": f"{address}/{self.repo.project_path}",
                "CI_REGISTRY_USER": self.registry.login.user,
                **(overrides or {}),
            },
            secrets={"CI_REGISTRY_PASSWORD": self.registry.login.password},
            executor=self.executor,
            inspect=inspect,
        )
        pipeline = RootlessPipeline(run, self.repo.head(), seen.get("job", {}))
        self.runs.append(pipeline)
        assert run.passed, "the rootless job failed\n" + pipeline.report()
        print(f"\n{name}: job {run.outcome(JOB)} in {run.seconds:.1f}s\n{run.table.render()}")
        return pipeline

    @functools.cached_property
    def first(self) -> RootlessPipeline:
        self.repo.checkout(self.repo.default_branch)
        return self.run()

    @functools.cached_property
    def source_change(self) -> RootlessPipeline:
        """A source commit whose pipeline is given a CACHE_TO_REF in a read-only
        registry (the stand-in mirror on the job network, which the job's buildkitd
        reaches over HTTP): it reads the cache the first job wrote, pushes the image,
        and its cache export is refused."""
        assert self.first
        edit_source(self.repo.path, "second commit")
        self.repo.commit("Change the source")
        refusing = f"{self.network.mirror}/{self.repo.project_path}/cache:main"
        return self.run(overrides={"CACHE_TO_REF": refusing})


@pytest.fixture(scope="module")
def rootless_pipelines(
    gitlab_ci_local_path: Path,
    bake,
    job_network: JobNetwork,
    project_registry: Registry,
    test_ca: TestCA,
    dind_pipelines: Pipelines,
    docker_tier,
    tmp_path_factory,
) -> RootlessPipelines:
    """The rootless project's pipelines, on a registry that holds the cache the default
    builder's pipelines left on the default branch, as a team that switches builders
    has it. (No test builds the rootless job from no cache at all: what a cold build
    runs is the Dockerfile's, which the Docker tier's and the dind pipelines' cold
    builds show; that a missing or unreachable cache ref does not fail the rootless
    job, test_rootless.py's feature-branch and unreachable-cache tests show.)"""
    root = tmp_path_factory.mktemp("rootless-pipeline")
    repo = GitRepo.from_baked(bake({"builder": "rootless"}), root / "project")
    dind_pipelines.copy_default_branch_cache(project_registry, f"{repo.project_path}/cache")
    emulator = GitLabCiLocal(gitlab_ci_local_path, repo, root / "home")
    return RootlessPipelines(
        emulator, job_network, project_registry, test_ca, root / "jobs", docker_tier.mirror
    )


def test_rootless_job_runs_unprivileged_as_its_image_user(rootless_pipelines: RootlessPipelines):
    first = rootless_pipelines.first
    job = first.job_container
    assert job, "the job's container was not found\n" + first.report()
    host = job["HostConfig"]
    assert host["Privileged"] is False
    assert job["Config"]["User"] == ROOTLESS_USER
    assert host["SecurityOpt"] == ["seccomp=unconfined"]
    assert host["CapDrop"] == ["ALL"]
    assert sorted(c.removeprefix("CAP_") for c in host["CapAdd"]) == ["SETGID", "SETUID"]
    # The first job read the cache the dind job wrote: only what its own commit and
    # VERSION stamp may run.
    table = first.run.table
    assert_complete(table)
    assert set(table.executed()) <= set(table.labels(*RERUN_BY_SOURCE_CHANGE)), first.report()
    for label in table.labels(DOWNLOAD, *WARM_UP):
        assert label not in table.executed(), first.report()


def test_rootless_source_commit_reruns_only_copy_and_compile(
    rootless_pipelines: RootlessPipelines,
):
    second = rootless_pipelines.source_change
    table = second.run.table
    assert_complete(table)
    assert table.executed() == table.labels(*RERUN_BY_SOURCE_CHANGE), second.report()


def test_rootless_cache_report_matches_the_steps(rootless_pipelines: RootlessPipelines):
    """The first job's report, at the end of its log: the counts the harness reads from
    the same log, main's ref found, the cache written, and a green job."""
    first = rootless_pipelines.first
    report = CacheReport.of(first.run.log)
    assert report.counts() == expected_counts(first.run.table), report.lines
    assert list(report.reads().values()) == ["found"], report.lines
    assert any(line.startswith("wrote ") for line in report.lines), report.lines
    assert not first.run.warned(JOB), first.report()


def test_a_refused_cache_export_passes_with_warnings_and_pushes_the_image(
    rootless_pipelines: RootlessPipelines,
):
    second = rootless_pipelines.source_change
    assert second.run.warned(JOB), "the job did not end with a warning\n" + second.report()
    reason = CacheReport.of(second.run.log).export_failure()
    assert reason and reason.startswith("error writing layer blob: "), second.report()
    registry, project = rootless_pipelines.registry, rootless_pipelines.repo.project_path
    assert registry.digest(project, "latest") == registry.digest(project, second.commit)


def test_rootless_password_appears_nowhere(rootless_pipelines: RootlessPipelines):
    login = rootless_pipelines.registry.login
    assert rootless_pipelines.source_change
    secrets = [login.password, base64.b64encode(login.password.encode()).decode(), login.basic_auth]
    for pipeline in rootless_pipelines.runs:
        texts = [pipeline.run.output, pipeline.run.log]
        texts += [
            path.read_text(encoding="utf-8", errors="replace")
            for path in pipeline.run.captured_files()
        ]
        for text in texts:
            for secret in secrets:
                assert secret not in text, "the password leaked into the job's output or state"
