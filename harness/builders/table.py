"""The three builders, one row each: how the render tier reads a builder's build
command line into a `BuildRequest`, which class runs its job in the Docker tier, and
which benchmark variant builds with it.

The dind job needs no job class: the Docker tier builds its requests with a buildx
`Builder` (harness.builders.buildx), as the job's own buildx does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.builders.rootless import RootlessJob
from harness.builders.shared import SharedJob
from harness.ci.build_request import BuildRequest, from_buildctl, from_buildx


@dataclass(frozen=True)
class BuilderRow:
    name: str  # the template's `builder` choice
    build_command: str  # the command the job's build line runs (stubbed by the render tier)
    subcommand: tuple[str, ...]  # its arguments before the build's own flags
    parse: Callable[[Sequence[str]], BuildRequest]
    docker_job: type[RootlessJob] | None  # runs the job in the Docker tier; None: buildx
    bench_variant: str  # the key of the benchmark variant that builds with it (bench/plan.py)

    def request(self, args: Sequence[str]) -> BuildRequest:
        """The build asked for by the build command's arguments (`args`, as its stub
        printed them)."""
        head = list(args[: len(self.subcommand)])
        assert head == list(self.subcommand), f"{self.name}: {self.build_command} {head}"
        return self.parse(args[len(self.subcommand) :])


BUILDERS: dict[str, BuilderRow] = {
    row.name: row
    for row in (
        BuilderRow("dind", "docker", ("buildx", "build"), from_buildx, None, "a"),
        BuilderRow(
            "rootless", "buildctl-daemonless.sh", ("build",), from_buildctl, RootlessJob, "r"
        ),
        BuilderRow("shared", "docker", ("buildx", "build"), from_buildx, SharedJob, "s"),
    )
}
# The builders whose jobs the render tier compares with the dind job.
OTHER_THAN_DIND = tuple(name for name in BUILDERS if name != "dind")
