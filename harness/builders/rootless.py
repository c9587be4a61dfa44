"""Run the rootless builder's CI job as a runner would: its own script, in the pinned
`moby/buildkit:<release>-rootless` image, as uid 1000, in a container that is not
privileged.

`RootlessJob(project, registry, settings).run(kind, ...)` resolves the variables GitLab
would give the generated `build-image` job for a default-branch, feature-branch or tag
pipeline, starts the job image with exactly the runner settings of `RUNNER_SETTINGS`,
copies the project in as the checkout, runs `before_script` and `script`, and returns
the exit code, the output, the step table (from `BUILDKIT_PROGRESS=rawjson`) and
`docker inspect` of the container, so a test can show what the container was allowed.
`RootlessBuilder` is the same BuildKit for the benchmark: one build, given as buildx-style
arguments, in a new container with the same settings.

RUNNER_SETTINGS is the least this machine needed (see README, "The rootless builder"):
- seccomp unconfined: Docker's default profile refuses the namespace flags of clone
  and unshare, and mount, unless the container has CAP_SYS_ADMIN;
- of the capabilities only SETUID and SETGID, for newuidmap and newgidmap;
- no no-new-privileges: it would drop the helpers' file capabilities at exec.
AppArmor is not set because this kernel does not run it; where it runs, the job also
needs `apparmor=unconfined`.
"""

from __future__ import annotations

import json
import shlex
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.builders.buildx import BuildResult
from harness.ci.ci_file import CiFile, expand
from harness.ci.job_script import JobScript, job_script
from harness.evidence.plain_progress import any_step_table
from harness.evidence.step_table import StepTable
from harness.infra.commands import docker, run
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings
from harness.template import buildkit_image

JOB_TIMEOUT = 1800
ROOTLESS_USER = "1000:1000"
# The runner settings the rootless job needs, and nothing more (module docstring).
RUNNER_SETTINGS: tuple[str, ...] = (
    "--security-opt", "seccomp=unconfined",
    "--cap-drop", "ALL",
    "--cap-add", "SETUID",
    "--cap-add", "SETGID",
)  # fmt: skip
# The rootless build job's own variables (templates/ci/build-image.rootless.yml; the render
# tier holds the two equal), given to every rootless BuildKit the harness starts.
JOB_VARIABLES = {
    "BUILDKITD_FLAGS": "--oci-worker-no-process-sandbox",
    "BUILDCTL_CONNECT_RETRIES_MAX": "30",
}
# Where the rootless buildkitd reads its configuration ($XDG_CONFIG_HOME defaults to ~/.config).
CONFIG_IN_IMAGE = "/home/user/.config/buildkit/buildkitd.toml"
CHECKOUT = "/builds"  # where the checkout is copied; its parent must exist for docker cp


def rootless_image() -> str:
    return f"{buildkit_image()}-rootless"


@dataclass
class JobRun:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    inspect: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> str:
        """Everything the job printed: its script sends the build's output (rawjson or
        plain progress) to its standard output, through the cache report's tee."""
        return self.stdout + self.stderr

    @property
    def table(self) -> StepTable:
        return any_step_table(self.output)

    def report(self, lines: int = 40) -> str:
        plain = [
            line for line in (self.stdout + self.stderr).splitlines() if not line.startswith("{")
        ]
        return (
            f"$ {shlex.join(self.command)}\nexit code {self.returncode}, {self.seconds:.1f}s\n"
            f"{self.table.render()}\n--- output excerpt ---\n" + "\n".join(plain[-lines:])
        )

    def assert_ok(self) -> JobRun:
        assert self.returncode == 0, "the build job failed\n" + self.report()
        return self


