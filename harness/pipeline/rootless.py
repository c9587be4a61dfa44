"""The rootless builder's pipelines for the pipeline tier: `RootlessPipelines` runs the
`build-image` job through gitlab-ci-local's docker executor (`GitLabCiLocal.run_job`,
the tier's one way to run a job) with what a runner's config.toml would give it; see
tests/pipeline/test_rootless_pipeline.py for what the tests show with it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from harness.builders import buildkitd
from harness.builders.rootless import CONFIG_IN_IMAGE, RUNNER_SETTINGS, rootless_image
from harness.evidence.dockerfile_steps import edit_source
from harness.infra.registry import Registry
from harness.infra.tls import TestCA
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
