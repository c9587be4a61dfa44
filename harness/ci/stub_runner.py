"""Run a job's own shell script from a baked `.gitlab-ci.yml` under a POSIX shell,
with the variables GitLab would give it and stub commands that record their arguments.

This is how the render tier sees the exact command line each builder's job runs for
each kind of pipeline, without an engine: the stub named after the build command
(`docker` for the dind job, `buildctl-daemonless.sh` for the rootless one) prints its
arguments one per line, and every other stub records its argv to a file so a test can
check that no secret reached a command line.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.ci.ci_file import Job
from harness.ci.job_script import job_script
from harness.infra.policy import require_tool

# What the scripts see for GitLab's predefined variables unless a test says otherwise;
# the file's own variables (IMAGE_REPOSITORY: $CI_REGISTRY_IMAGE, ...) follow from them.
PREDEFINED = {
    "CI_COMMIT_REF_SLUG": "feature-x",
    "CI_COMMIT_SHA": "0123456789abcdef",
    "CI_COMMIT_SHORT_SHA": "01234567",
    "CI_REGISTRY": "reg.test",
    "CI_REGISTRY_IMAGE": "reg.test/g/p",
    "CI_REGISTRY_USER": "ci-user",
    "CI_REGISTRY_PASSWORD": "s3cret-Pa55",
}


REPORT = "cache report: "


@dataclass
class ScriptRun:
    returncode: int
    stdout: str
    stderr: str
    argv_log: str  # every recorded stub call, one argv per line

    @property
    def args(self) -> list[str]:
        """The build command's arguments, as its stub printed them."""
        return [line for line in self.stdout.splitlines() if not line.startswith(REPORT)]

    @property
    def report(self) -> list[str]:
        """The cache report's lines (ci/cache-report.awk), which follow the build."""
        return [line for line in self.stdout.splitlines() if line.startswith(REPORT)]


def run_job_script(
    job: Job,
    kind: str,
    workdir: Path,
    command: str,
    *,
    with_before_script: bool = False,
    trace: bool = False,
    build_output: Path | None = None,
    build_exit: int = 0,
    build_stub: str = "",
    **ci: str,
) -> ScriptRun:
    """Run `job`'s script (and before_script) as GitLab would in a `kind` pipeline
    ("default", "branch" or "tag"); `ci` sets predefined or project CI/CD variables
    beyond PREDEFINED. `command` is the build command whose stub prints its arguments
    (then runs the shell lines `build_stub`, prints `build_output`'s text, and exits
    with `build_exit`);
    the stubs `base64`, `tr`, `mkdir` and `wc` record their argv and then run the real
    tool."""
    sh = require_tool("sh")
    bin_dir = workdir / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    argv_log = workdir / "argv.log"
    # The build command's stub: its arguments, then (when given) a recorded build's
    # output, as the real command would print it, and its exit code.
    output = f'cat "{build_output}"\n' if build_output else ""
    (bin_dir / command).write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@"\n{build_stub}\n{output}exit {build_exit}\n',
        encoding="utf-8",
    )
    for tool in ("base64", "tr", "mkdir", "wc"):
        real = require_tool(tool)
        (bin_dir / tool).write_text(
            f'#!/bin/sh\nprintf "%s " "$0" "$@" >>"{argv_log}"\necho >>"{argv_log}"\n'
            f'exec {real} "$@"\n',
            encoding="utf-8",
        )
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    # What the job reads from its checkout: the cache report's program.
    checkout_ci = job.ci.path.parent / "ci"
    if checkout_ci.is_dir():
        shutil.copytree(checkout_ci, workdir / "ci", dirs_exist_ok=True)
    script = job_script(job, kind, PREDEFINED, ci, with_before_script=with_before_script)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(workdir / "home"), **script.variables}
    flags = ["-x"] if trace else []
    result = subprocess.run(
        [sh, *flags, "-c", script.text],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    log = argv_log.read_text(encoding="utf-8") if argv_log.exists() else ""
    return ScriptRun(result.returncode, result.stdout, result.stderr, log)
