"""The shared builder's pipelines for the pipeline tier: `SharedPipelines` runs the
`build-image` job through gitlab-ci-local's docker executor (`GitLabCiLocal.run_job`,
the tier's one way to run a job) against a `NetworkBuildKit`; see
tests/pipeline/test_shared_pipeline.py for what the tests show with it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from harness.builders.shared import ClientFiles
from harness.ci.command_recorder import CommandRecorder
from harness.evidence.dockerfile_steps import edit_source
from harness.infra.registry import Registry
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
from harness.pipeline.shared_buildkit import NetworkBuildKit, ci_variables_file
from harness.template import default

JOB = "build-image"
RECORDER_DIR = "/gotpl-recorder"  # where the docker call recorder is mounted in the job
MISSING = "BUILDKIT_CLIENT_KEY"  # the variable the failing pipeline leaves out
FILE_VARIABLES_DIR = "/tmp/gitlab-ci-local-file-variables-"  # gitlab-ci-local 4.70.0's
RENAMED = "renamed-buildkit"  # a host name the service's certificate does not hold
CERTIFIED = "certified-buildkit"  # the one it holds


@dataclass
class SharedPipeline:
    name: str
    commit: str
    run: JobRun
    before: dict[str, str]  # every tag of the image and cache repositories, with its digest
    after: dict[str, str]
    docker_calls: list[list[str]]  # the arguments of every docker command the job ran
    job_container: dict = field(default_factory=dict)

    def report(self) -> str:
        return f"pipeline {self.name} at {self.commit[:8]}\n{self.run.report()}"


class SharedPipelines:
    """Runs each pipeline once, on demand, in the order the scenarios need."""

    def __init__(
        self, emulator: GitLabCiLocal, network: JobNetwork, registry: Registry,
        service: NetworkBuildKit, files: ClientFiles, workdir: Path, mirror: str,
    ) -> None:  # fmt: skip
        self.emulator = emulator
        self.repo: GitRepo = emulator.repo
        self.network = network
        self.registry = registry
        self.service = service
        self.files = files
        self.workdir = workdir
        (self.job_image,) = job_images(self.repo.path / ".gitlab-ci.yml", JOB)
        assert self.job_image == f"docker:{default('docker_version')}", self.job_image
        ensure_local([self.job_image, HELPER_IMAGE], mirror)
        self.wrapper = job_settings_wrapper(workdir / "bin", self.job_image, ("--cap-drop", "ALL"))
        self.repositories = (self.repo.project_path, f"{self.repo.project_path}/cache")
        self.runs: list[SharedPipeline] = []

    def snapshot(self) -> dict[str, str]:
        return {
            f"{repository}:{tag}": self.registry.digest(repository, tag) or ""
            for repository in self.repositories
            for tag in self.registry.tags(repository)
        }

    def run(
        self,
        *,
        leave_out: tuple[str, ...] = (),
        service: NetworkBuildKit | None = None,
        progress: str = "rawjson",
    ) -> SharedPipeline:
        """One pipeline on the default branch's head, against `service` (the module's
        own unless given), with every CI/CD variable but those in `leave_out`."""
        service = service or self.service
        name = f"shared-{len(self.runs) + 1}"
        folder = self.workdir / name
        address = self.registry.address_on_network()
        recorder = CommandRecorder(
            "docker", folder / "recorded", real="/usr/bin/docker", mounted_at=RECORDER_DIR
        )
        executor = DockerExecutor(
            privileged=False,
            volumes=(
                f"{recorder.folder.parent}:{RECORDER_DIR}",
                # First on the docker image's PATH: records each call, then runs the CLI.
                f"{recorder.folder / 'docker'}:/usr/local/sbin/docker:ro",
            ),
            networks=(self.network.name,),
            umask=False,
            container_executable=str(self.wrapper),
        )
        # The project's CI/CD variables, as its settings page would hold them.
        settings = ci_variables_file(
            self.repo.path / ".gitlab-ci-local" / "settings" / f"{name}.yml",
            {"BUILDKIT_HOST": service.address},
            self.files if service is self.service else service.client_files(),
            leave_out=leave_out,
        )
        seen: dict[str, dict] = {}

        def inspect(leftovers: Leftovers) -> None:
            for container in leftovers.containers:
                if container["Config"]["Image"] == self.job_image:
                    seen["job"] = container

        before = self.snapshot()
        run = self.emulator.run_job(
            JOB,
            push(self.repo.default_branch),
            state_dir=f".gitlab-ci-local/{name}",
            variables={
                "CI_REGISTRY": address,
                "CI_REGISTRY_IMAGE": f"{address}/{self.repo.project_path}",
                "CI_REGISTRY_USER": self.registry.login.user,
                "BUILDKIT_PROGRESS": progress,
            },
            secrets={"CI_REGISTRY_PASSWORD": self.registry.login.password},
            executor=executor,
            inspect=inspect,
            variables_file=settings,
        )
        pipeline = SharedPipeline(
            name, self.repo.head(), run, before, self.snapshot(), recorder.calls(JOB),
            seen.get("job", {}),
        )  # fmt: skip
        self.runs.append(pipeline)
        print(f"\n{name}: exit {run.returncode} in {run.seconds:.1f}s\n{run.table.render()}")
        return pipeline

    @functools.cached_property
    def first(self) -> SharedPipeline:
        self.repo.checkout(self.repo.default_branch)
        pipeline = self.run()
        assert pipeline.run.passed, "the shared-builder job failed\n" + pipeline.report()
        return pipeline

    @functools.cached_property
    def source_change(self) -> SharedPipeline:
        assert self.first
        edit_source(self.repo.path, "second commit")
        self.repo.commit("Change the source")
        pipeline = self.run(progress="plain")  # as a job log shows it
        assert pipeline.run.passed, "the shared-builder job failed\n" + pipeline.report()
        return pipeline

    @functools.cached_property
    def missing_variable(self) -> SharedPipeline:
        """A new commit whose pipeline lacks one File-type variable: were it built, its
        SHA tag would appear."""
        assert self.source_change
        edit_source(self.repo.path, "third commit")
        self.repo.commit("Change the source again")
        return self.run(leave_out=(MISSING,))

    @functools.cached_property
    def wrong_name(self) -> SharedPipeline:
        """The same unpushed commit, against a service reachable as RENAMED and
        CERTIFIED whose certificate holds only CERTIFIED, with BUILDKIT_HOST naming
        RENAMED; its CA and client files are right."""
        assert self.missing_variable
        with NetworkBuildKit(
            self.service.settings,
            self.workdir / "renamed-buildkit",
            self.network,
            registry=self.registry.address_on_network(),
            registry_ca=self.service.registry_ca,
            name=RENAMED,
            certificate_names=[CERTIFIED],
        ) as renamed:
            return self.run(service=renamed)
