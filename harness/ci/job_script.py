"""ONE assembly of a job's shell script, shared by everything that runs one: the
render tier's stub-command runner (`harness.ci.stub_runner`) and the Docker tier's
container runners (`harness.builders.rootless.RootlessJob` and
`harness.builders.shared.SharedJob`). gitlab-ci-local (`harness.pipeline.emulator`)
does the same for the pipeline tier from the file itself.

`job_script(job, kind, predefined, project)` gives the variables GitLab hands the job
in a "default", "branch" or "tag" pipeline, layered as GitLab ranks them (predefined
variables, then the file's global variables, the job's, the rule's, and the project's
CI/CD variables on top) and then expanded, with the lines its shell runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.ci.ci_file import Job, resolve


@dataclass(frozen=True)
class JobScript:
    variables: dict[str, str]
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The script as one shell program."""
        return "\n".join(self.lines)


def job_script(
    job: Job,
    kind: str,
    predefined: Mapping[str, str],
    project: Mapping[str, str] | None = None,
    *,
    with_before_script: bool = True,
) -> JobScript:
    """What GitLab runs for `job` in a `kind` pipeline; `project` holds CI/CD variables
    set in the project's settings, which win over the file's."""
    merged = {
        **predefined,
        **job.ci.variables,
        **job.variables,
        **job.rule_variables(kind),
        **(project or {}),
    }
    return JobScript(resolve(merged), tuple(job.lines(with_before_script=with_before_script)))
