"""Run `docker buildx` as a subprocess on builders the tiers create and remove.

docker-py and testcontainers cannot drive BuildKit, so builds go through the CLI.
Every build asks for `--progress=rawjson` and returns its step table.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.ci.ci_file import cache_to_options
from harness.evidence.plain_progress import plain_step_table
from harness.evidence.step_table import (
    CACHED,
    EXECUTED,
    StepTable,
    Vertex,
    iter_json_objects,
    merge_vertices,
    step_table,
    steps_of,
)
from harness.infra.commands import docker, docker_env, run

STOP_GRACE = 10  # seconds a stopped build gets to end on SIGINT before it is killed
BUILD_TIMEOUT = 1800  # a cold multi-platform build on 2 cores stays far below this
# How the generated buildx jobs push (templates/ci/buildx-build.yml): to the registry,
# attestations in BuildKit's older format, which GitLab's registry, and the strict test
# registry, take in any push order. tests/render/test_gitlab_ci.py holds the two equal.
PUSH_OUTPUT = "type=registry,oci-artifact=false"
# The builder every engine has: BuildKit inside dockerd, the `docker` driver.
ENGINE_BUILDER = "default"


@dataclass
class BuildResult:
    command: list[str]
    returncode: int
    stream: str
    seconds: float
    stopped: bool = False  # stopped on purpose, once the steps a test is about had run

    @property
    def table(self) -> StepTable:
        if "--progress=plain" in self.command:
            return plain_step_table(self.stream)
        return step_table(self.stream)

    def excerpt(self, lines: int = 40) -> str:
        """The end of the build's own output: plain lines, step errors and step logs."""
        plain = [
            line
            for line in self.stream.splitlines()
            if line and not line.startswith((" ", "{", "}", "]"))
        ]
        vertices = merge_vertices(iter_json_objects(self.stream)).values()
        errors = [f"{v.name}: {v.error}" for v in vertices if v.error]
        logs = [line for v in vertices for line in v.log.decode(errors="replace").splitlines()]
        return "\n".join((logs + errors + plain)[-lines:])

    def report(self) -> str:
        return (
            f"$ {shlex.join(self.command)}\nexit code {self.returncode}, {self.seconds:.1f}s\n"
            f"{self.table.render()}\n--- log excerpt ---\n{self.excerpt()}"
        )

    def assert_ok(self) -> BuildResult:
        assert self.returncode == 0, "build failed\n" + self.report()
        return self

    def assert_stopped(self) -> BuildResult:
        """The build was stopped by its `stop_when`, not ended by success or failure."""
        assert self.stopped, "the build ended before its stop condition held\n" + self.report()
        return self


class Builder:
    """One BuildKit builder instance. A new one models a new CI job: empty local cache.

    `host` points the docker CLI at another engine (a private dockerd of a test);
    `Builder.of_engine(host)` is that engine's built-in builder, which is never
    created or removed.
    """

    def __init__(
        self, create_flags: Sequence[str] = (), name: str | None = None, host: str | None = None
    ) -> None:
        self.name = name or f"gotpl-test-{uuid.uuid4().hex[:8]}"
        self.create_flags = list(create_flags)
        self.host = host

    @classmethod
    def of_engine(cls, host: str | None = None) -> Builder:
        return cls(name=ENGINE_BUILDER, host=host)

    def create(self) -> Builder:
        docker(
            "buildx", "create", "--name", self.name, *self.create_flags, "--bootstrap",
            host=self.host, timeout=300,
        )  # fmt: skip
        return self

    def remove(self) -> None:
        if self.name != ENGINE_BUILDER:
            docker("buildx", "rm", "--force", self.name, host=self.host, check=False)

    @property
    def container(self) -> str:
        """The container of a docker-container builder's first node (buildx's naming)."""
        return f"buildx_buildkit_{self.name}0"

    def buildkit_version(self) -> tuple[str, str]:
        """(image, `buildkitd --version`) of a docker-container builder's container;
        empty strings where there is no such container (the builder was never created)."""
        inspect = docker(
            "inspect", "--format", "{{.Config.Image}}", self.container, host=self.host, check=False
        )
        if inspect.returncode != 0:
            return "", ""
        version = docker("exec", self.container, "buildkitd", "--version", host=self.host)
        return inspect.stdout.strip(), version.stdout.strip()

    def driver(self) -> str:
        """The driver buildx reports for this builder (docker, docker-container, ...)."""
        inspect = docker("buildx", "inspect", self.name, host=self.host).stdout
        for line in inspect.splitlines():
            if line.startswith("Driver:"):
                return line.split(":", 1)[1].strip()
        raise AssertionError(f"buildx inspect {self.name} names no driver:\n{inspect}")

    def build(
        self,
        context: Path,
        *,
        dockerfile: Path | None = None,
        tags: Sequence[str] = (),
        push: bool = False,
        cache_from: Sequence[str] = (),
        cache_to: str | None = None,
        build_args: Mapping[str, str] | None = None,
        platforms: str | None = None,
        target: str | None = None,
        output: str | None = None,
        extra: Sequence[str] = (),
        stop_when: Callable[[StepTable], bool] | None = None,
        progress: str = "rawjson",
    ) -> BuildResult:
        """`docker buildx build` on this builder; `extra` is passed as given (e.g. the
        attestation flags of the generated pipeline); with `stop_when`, see build_until."""
        command = ["docker", "buildx", "build", "--builder", self.name, f"--progress={progress}"]
        if dockerfile:
            command += ["--file", str(dockerfile)]
        for tag in tags:
            command += ["--tag", tag]
        if push:
            command += ["--output", PUSH_OUTPUT]
        for source in cache_from:
            command += ["--cache-from", source]
        if cache_to:
            command += ["--cache-to", cache_to]
        for key, value in (build_args or {}).items():
            command += ["--build-arg", f"{key}={value}"]
        if platforms:
            command += ["--platform", platforms]
        if target:
            command += ["--target", target]
        if output:
            command += ["--output", output]
        command += list(extra)
        command.append(str(context))
        started = time.monotonic()
        if stop_when is not None:
            code, stream, stopped = build_until(command, docker_env(self.host), stop_when)
            return BuildResult(command, code, stream, time.monotonic() - started, stopped)
        result = run(command, check=False, timeout=BUILD_TIMEOUT, env=docker_env(self.host))
        return BuildResult(
            command, result.returncode, result.stderr + result.stdout, time.monotonic() - started
        )