class RootlessJob:
    """The `build-image` job of a project baked with builder=rootless."""

    def __init__(
        self,
        project: Path,
        registry: Registry,
        settings: TierSettings,
        repository: str = "svc",
        job_name: str = "",
    ) -> None:
        self.project = project
        self.registry = registry
        self.settings = settings
        self.image_repository = f"{registry.address}/{repository}"
        ci = CiFile.of(project)
        # Another job of the file (say go-test) runs the same way; by default build-image.
        self.job = ci.job(job_name) if job_name else ci.build_job

    def image(self) -> str:
        """The job image, as GitLab would expand `image:` (or its `name:`)."""
        (image,) = self.job.images()
        return image

    def image_for(self, variables: Mapping[str, str]) -> str:
        """The job image with the job's variables, overrides included, expanded."""
        (image, *_services) = [expand(name, variables) for name in self.job.image_names()]
        return image

    def predefined(self, ref_slug: str, commit: str, tag: str = "") -> dict[str, str]:
        """GitLab's predefined variables for this pipeline, against the test registry."""
        login = self.registry.login
        return {
            "CI": "true",
            "CI_REGISTRY": self.registry.address,
            "CI_REGISTRY_IMAGE": self.image_repository,
            "CI_REGISTRY_USER": login.user if login else "",
            "CI_REGISTRY_PASSWORD": login.password if login else "",
            "CI_COMMIT_REF_SLUG": ref_slug,
            "CI_COMMIT_SHA": commit,
            "CI_COMMIT_SHORT_SHA": commit[:8],
            "CI_COMMIT_TAG": tag,
            "CI_PROJECT_DIR": CHECKOUT,
        }

    def project_variables(self) -> dict[str, str]:
        """The project's CI/CD variables this builder's job needs (none)."""
        return {}

    def script(self, kind: str, ref_slug: str, commit: str, tag: str = "") -> JobScript:
        """What GitLab runs for this pipeline: its variables and the job's lines."""
        predefined = self.predefined(ref_slug, commit, tag)
        return job_script(self.job, kind, predefined, self.project_variables())

    def variables(self, kind: str, ref_slug: str, commit: str, tag: str = "") -> dict[str, str]:
        """What GitLab gives the job for this pipeline: predefined, file, job and rule variables."""
        return self.script(kind, ref_slug, commit, tag).variables

    def run(
        self,
        kind: str,
        ref_slug: str,
        commit: str,
        *,
        tag: str = "",
        runner_settings: Sequence[str] = RUNNER_SETTINGS,
        overrides: Mapping[str, str] | None = None,
        progress: str = "rawjson",
    ) -> JobRun:
        """Run before_script and script once, in a new container (a new CI job)."""
        assembled = self.script(kind, ref_slug, commit, tag)
        variables = {**assembled.variables, **(overrides or {})}
        # rawjson for the step table, or plain as a job log shows it (the cache report
        # reads plain); the job passes it to the build command.
        variables["BUILDKIT_PROGRESS"] = progress
        script = assembled.text
        name = f"gotpl-rootless-{uuid.uuid4().hex[:8]}"
        with tempfile.TemporaryDirectory() as tmp:
            # Variables go through a file, so no secret is on the docker CLI's command line.
            env_file = Path(tmp) / "job.env"
            env_file.touch(mode=0o600)
            env_file.write_text(
                "".join(f"{k}={v}\n" for k, v in variables.items()), encoding="utf-8"
            )
            command = [
                "docker", "create", "--name", name,
                *self.container_options(runner_settings),
                # The loopback registry and the stand-in mirror live on this host.
                "--network", "host",
                "--env-file", str(env_file),
                "--workdir", CHECKOUT,
                "--entrypoint", "sh",
                self.image_for(variables), "-c", script,
            ]  # fmt: skip
            run(command)
        try:
            # The checkout, as the runner's helper leaves it: readable by the job's user.
            docker("cp", f"{self.project}/.", f"{name}:{CHECKOUT}")
            started = time.monotonic()
            run(["docker", "start", name])
            docker("wait", name, timeout=JOB_TIMEOUT)
            seconds = time.monotonic() - started
            logs = run(["docker", "logs", name], check=False)
            (inspect,) = json.loads(docker("inspect", name).stdout)
            code = int(inspect["State"]["ExitCode"])
        finally:
            docker("rm", "--force", name, check=False)
        return JobRun(command, code, logs.stdout, logs.stderr, seconds, inspect)

    def container_options(self, runner_settings: Sequence[str]) -> list[str]:
        """What this builder's job container gets beyond the checkout and variables."""
        options = ["--user", ROOTLESS_USER, *runner_settings]
        config = self.settings.buildkitd_config
        if config and Path(config).is_file():
            options += ["--volume", f"{config}:{CONFIG_IN_IMAGE}:ro"]
        return options


class RootlessBuilder:
    """One build on a new rootless BuildKit: `buildctl-daemonless.sh build` in the
    `-rootless` image, as uid 1000 with RUNNER_SETTINGS, the way the rootless CI job
    builds. `build()` takes the arguments `harness.builders.buildx.Builder.build` takes (the
    subset the benchmark uses) and returns the same BuildResult, so a caller can put
    one in place of the other."""

    def __init__(self, settings: TierSettings) -> None:
        self.settings = settings
        self.name = f"gotpl-rootless-{uuid.uuid4().hex[:8]}"

    def build(self, context: Path, **options: Any) -> BuildResult:
        """Run `command(context, **options)`: the arguments of `Builder.build`."""
        command = self.command(context, **options)
        started = time.monotonic()
        result = run(command, check=False, timeout=JOB_TIMEOUT)
        return BuildResult(
            command, result.returncode, result.stderr + result.stdout, time.monotonic() - started
        )

    def command(
        self,
        context: Path,
        *,
        dockerfile: Path | None = None,
        tags: Sequence[str] = (),
        push: bool = False,
        output: str | None = None,
        cache_from: Sequence[str] = (),
        cache_to: str | None = None,
        build_args: Mapping[str, str] | None = None,
    ) -> list[str]:
        """The `docker run ... buildctl-daemonless.sh build ...` command of `build()`."""
        assert output is None, "the rootless builder takes tags and push, not --output"
        mounts = ["--volume", f"{context}:/ctx:ro"]
        frontend = ["--local", "context=/ctx"]
        if dockerfile:
            mounts += ["--volume", f"{dockerfile.parent}:/dockerfile:ro"]
            frontend += ["--local", "dockerfile=/dockerfile"]
            frontend += ["--opt", f"filename={dockerfile.name}"]
        else:
            frontend += ["--local", "dockerfile=/ctx"]
        config = self.settings.buildkitd_config
        if config and Path(config).is_file():
            mounts += ["--volume", f"{config}:{CONFIG_IN_IMAGE}:ro"]
        args = ["build", "--frontend", "dockerfile.v0", "--progress", "rawjson", *frontend]
        for key, value in (build_args or {}).items():
            args += ["--opt", f"build-arg:{key}={value}"]
        if tags:
            names = ",".join(tags)
            output = f'type=image,"name={names}",push={str(push).lower()}'
            # As the generated job pushes (harness.builders.buildx.PUSH_OUTPUT for buildx).
            args += ["--output", output + (",oci-artifact=false" if push else "")]
        for source in cache_from:
            args += ["--import-cache", source]
        if cache_to:
            args += ["--export-cache", cache_to]
        return [
            "docker", "run", "--rm", "--name", self.name, "--user", ROOTLESS_USER,
            *RUNNER_SETTINGS, "--network", "host", *mounts,
            *(f"--env={key}={value}" for key, value in JOB_VARIABLES.items()),
            "--entrypoint", "buildctl-daemonless.sh", rootless_image(), *args,
        ]  # fmt: skip