def build_until(
    command: list[str], env: Mapping[str, str] | None, stop_when: Callable[[StepTable], bool]
) -> tuple[int, str, bool]:
    """Run a build, reading its rawjson stream as it comes, and stop it once `stop_when`
    holds for the steps seen so far: SIGINT, as Ctrl-C, on which buildx cancels the build
    on the builder. Returns the exit code, the stream and whether it was stopped. A test
    whose property is that some step RUNS needs the build no further than that step."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(env) if env is not None else None,
    )
    watchdog = threading.Timer(BUILD_TIMEOUT, process.kill)
    watchdog.start()
    lines: list[str] = []
    vertices: dict[str, Vertex] = {}  # merged update by update, as they come
    stopped = False
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if stopped or not ends_an_update(line):
                continue
            try:
                update = json.loads(line)
            except json.JSONDecodeError:
                continue  # not one update per line: buildx older than 0.36
            merge_vertices([update], vertices)
            if stop_when(steps_of(vertices.values())):
                process.send_signal(signal.SIGINT)
                stopped = True
                # A command that ignores SIGINT (it may have inherited that) is killed.
                watchdog.cancel()
                watchdog = threading.Timer(STOP_GRACE, process.kill)
                watchdog.start()
        code = process.wait()
    finally:
        watchdog.cancel()
    return code, "".join(lines), stopped


def ends_an_update(line: str) -> bool:
    """Whether a line of a rawjson stream ends one update: buildx 0.36 prints each on
    one line, older releases (0.13, the recordings') indented, ending in a bare "}"."""
    return line.startswith(("{", "}")) and line.rstrip().endswith("}")


def finished(*steps: tuple[str, str]) -> Callable[[StepTable], bool]:
    """A `stop_when`: each of these steps (dockerfile_steps names) is in the table, and
    each has run to its end or come from the cache."""

    def holds(table: StepTable) -> bool:
        found = [table.find(stage, text) for stage, text in steps]
        return all(found) and all(s.status == CACHED or s.finished for f in found for s in f)

    return holds


def registry_cache(ref: str, mode: str | None = None) -> str:
    """The --cache-to value the generated pipeline uses (its options read from the
    template's .gitlab-ci.yml), for a ref, optionally with another mode."""
    options = cache_to_options()
    if mode is not None:
        options, count = re.subn(r"\bmode=\w+", f"mode={mode}", options)
        assert count == 1, f"the pipeline's cache options name no mode: {options}"
    return f"type=registry,ref={ref},{options}"


def running(*steps: tuple[str, str]) -> Callable[[StepTable], bool]:
    """A `stop_when`: each of these steps is in the table, started and not served by the
    cache (step_table.classify's *executed*), whether or not it has ended."""

    def holds(table: StepTable) -> bool:
        found = [table.find(stage, text) for stage, text in steps]
        return all(found) and all(s.status == EXECUTED for f in found for s in f)

    return holds
